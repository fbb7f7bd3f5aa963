"""``POST /servers/{id}/action`` looks the server up before it refuses an action it
does not serve: a missing (or another project's) server answers 404, as Nova, which
serves more actions and loads the server in each, does (Tempest's
test_migrate_non_existent_server); a visible server answers the 400 "no such action".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.api.conftest import Cloud

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    server_id = cloud.boot("alice", name="lookup-vm")
    yield server_id
    cloud.delete_all_servers()


def test_an_unserved_action_on_a_missing_server_is_404(cloud: Cloud, server: str) -> None:
    for persona in ("alice", "admin"):
        unserved: tuple[dict[str, Any], ...] = ({"migrate": None}, {"fly": {}})
        for body in unserved:
            response = cloud.client(persona).post(f"/v2.1/servers/{MISSING}/action", body)
            assert response.status_code == 404, response.text
            assert "itemNotFound" in response.json()
    # another project's server does not exist for bob
    response = cloud.client("bob").post(f"/v2.1/servers/{server}/action", {"migrate": None})
    assert response.status_code == 404, response.text


def test_an_unserved_action_on_a_visible_server_is_400(cloud: Cloud, server: str) -> None:
    for persona in ("alice", "admin"):
        response = cloud.client(persona).post(
            f"/v2.1/servers/{server}/action", {"frobnicate": None}
        )
        assert response.status_code == 400, response.text
        assert "There is no such action: frobnicate" in response.text
    # a body naming no single action is refused before any lookup
    for body in ({}, {"os-start": None, "os-stop": None}, ["os-start"]):
        response = cloud.client("alice").post(f"/v2.1/servers/{MISSING}/action", body)
        assert response.status_code == 400, (body, response.text)
    # a served action on a missing server is its own 404, as before
    response = cloud.client("alice").post(f"/v2.1/servers/{MISSING}/action", {"os-stop": None})
    assert response.status_code == 404
    assert (
        cloud.client(None).post(f"/v2.1/servers/{MISSING}/action", {"migrate": None}).status_code
        == 401
    )
