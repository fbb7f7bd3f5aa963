"""Authentication and policy for every route: anonymous, a member of project A (alice),
a member of project B (bob) and an administrator.

The kinds of route:

* PUBLIC — everyone gets the answer (version documents, the OpenAPI document);
* ANY — anonymous is 401, every authenticated caller succeeds;
* ADMIN — anonymous 401, members 403, the administrator succeeds;
* OWNER — on a server of project A: anonymous 401, alice succeeds, bob gets 404 (the
  server does not exist for him), the administrator succeeds;
* OWNER_ADMIN — on a server of project A, for administrators only: anonymous 401,
  alice 403, bob 404, the administrator succeeds.

"Succeeds" means the route's success status. :data:`CASES` must name every route the
API serves (a new route without a case fails :func:`test_every_route_has_a_case`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud, wait_for

PERSONAS = (None, "alice", "bob", "admin")
EXPECTED = {
    "PUBLIC": {None: "ok", "alice": "ok", "bob": "ok", "admin": "ok"},
    "ANY": {None: 401, "alice": "ok", "bob": "ok", "admin": "ok"},
    "ADMIN": {None: 401, "alice": 403, "bob": 403, "admin": "ok"},
    "OWNER": {None: 401, "alice": "ok", "bob": 404, "admin": "ok"},
    "OWNER_ADMIN": {None: 401, "alice": 403, "bob": 404, "admin": "ok"},
}


@dataclasses.dataclass
class Case:
    """One route: how to call it as a persona and which kind it is.

    ``call(cloud, persona, succeed)`` returns (path, body); *succeed* is True when the
    persona is expected to succeed (the case then prepares a fresh resource if the
    call changes one).
    """

    method: str
    path: str
    kind: str
    call: Callable[[Cloud, str | None, bool], tuple[str, Any]]
    ok: int = 200
    version: str = "2.60"
    action: str | None = None


class Servers:
    """Servers of project A the cases act on, made on demand."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._shared: str | None = None

    def shared(self) -> str:
        """An ACTIVE server of alice's that no case changes."""
        if self._shared is None:
            self._shared = self.cloud.boot("alice", name="matrix-shared")
        return self._shared

    def fresh(self, status: str = "ACTIVE") -> str:
        server_id = self.cloud.boot("alice", name=f"matrix-{uuid.uuid4().hex[:6]}")
        if status == "SHUTOFF":
            response = self.cloud.client("alice").post(
                f"/v2.1/servers/{server_id}/action", {"os-stop": None}
            )
            assert response.status_code == 202, response.text
            self.cloud.wait_status(server_id, "SHUTOFF")
        return server_id


def _static(path: str, body: Any = None) -> Callable[[Cloud, str | None, bool], tuple[str, Any]]:
    return lambda cloud, persona, succeed: (path, body)


