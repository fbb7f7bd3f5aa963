"""Bad requests get a 400 (or 413/415) whose message names the field and what is wrong,
in Nova's fault format; semantic refusals name the resource."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.conftest import Cloud

SERVER = {"name": "v", "flavorRef": "m1.tiny", "networks": "none"}
MIGRATE = {"host": None, "block_migration": "auto"}
BY_HOST = {"host": "cmp2", "binary": "nubis-compute"}


def _server(**changes: Any) -> dict[str, Any]:
    body = {**SERVER, **changes}
    return {"server": {k: v for k, v in body.items() if v is not ...}}


BODIES = [
    # (persona, method, path, version, body, field named in the message)
    ("alice", "POST", "/v2.1/servers", "2.60", _server(flavorRef=...), "server.flavorRef"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(networks=...), "server.networks"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(min_count=0), "server.min_count"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(name=""), "server.name"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(user_data="x"), "server.user_data"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(flavorRef="nope"), "server.flavorRef"),
    ("alice", "POST", "/v2.1/servers", "2.60", _server(imageRef="nope"), "server.imageRef"),
    (
        "alice",
        "POST",
        "/v2.1/servers",
        "2.60",
        _server(min_count=3, max_count=2),
        "server.max_count",
    ),
    (
        "alice",
        "POST",
        "/v2.1/servers",
        "2.60",
        _server(availability_zone="mars"),
        "server.availability_zone",
    ),
    (
        "alice",
        "POST",
        "/v2.1/servers",
        "2.60",
        _server(block_device_mapping_v2=[{"uuid": "x", "source_type": "volume"}]),
        "server.block_device_mapping_v2[0].source_type",
    ),
    ("alice", "POST", "/v2.1/servers", "2.60", {"server": "x"}, "server"),
    (
        "alice",
        "POST",
        "/v2.1/servers/{server}/action",
        "2.60",
        {"reboot": {"type": "GENTLE"}},
        "reboot.type",
    ),
    ("alice", "POST", "/v2.1/servers/{server}/action", "2.60", {"reboot": {}}, "reboot.type"),
    ("alice", "POST", "/v2.1/servers/{server}/action", "2.60", {"os-stop": {"x": 1}}, "os-stop"),
    (
        "admin",
        "POST",
        "/v2.1/servers/{server}/action",
        "2.60",
        {"os-migrateLive": {"block_migration": "auto"}},
        "os-migrateLive.host",
    ),
    (
        "admin",
        "POST",
        "/v2.1/servers/{server}/action",
        "2.60",
        {"os-migrateLive": {**MIGRATE, "block_migration": "sometimes"}},
        "os-migrateLive.block_migration",
    ),
    (
        "admin",
        "POST",
        "/v2.1/servers/{server}/action",
        "2.1",
        {"os-migrateLive": {"host": None, "block_migration": False}},
        "os-migrateLive.disk_over_commit",
    ),
    (
        "admin",
        "POST",
        "/v2.1/servers/{server}/action",
        "2.60",
        {"os-migrateLive": {**MIGRATE, "host": "nowhere"}},
        "nowhere",
    ),
    (
        "admin",
        "POST",
        "/v2.1/flavors",
        "2.60",
        {"flavor": {"name": "f", "ram": "lots", "vcpus": 1, "disk": 1}},
        "flavor.ram",
    ),
    (
        "admin",
        "POST",
        "/v2.1/flavors",
        "2.60",
        {"flavor": {"name": "f", "ram": 1, "vcpus": 0, "disk": 1}},
        "flavor.vcpus",
    ),
    (
        "admin",
        "POST",
        "/v2.1/flavors",
        "2.54",
        {"flavor": {"name": "f", "ram": 1, "vcpus": 1, "disk": 1, "description": "d"}},
        "flavor.description",
    ),
    ("admin", "PUT", "/v2.1/os-services/disable", "2.52", {"host": "cmp2"}, "binary"),
    (
        "admin",
        "PUT",
        "/v2.1/os-services/force-down",
        "2.52",
        {**BY_HOST, "forced_down": "perhaps"},
        "forced_down",
    ),
    ("admin", "PUT", "/v2.1/os-services/{service}", "2.60", {"status": "sleeping"}, "status"),
    (
        "admin",
        "PUT",
        "/v2.1/os-services/{service}",
        "2.60",
        {"status": "enabled", "disabled_reason": "x"},
        "disabled_reason",
    ),
]


@pytest.fixture(scope="module")
def ids(cloud: Cloud) -> dict[str, str]:
    server = cloud.boot("alice", name="validation")
    services = cloud.client("admin", "2.60").get("/v2.1/os-services?host=cmp2").json()
    yield {"server": server, "service": services["services"][0]["id"]}
    cloud.delete_all_servers()


@pytest.mark.parametrize(("persona", "method", "path", "version", "body", "field"), BODIES)
def test_bad_body_names_the_field(
    cloud: Cloud,
    ids: dict[str, str],
    persona: str,
    method: str,
    path: str,
    version: str,
    body: Any,
    field: str,
) -> None:
    response = cloud.client(persona, version).request(method, path.format(**ids), body)
    assert response.status_code == 400, response.text
    message = response.json()["badRequest"]["message"]
    assert field in message, message


def test_unknown_action_lists_the_known_ones(cloud: Cloud, ids: dict[str, str]) -> None:
    response = cloud.client("alice").post(f"/v2.1/servers/{ids['server']}/action", {"fly": 1})
    assert response.status_code == 400
    assert "no such action: fly" in response.text and "os-start" in response.text


def test_malformed_json_wrong_type_and_oversized_bodies(cloud: Cloud) -> None:
    alice = cloud.client("alice")
    bad = alice.post(
        "/v2.1/servers", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (
        bad.status_code == 400 and "Malformed request body" in bad.json()["badRequest"]["message"]
    )
    typed = alice.post("/v2.1/servers", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert typed.status_code == 415 and "badMediaType" in typed.json()
    huge = alice.post("/v2.1/servers", {"server": {"name": "x" * 200000}})
    assert huge.status_code == 413 and "overLimit" in huge.json()


def test_bad_query_parameters_name_the_parameter(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.38")
    for query, name in (
        ("limit=many", "limit"),
        ("changes-since=yesterday", "changes-since"),
        ("status=SLEEPING", "status"),  # from 2.38; an empty list before (Nova)
        ("sort_key=password", "sort_key"),
    ):
        response = alice.get(f"/v2.1/servers/detail?{query}")
        assert response.status_code == 400, response.text
        assert f"query parameter {name}" in response.json()["badRequest"]["message"]
    marker = alice.get("/v2.1/servers?marker=00000000-0000-0000-0000-000000000000")
    assert marker.status_code == 400 and "marker" in marker.text


def test_unknown_ids_and_bad_versions(cloud: Cloud) -> None:
    alice = cloud.client("alice")
    missing = alice.get("/v2.1/servers/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "itemNotFound" in missing.json()
    assert alice.get("/v2.1/nothing").status_code == 404
    method = alice.request("PATCH", "/v2.1/servers")
    assert method.status_code == 405 and "badMethod" in method.json()
    assert "Allow" in method.headers
    bad = alice.get("/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.x"})
    assert bad.status_code == 400
    high = alice.get("/v2.1/servers", headers={"OpenStack-API-Version": "compute 2.61"})
    assert high.status_code == 406 and "maximum is 2.60" in high.text
    versioned = cloud.client("alice", "2.20").get("/v2.1/servers")
    assert versioned.headers["OpenStack-API-Version"] == "compute 2.20"
    assert versioned.headers["X-OpenStack-Nova-API-Version"] == "2.20"
    assert versioned.headers["x-openstack-request-id"].startswith("req-")
    early = cloud.client("admin", "2.22").get("/v2.1/servers/x/migrations")
    assert early.status_code == 404 and "microversion 2.22" in early.text


def test_state_conflicts_are_409(cloud: Cloud, ids: dict[str, str]) -> None:
    response = cloud.client("alice").post(
        f"/v2.1/servers/{ids['server']}/action", {"os-start": None}
    )
    assert response.status_code == 409
    assert "conflictingRequest" in response.json() and "stopped" in response.text
