"""The Identity v3 front's pure parts, without a server: routing, query flags, request
schemas, response shapes and the OpenAPI description."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from nubis.core.api.faults import Fault
from nubis.core.api.identity_admin import Assignment, Role
from nubis.core.api.validation import validate
from nubis.plugins.api_auth.local import v3_api, v3_schemas, v3_views
from nubis.plugins.api_auth.local.errors import KeystoneError


class _Host:
    store = SimpleNamespace(context=None)

    def validate(self, token: str) -> dict[str, Any]:
        raise AssertionError("no token is checked by these tests")

    def read_json(self, request: Any) -> Any:
        return None

    def forget_state(self) -> None:
        pass

    def check_address(self, request: Any, check: Any) -> None:
        check()


@pytest.fixture
def api() -> v3_api.V3API:
    return v3_api.V3API(_Host())


def _request(method: str, path: str, query: str = "") -> Request:
    return Request(EnvironBuilder(method=method, path=path, query_string=query).get_environ())


@pytest.mark.parametrize(
    ("path", "ids", "methods"),
    [
        ("/identity/v3/projects", [], {"GET", "POST"}),
        ("/identity/v3/projects/p1", ["p1"], {"GET", "PATCH", "DELETE"}),
        ("/identity/v3/projects/p1/users/u1/roles", ["p1", "u1"], {"GET"}),
        ("/identity/v3/projects/p1/users/u1/roles/r", ["p1", "u1", "r"], {"GET", "PUT", "DELETE"}),
        ("/identity/v3/users/u1/password", ["u1"], {"POST"}),
        ("/identity/v3/role_assignments", [], {"GET"}),
        ("/identity/v3/auth/projects", [], {"GET"}),
    ],
)
def test_routes(api: v3_api.V3API, path: str, ids: list[str], methods: set[str]) -> None:
    found = api.route(path)
    assert found is not None
    assert set(found[0]) == methods and found[1] == ids


@pytest.mark.parametrize(
    "path",
    ["/identity/v3/groups", "/identity/v3/projects/", "/identity/v3/users/u/roles", "/v3/users"],
)
def test_paths_not_ours(api: v3_api.V3API, path: str) -> None:
    assert api.route(path) is None
    assert api.serve(_request("GET", path), "http://h", path) is None


def test_a_wrong_method_names_the_allowed_ones(api: v3_api.V3API) -> None:
    path = "/identity/v3/roles/member"
    with pytest.raises(KeystoneError) as error:
        api.serve(_request("PATCH", path), "http://h", path)
    assert error.value.status == 405 and error.value.title == "Method Not Allowed"
    assert "allowed: DELETE, GET, HEAD" in error.value.message


@pytest.mark.parametrize(
    ("query", "flag", "enabled"),
    [
        ("", False, None),
        ("effective&enabled", True, True),
        ("effective=1&enabled=true", True, True),
        ("effective=True&enabled=1", True, True),
        ("effective=false&enabled=False", False, False),
        ("effective=0&enabled=0", False, False),
    ],
)
def test_query_flags(query: str, flag: bool, enabled: bool | None) -> None:
    request = _request("GET", "/", query)
    assert v3_api._flag(request, "effective") is flag
    assert v3_api._enabled_filter(request) is enabled


def test_a_bad_enabled_filter_is_a_400() -> None:
    with pytest.raises(KeystoneError) as error:
        v3_api._enabled_filter(_request("GET", "/", "enabled=perhaps"))
    assert error.value.status == 400 and "'enabled'" in error.value.message


@pytest.mark.parametrize(
    ("schema", "body", "field"),
    [
        (v3_schemas.PROJECT_CREATE, {"project": {"name": "p", "parent_id": "x"}}, "parent_id"),
        (v3_schemas.PROJECT_UPDATE, {"project": {}}, "project"),
        (v3_schemas.USER_CREATE, {"user": {"name": "u", "options": {"a": 1}}}, "options"),
        (
            v3_schemas.PASSWORD_CHANGE,
            {"user": {"password": "", "original_password": "x"}},
            "password",
        ),
        (v3_schemas.ROLE_CREATE, {"role": {"name": "r", "domain_id": "default"}}, "domain_id"),
    ],
)
def test_schemas_refuse_naming_the_field(schema: Any, body: Any, field: str) -> None:
    with pytest.raises(Fault) as fault:
        validate(schema, body)
    assert fault.value.status == 400 and field in fault.value.message


def test_schemas_accept_keystone_bodies() -> None:
    validate(
        v3_schemas.PROJECT_CREATE,
        {
            "project": {
                "name": "p",
                "domain_id": "default",
                "parent_id": None,
                "is_domain": False,
                "enabled": True,
                "description": None,
                "options": {},
                "tags": ["t"],
                "anything": {"else": 1},
            }
        },
    )
    validate(v3_schemas.USER_CREATE, {"user": {"name": "u", "password": None, "email": None}})


def test_assignment_shapes() -> None:
    direct = v3_views.assignment(Assignment("u1", "p1", "member"), "http://h")
    assert direct == {
        "role": {"id": "member"},
        "user": {"id": "u1"},
        "scope": {"project": {"id": "p1"}},
        "links": {"assignment": "http://h/identity/v3/projects/p1/users/u1/roles/member"},
    }
    names = {"users": {"u1": "alice"}, "projects": {"p1": "proj"}}
    implied = v3_views.assignment(Assignment("u1", "p1", "reader", "member"), "http://h", names)
    assert implied["links"]["assignment"].endswith("/roles/member")
    assert implied["links"]["prior_role"] == "http://h/identity/v3/roles/member"
    assert implied["role"] == {"id": "reader", "name": "reader"}
    assert implied["user"]["name"] == "alice" and implied["scope"]["project"]["name"] == "proj"


def test_role_shape() -> None:
    body = v3_views.role(Role("member"), "http://h")
    assert body["id"] == body["name"] == "member" and body["domain_id"] is None


def test_openapi_describes_every_route(api: v3_api.V3API) -> None:
    paths = api.openapi_paths()
    assert len(paths) == len(api.routes)
    operations = [op for path in paths.values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    grant = paths["/identity/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"]
    assert set(grant) == {"get", "put", "delete"}
    assert "requestBody" in paths["/identity/v3/users"]["post"]
    assert paths["/identity/v3/users/{user_id}/password"]["post"]["security"] == []
