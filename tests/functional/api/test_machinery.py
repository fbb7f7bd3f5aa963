"""The API machinery without servers: microversions, body and query validation,
routing, faults, the OpenAPI document, policy defaults, image probing."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from nubis.core import exception
from nubis.core.api import exception as api_exception
from nubis.core.api import faults, microversion, openapi, policies, validation
from nubis.core.api import image_registry as image_api
from nubis.core.api.faults import Fault
from nubis.core.api.microversion import APIVersion
from nubis.core.api.resources import servers
from nubis.core.api.routing import Route, Router

# --- microversions -----------------------------------------------------------------------


def test_versions_compare_numerically() -> None:
    assert APIVersion.parse("2.10") > APIVersion.parse("2.9")
    assert APIVersion.parse("2.60") == "2.60"
    assert APIVersion.parse("2.25").matches("2.25", "2.29")
    assert not APIVersion.parse("2.30").matches("2.25", "2.29")
    assert APIVersion.parse("2.1").matches(None, None)
    with pytest.raises(ValueError, match="2.30"):
        APIVersion.parse("2.x")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "2.1"),
        ({"OpenStack-API-Version": "compute 2.30"}, "2.30"),
        ({"OpenStack-API-Version": "volume 3.5, compute 2.25"}, "2.25"),
        ({"OpenStack-API-Version": "compute latest"}, str(microversion.MAX_VERSION)),
        ({"X-OpenStack-Nova-API-Version": "2.11"}, "2.11"),
        ({"OpenStack-API-Version": "volume 3.5", "X-OpenStack-Nova-API-Version": "2.3"}, "2.3"),
    ],
)
def test_requested_version(headers: dict[str, str], expected: str) -> None:
    assert str(microversion.requested(headers)) == expected


def test_bad_and_unsupported_versions_name_the_header_and_range() -> None:
    with pytest.raises(api_exception.InvalidMicroversion, match="OpenStack-API-Version") as bad:
        microversion.requested({"OpenStack-API-Version": "compute two"})
    assert bad.value.code == 400
    with pytest.raises(api_exception.UnsupportedMicroversion, match="maximum is 2.60") as high:
        microversion.requested({"OpenStack-API-Version": "compute 2.99"})
    assert high.value.code == 406


# --- body validation -----------------------------------------------------------------------


def _message(schema: dict[str, Any], body: Any) -> str:
    with pytest.raises(Fault) as raised:
        validation.validate(schema, body)
    assert raised.value.status == 400
    return raised.value.message


CREATE = servers.CREATE_BODIES[-1].schema


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"server": {"name": "a", "networks": "none"}}, "server.flavorRef"),
        ({"server": {"flavorRef": "1", "networks": "none"}}, "server.name"),
        ({"server": {"name": "a", "flavorRef": "1"}}, "server.networks"),
        (
            {"server": {"name": "a", "flavorRef": "1", "networks": "none", "colour": "k"}},
            "server.colour",
        ),
        (
            {"server": {"name": "a", "flavorRef": "1", "networks": "none", "min_count": 0}},
            "server.min_count",
        ),
        ({"server": {"name": " a", "flavorRef": "1", "networks": "none"}}, "server.name"),
        (
            {"server": {"name": "a", "flavorRef": "1", "networks": [{"uuid": "x"}]}},
            "server.networks",
        ),
        ({}, "server"),
        ([], "body"),
    ],
)
def test_bad_bodies_name_the_field(body: Any, field: str) -> None:
    message = _message(CREATE, body)
    assert f"field/attribute {field}" in message, message


def test_nova_style_booleans_and_digit_strings_are_accepted() -> None:
    validation.validate(
        CREATE, {"server": {"name": "a", "flavorRef": 1, "networks": "auto", "min_count": "2"}}
    )
    assert validation.to_bool("True") and validation.to_bool("yes")
    assert not validation.to_bool("false") and not validation.to_bool(False)


def test_query_parameters_are_typed_and_refused_with_the_name() -> None:
    declared = {
        "limit": validation.Query("integer", minimum=0),
        "all_tenants": validation.Query("boolean"),
        "changes-since": validation.Query("datetime"),
        "sort_key": validation.Query("enum", choices=("a", "b"), multi=True),
    }
    args = MultiDict(
        [
            ("limit", "5"),
            ("all_tenants", "True"),
            ("changes-since", "2024-01-02T03:04:05Z"),
            ("sort_key", "a"),
            ("sort_key", "b"),
            ("unknown", "x"),
        ]
    )
    parsed = validation.parse_query(declared, args)
    assert parsed["limit"] == 5 and parsed["all_tenants"] is True
    assert parsed["sort_key"] == ["a", "b"] and "unknown" not in parsed
    assert parsed["changes-since"].year == 2024 and parsed["changes-since"].tzinfo is None
    for name, value in (
        ("limit", "x"),
        ("limit", "-1"),
        ("all_tenants", "maybe"),
        ("changes-since", "yesterday"),
        ("sort_key", "c"),
    ):
        with pytest.raises(Fault) as raised:
            validation.parse_query(declared, MultiDict([(name, value)]))
        assert raised.value.status == 400 and f"query parameter {name}" in raised.value.message


# --- routing and faults ----------------------------------------------------------------


def _route(method: str, path: str, **kwargs: Any) -> Route:
    return Route(method, path, lambda req, **kw: None, "test", **kwargs)


def test_router_matches_by_path_method_and_microversion() -> None:
    router = Router(
        [
            _route("GET", "/v2.1/things", max_version="2.52"),
            _route("GET", "/v2.1/things/{thing_id}"),
            _route("PUT", "/v2.1/things/{thing_id}", min_version="2.53"),
            _route("POST", "/v2.1/things/{thing_id}/action", action="go"),
            _route("POST", "/v2.1/things/{thing_id}/action", action="stop"),
        ]
    )

    def at(version: str) -> Any:
        return lambda routes: APIVersion.parse(version)

    routes, args, _ = router.match("/v2.1/things/42/", "GET", at("2.1"))
    assert args == {"thing_id": "42"} and routes[0].path.endswith("{thing_id}")
    with pytest.raises(Fault) as missing:
        router.match("/v2.1/things", "GET", at("2.53"))
    assert missing.value.status == 404 and "microversion 2.53" in missing.value.message
    with pytest.raises(Fault) as method:
        router.match("/v2.1/things/42", "DELETE", at("2.1"))
    assert method.value.status == 405 and ("Allow", "GET, HEAD, PUT") in method.value.headers
    # a trailing slash names an item with an empty id, which does not exist (Nova's 404)
    with pytest.raises(Fault) as blank:
        router.match("/v2.1/things/", "DELETE", at("2.1"))
    assert blank.value.status == 404 and "empty id" in blank.value.message
    # so does a GET of a collection that also serves "<collection>/{id}" (Nova's routes
    # never match an empty segment); a GET of an item with a trailing slash is the item
    with pytest.raises(Fault) as empty:
        router.match("/v2.1/things/", "GET", at("2.1"))
    assert empty.value.status == 404 and "GET of an empty id" in empty.value.message
    with pytest.raises(Fault) as nothing:
        router.match("/v2.1/nothing", "GET", at("2.1"))
    assert nothing.value.status == 404
    actions, _, _ = router.match("/v2.1/things/1/action", "POST", at("2.1"))
    assert Router.pick_action(actions, {"stop": None}).action == "stop"
    with pytest.raises(Fault, match="no such action: fly"):
        Router.pick_action(actions, {"fly": None})
    with pytest.raises(Fault, match="exactly one key"):
        Router.pick_action(actions, {"go": None, "stop": None})


def test_faults_use_novas_names_and_hide_unexpected_errors() -> None:
    assert faults.body(404, "gone") == {"itemNotFound": {"code": 404, "message": "gone"}}
    assert faults.body(409, "busy") == {"conflictingRequest": {"code": 409, "message": "busy"}}
    fault = faults.from_exception(exception.InstanceNotFound(instance_id="x"))
    assert (fault.status, fault.message) == (404, "instance x could not be found")
    hidden = faults.from_exception(KeyError("secret detail"))
    assert hidden.status == 500 and "secret" not in hidden.message and "KeyError" in hidden.message


# --- OpenAPI, policy, images --------------------------------------------------------------


def test_openapi_document_describes_every_route() -> None:
    routes = [
        _route(
            "GET", "/v2.1/things", query={"limit": validation.Query("integer")}, policy="p:list"
        ),
        _route(
            "POST",
            "/v2.1/things/{thing_id}/action",
            action="go",
            status=202,
            bodies=(servers.BodySchema({"type": "object"}),),
        ),
        _route("GET", "/", public=True, api="meta"),
    ]
    document = openapi.document(routes)
    listing = document["paths"]["/v2.1/things"]["get"]
    assert listing["x-policy"] == ["p:list"] and listing["security"] == [{"token": []}]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "OpenStack-API-Version"}
    action = document["paths"]["/v2.1/things/{thing_id}/action"]["post"]
    assert "202" in action["responses"] and "requestBody" in action
    assert document["paths"]["/"]["get"]["security"] == []


def test_policy_defaults_are_registered_once_each() -> None:
    rules = policies.list_rules()
    names = [rule.name for rule in rules]
    assert len(names) == len(set(names))
    admin_only = {rule.name for rule in rules if rule.check_str == policies.ADMIN}
    assert {
        policies.MIGRATE_LIVE,
        policies.HYPERVISORS_LIST,
        policies.SERVICES_UPDATE,
        policies.MIGRATIONS_INDEX,
    } <= admin_only


def _qcow2(path: Any, size: int, backing: bool = False, encrypted: bool = False) -> None:
    header = bytearray(104)
    struct.pack_into(">4sIQI", header, 0, b"QFI\xfb", 3, 104 if backing else 0, 4 if backing else 0)
    struct.pack_into(">Q", header, 24, size)
    struct.pack_into(">I", header, 32, 1 if encrypted else 0)
    path.write_bytes(bytes(header) + (b"base" if backing else b""))


def test_image_probe(tmp_path: Any) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(b"\1" * 4096)
    assert image_api.probe(str(raw)) == ("raw", 4096)
    qcow = tmp_path / "q"
    _qcow2(qcow, 10 * 1024**3)
    assert image_api.probe(str(qcow)) == ("qcow2", 10 * 1024**3)
    _qcow2(qcow, 1024, backing=True)
    with pytest.raises(exception.InvalidImage, match="backing file"):
        image_api.probe(str(qcow))
    _qcow2(qcow, 1024, encrypted=True)
    with pytest.raises(exception.InvalidImage, match="encrypted"):
        image_api.probe(str(qcow))