def make_cases(servers: Servers) -> list[Case]:
    def server_path(suffix: str = "", fresh_status: str | None = None) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = (
                servers.fresh(fresh_status) if succeed and fresh_status else servers.shared()
            )
            return f"/v2.1/servers/{server_id}{suffix}", None

        return call

    def action(body: Any, fresh_status: str | None = "ACTIVE") -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = (
                servers.fresh(fresh_status) if succeed and fresh_status else servers.shared()
            )
            return f"/v2.1/servers/{server_id}/action", body

        return call

    def live_migrate(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        return f"/v2.1/servers/{server_id}/action", body

    def running_migration(suffix: str) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            if not succeed:
                return f"/v2.1/servers/{servers.shared()}/migrations{suffix.format(mid=1)}", None
            server_id = servers.fresh()
            admin = cloud.client("admin", "2.60")
            response = admin.post(
                f"/v2.1/servers/{server_id}/action",
                {"os-migrateLive": {"host": None, "block_migration": "auto"}},
            )
            assert response.status_code == 202, response.text
            running = wait_for(
                lambda: [
                    m
                    for m in admin.get(f"/v2.1/servers/{server_id}/migrations").json()["migrations"]
                    if m["status"] == "running"
                ],
                what="a running live migration",
            )
            return (
                f"/v2.1/servers/{server_id}/migrations{suffix.format(mid=running[0]['id'])}",
                None,
            )

        return call

    def instance_action(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.shared()
        actions = cloud.client("admin").get(f"/v2.1/servers/{server_id}/os-instance-actions")
        request_id = actions.json()["instanceActions"][-1]["request_id"]
        return f"/v2.1/servers/{server_id}/os-instance-actions/{request_id}", None

    def create_server(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        body = {
            "server": {
                "name": "matrix-new",
                "flavorRef": cloud.flavor_id,
                "imageRef": cloud.image_id,
                "networks": "none",
            }
        }
        return "/v2.1/servers", body

    def create_flavor(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        name = f"matrix-{uuid.uuid4().hex[:8]}"
        return "/v2.1/flavors", {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 0}}

    def delete_flavor(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        flavor_id = f"matrix-{uuid.uuid4().hex[:8]}"
        response = cloud.client("admin").post(
            "/v2.1/flavors",
            {"flavor": {"name": flavor_id, "id": flavor_id, "ram": 64, "vcpus": 1, "disk": 0}},
        )
        assert response.status_code == 200, response.text
        return f"/v2.1/flavors/{flavor_id}", None

    def hypervisor(suffix: str = "", version: str = "2.53") -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            listing = cloud.client("admin", version).get("/v2.1/os-hypervisors").json()
            return f"/v2.1/os-hypervisors/{listing['hypervisors'][0]['id']}{suffix}", None

        return call

    def service_by_uuid(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        services = cloud.client("admin", "2.60").get("/v2.1/os-services?host=cmp2").json()
        return f"/v2.1/os-services/{services['services'][0]['id']}", {"status": "enabled"}

    by_host = {"host": "cmp2", "binary": "nubis-compute"}
    image = "/image/v2/images/{image}"
    return [
        Case("GET", "/", "PUBLIC", _static("/")),
        Case("GET", "/v2.1", "PUBLIC", _static("/v2.1")),
        Case("GET", "/openapi.json", "PUBLIC", _static("/openapi.json")),
        Case("GET", "/image", "PUBLIC", _static("/image")),
        Case("GET", "/image/v2/images", "ANY", _static("/image/v2/images")),
        Case(
            "GET",
            "/image/v2/images/{image_id}",
            "ANY",
            lambda cloud, p, s: (image.format(image=cloud.image_id), None),
        ),
        Case("GET", "/v2.1/servers", "ANY", _static("/v2.1/servers")),
        Case("GET", "/v2.1/servers/detail", "ANY", _static("/v2.1/servers/detail")),
        Case("POST", "/v2.1/servers", "ANY", create_server, ok=202),
        Case("GET", "/v2.1/servers/{server_id}", "OWNER", server_path()),
        Case(
            "DELETE",
            "/v2.1/servers/{server_id}",
            "OWNER",
            server_path(fresh_status="ACTIVE"),
            ok=204,
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"os-start": None}, "SHUTOFF"),
            ok=202,
            action="os-start",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"os-stop": None}),
            ok=202,
            action="os-stop",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"reboot": {"type": "SOFT"}}),
            ok=202,
            action="reboot",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER_ADMIN",
            live_migrate,
            ok=202,
            action="os-migrateLive",
        ),
        Case(
            "GET", "/v2.1/servers/{server_id}/migrations", "OWNER_ADMIN", server_path("/migrations")
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/migrations/{migration_id}",
            "OWNER_ADMIN",
            running_migration("/{mid}"),
        ),
        Case(
            "DELETE",
            "/v2.1/servers/{server_id}/migrations/{migration_id}",
            "OWNER_ADMIN",
            running_migration("/{mid}"),
            ok=202,
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/os-instance-actions",
            "OWNER",
            server_path("/os-instance-actions"),
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
            "OWNER",
            instance_action,
        ),
        Case("GET", "/v2.1/flavors", "ANY", _static("/v2.1/flavors")),
        Case("GET", "/v2.1/flavors/detail", "ANY", _static("/v2.1/flavors/detail")),
        Case("GET", "/v2.1/flavors/{flavor_id}", "ANY", _static("/v2.1/flavors/m1.tiny")),
        Case(
            "GET",
            "/v2.1/flavors/{flavor_id}/os-extra-specs",
            "ANY",
            _static("/v2.1/flavors/m1.tiny/os-extra-specs"),
        ),
        Case("POST", "/v2.1/flavors", "ADMIN", create_flavor),
        Case("DELETE", "/v2.1/flavors/{flavor_id}", "ADMIN", delete_flavor, ok=202),
        Case("GET", "/v2.1/os-hypervisors", "ADMIN", _static("/v2.1/os-hypervisors")),
        Case("GET", "/v2.1/os-hypervisors/detail", "ADMIN", _static("/v2.1/os-hypervisors/detail")),
        Case("GET", "/v2.1/os-hypervisors/{hypervisor_id}", "ADMIN", hypervisor()),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
            "ADMIN",
            hypervisor("/uptime"),
            ok=501,
        ),
        Case("GET", "/v2.1/os-services", "ADMIN", _static("/v2.1/os-services")),
        Case(
            "PUT",
            "/v2.1/os-services/disable",
            "ADMIN",
            _static("/v2.1/os-services/disable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/disable-log-reason",
            "ADMIN",
            _static(
                "/v2.1/os-services/disable-log-reason", {**by_host, "disabled_reason": "matrix"}
            ),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/enable",
            "ADMIN",
            _static("/v2.1/os-services/enable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/force-down",
            "ADMIN",
            _static("/v2.1/os-services/force-down", {**by_host, "forced_down": False}),
            version="2.52",
        ),
        Case("PUT", "/v2.1/os-services/{service_id}", "ADMIN", service_by_uuid),
        Case("GET", "/v2.1/os-migrations", "ADMIN", _static("/v2.1/os-migrations")),
        Case("GET", "/v2.1/os-aggregates", "ADMIN", _static("/v2.1/os-aggregates")),
    ]


def _key(method: str, path: str, action: str | None) -> tuple[str, str, str | None]:
    return (method, path, action)


def test_every_route_has_a_case(cloud: Cloud) -> None:
    served = {_key(r.method, r.path, r.action) for r in cloud.api.app.routes}
    covered = {_key(c.method, c.path, c.action) for c in make_cases(Servers(cloud))}
    assert served == covered


def _outcome(response: Any, case: Case) -> Any:
    return "ok" if response.status_code == case.ok else response.status_code


@pytest.fixture
def slow_migrations() -> Iterator[None]:
    """Live migrations that run long enough to be seen running (and aborted)."""
    saved = CONF.fake_driver.live_migration_seconds
    CONF.set_override("live_migration_seconds", 4.0, group="fake_driver")
    yield
    CONF.set_override("live_migration_seconds", saved, group="fake_driver")


@pytest.mark.parametrize("index", range(len(make_cases(Servers(None)))))  # type: ignore[arg-type]
def test_route(cloud: Cloud, index: int, slow_migrations: None) -> None:
    servers = Servers(cloud)
    case = make_cases(servers)[index]
    expected = EXPECTED[case.kind]
    seen = {}
    for persona in PERSONAS:
        path, body = case.call(cloud, persona, expected[persona] == "ok")
        response = cloud.client(persona, case.version).request(case.method, path, body)
        seen[persona] = _outcome(response, case)
        if seen[persona] == 401:
            assert "unauthorized" in response.json(), response.text
        if seen[persona] != expected[persona]:
            pytest.fail(
                f"{case.method} {path} as {persona or 'anonymous'}: expected "
                f"{expected[persona]}, got {response.status_code} {response.text[:300]}"
            )
    assert seen == expected
    cloud.delete_all_servers()


def test_members_see_only_their_projects_servers(cloud: Cloud) -> None:
    mine = cloud.boot("alice", name="mine")
    theirs = cloud.boot("bob", name="theirs")
    alice = {s["id"] for s in cloud.client("alice").get("/v2.1/servers").json()["servers"]}
    bob = {s["id"] for s in cloud.client("bob").get("/v2.1/servers/detail").json()["servers"]}
    assert mine in alice and theirs not in alice and theirs in bob and mine not in bob
    admin = cloud.client("admin")
    assert admin.get("/v2.1/servers").json()["servers"] == []  # its own project only
    everyone = admin.get("/v2.1/servers?all_tenants=1").json()["servers"]
    assert {mine, theirs} <= {s["id"] for s in everyone}
    # all_tenants is ignored for members, as in Nova
    assert theirs not in {
        s["id"] for s in cloud.client("alice").get("/v2.1/servers?all_tenants=1").json()["servers"]
    }
    cloud.delete_all_servers()


def test_identity_headers_from_clients_are_ignored(cloud: Cloud) -> None:
    forged = {
        "X-Identity-Status": "Confirmed",
        "X-Roles": "admin",
        "X-User-Id": "x",
        "X-Project-Id": "y",
    }
    assert cloud.client(None).get("/v2.1/os-hypervisors", headers=forged).status_code == 401
    response = cloud.client("alice").get("/v2.1/os-hypervisors", headers=forged)
    assert response.status_code == 403
