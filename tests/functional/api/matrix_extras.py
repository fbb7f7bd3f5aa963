"""The authorization matrix's cases of ``/extensions``, ``/os-server-external-events``
and the ``lock`` / ``unlock`` server actions; see :mod:`tests.functional.api.matrix_kinds`."""

from __future__ import annotations

from typing import Any

from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_kinds import Case, Servers, static

ACTION = "/v2.1/servers/{server_id}/action"


def extra_cases(servers: Servers) -> list[Case]:
    def event(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        body = {"events": [{"name": "network-changed", "server_uuid": servers.shared()}]}
        return "/v2.1/os-server-external-events", body

    def lock(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        return f"/v2.1/servers/{server_id}/action", {"lock": None}

    def unlock(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        if not succeed:
            return f"/v2.1/servers/{servers.shared()}/action", {"unlock": None}
        server_id = servers.fresh()
        # locked by its owner: the administrator needs (and has) unlock_override
        locked = cloud.client("alice").post(f"/v2.1/servers/{server_id}/action", {"lock": None})
        assert locked.status_code == 202, locked.text
        return f"/v2.1/servers/{server_id}/action", {"unlock": None}

    return [
        Case("GET", "/v2.1/extensions", "ANY", static("/v2.1/extensions")),
        Case(
            "GET",
            "/v2.1/extensions/{alias}",
            "ANY",
            static("/v2.1/extensions/os-keypairs"),
        ),
        Case("POST", "/v2.1/os-server-external-events", "ADMIN", event),
        Case("POST", ACTION, "OWNER", lock, ok=202, action="lock"),
        Case("POST", ACTION, "OWNER", unlock, ok=202, action="unlock"),
    ]
