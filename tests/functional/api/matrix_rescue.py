"""The authorization matrix's cases of the ``rescue`` / ``unrescue`` and ``restore`` /
``forceDelete`` server actions; see :mod:`tests.functional.api.matrix_kinds`."""

from __future__ import annotations

from typing import Any

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_kinds import Case, Servers

ACTION = "/v2.1/servers/{server_id}/action"


def rescue_cases(servers: Servers) -> list[Case]:
    def on(body: Any, prepare: str | None = None) -> Any:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            if not succeed:
                return f"/v2.1/servers/{servers.shared()}/action", body
            server_id = servers.fresh()
            if prepare == "rescued":
                alice = cloud.client("alice")
                done = alice.post(f"/v2.1/servers/{server_id}/action", {"rescue": None})
                assert done.status_code == 200, done.text
                cloud.wait_status(server_id, "RESCUE")
            elif prepare == "soft-deleted":
                CONF.set_override("reclaim_instance_interval", 3600)
                try:
                    done = cloud.client("alice").delete(f"/v2.1/servers/{server_id}")
                finally:
                    CONF.clear_override("reclaim_instance_interval")
                assert done.status_code == 204, done.text
                cloud.wait_status(server_id, "SOFT_DELETED")
            return f"/v2.1/servers/{server_id}/action", body

        return call

    return [
        Case("POST", ACTION, "OWNER", on({"rescue": None}), action="rescue"),
        Case("POST", ACTION, "OWNER", on({"unrescue": None}, "rescued"), ok=202, action="unrescue"),
        Case(
            "POST", ACTION, "OWNER", on({"restore": None}, "soft-deleted"), ok=202, action="restore"
        ),
        Case("POST", ACTION, "OWNER", on({"forceDelete": None}), ok=202, action="forceDelete"),
    ]
