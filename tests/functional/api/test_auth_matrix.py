"""Authentication and policy for every route: anonymous, a member of project A (alice),
a member of project B (bob) and an administrator.

The kinds of route:

* PUBLIC — everyone gets the answer (version documents, the OpenAPI document);
* ANY — anonymous is 401, every authenticated caller succeeds;
* ADMIN — anonymous 401, members 403, the administrator succeeds;
* OWNER — on a server of project A: anonymous 401, alice succeeds, bob gets 404 (the
  server does not exist for him), the administrator succeeds;
* OWNER_ADMIN — on a server of project A, for administrators only: anonymous 401,
  alice 403, bob 404, the administrator succeeds;
* SELF — on something of alice's named by id in the path or query (her user's key
  pairs, her project's usage and server groups): anonymous 401, alice succeeds, bob 403 (the policy
  compares ids; nothing is hidden), the administrator succeeds.

"Succeeds" means the route's success status.
:func:`~tests.functional.api.matrix_cases.make_cases` must name every route the API
serves (a new route without a case fails :func:`test_every_route_has_a_case`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_cases import make_cases
from tests.functional.api.matrix_families import (
    delete_matrix_aggregates,
    delete_matrix_server_groups,
    server_tag_cases,
)
from tests.functional.api.matrix_kinds import EXPECTED, PERSONAS, Case, MatrixImages, Raw, Servers


def _key(method: str, path: str, action: str | None) -> tuple[str, str, str | None]:
    return (method, path, action)


def test_every_route_has_a_case(cloud: Cloud) -> None:
    served = {_key(r.method, r.path, r.action) for r in cloud.api.app.routes}
    cases = [*make_cases(Servers(cloud)), *server_tag_cases(Servers(cloud))]
    covered = {_key(c.method, c.path, c.action) for c in cases}
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
    _check_route(cloud, make_cases(Servers(cloud))[index])


@pytest.mark.parametrize("index", range(len(server_tag_cases(Servers(None)))))  # type: ignore[arg-type]
def test_server_tags_route(cloud: Cloud, index: int) -> None:
    _check_route(cloud, server_tag_cases(Servers(cloud))[index])


def _check_route(cloud: Cloud, case: Case) -> None:
    """Call *case* as every persona and compare with what its kind expects."""
    expected = EXPECTED[case.kind]
    seen = {}
    for persona in PERSONAS:
        path, body = case.call(cloud, persona, expected[persona] == "ok")
        client = cloud.client(persona, case.version)
        if isinstance(body, Raw):
            headers = {"Content-Type": body.content_type}
            response = client.request(case.method, path, data=body.data, headers=headers)
        else:
            response = client.request(case.method, path, body)
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
    MatrixImages(cloud).delete_all()
    delete_matrix_server_groups(cloud)
    delete_matrix_aggregates(cloud)


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
