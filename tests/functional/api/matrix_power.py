"""The authorization matrix's cases of the ``pause`` / ``unpause`` and ``suspend`` /
``resume`` server actions and of server diagnostics; see
:mod:`tests.functional.api.matrix_kinds`."""

from __future__ import annotations

from typing import Any

from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_kinds import Case, Servers

ACTION = "/v2.1/servers/{server_id}/action"


def power_cases(servers: Servers) -> list[Case]:
    def on(body: Any, prepare: tuple[str, str] | None = None) -> Any:
        """Act with *body* on a fresh server, first taken through *prepare* (an action
        and the status it ends in) when the persona is to succeed."""

        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            if not succeed:
                return f"/v2.1/servers/{servers.shared()}/action", body
            server_id = servers.fresh()
            if prepare is not None:
                action, status = prepare
                done = cloud.client("alice").post(
                    f"/v2.1/servers/{server_id}/action", {action: None}
                )
                assert done.status_code == 202, done.text
                cloud.wait_status(server_id, status)
            return f"/v2.1/servers/{server_id}/action", body

        return call

    def diagnostics(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        return f"/v2.1/servers/{servers.shared()}/diagnostics", None

    return [
        Case("POST", ACTION, "OWNER", on({"pause": None}), ok=202, action="pause"),
        Case(
            "POST",
            ACTION,
            "OWNER",
            on({"unpause": None}, ("pause", "PAUSED")),
            ok=202,
            action="unpause",
        ),
        Case("POST", ACTION, "OWNER", on({"suspend": None}), ok=202, action="suspend"),
        Case(
            "POST",
            ACTION,
            "OWNER",
            on({"resume": None}, ("suspend", "SUSPENDED")),
            ok=202,
            action="resume",
        ),
        Case("GET", "/v2.1/servers/{server_id}/diagnostics", "OWNER_ADMIN", diagnostics),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/diagnostics",
            "OWNER_ADMIN",
            diagnostics,
            version="2.47",
        ),
    ]
