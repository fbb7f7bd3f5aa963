"""The authorization matrix's cases of a server's images: ``createImage``,
``createBackup``, ``shelve``, ``shelveOffload`` and ``unshelve`` (and an image's tasks,
which Tempest reads after a snapshot); see
:mod:`tests.functional.api.matrix_kinds`. The images they make are named
``matrix-img-...``, so the matrix's clean-up deletes them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_kinds import Case, MatrixImages, Servers

ACTION = "/v2.1/servers/{server_id}/action"


def server_image_cases(servers: Servers) -> list[Case]:
    def image_action(key: str, **extra: Any) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = servers.fresh() if succeed else servers.shared()
            body = {key: {"name": f"matrix-img-{uuid.uuid4().hex[:6]}", **extra}}
            return f"/v2.1/servers/{server_id}/action", body

        return call

    def shelved(key: str, status: str) -> Callable[..., Any]:
        """*key* on a fresh server of alice's shelved to *status* (SHELVED: kept on its
        host, shelved_offload_time -1 while it is shelved; SHELVED_OFFLOADED)."""

        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            if not succeed:
                return f"/v2.1/servers/{servers.shared()}/action", {key: None}
            server_id = servers.fresh()
            if status == "SHELVED":
                CONF.set_override("shelved_offload_time", -1)
            try:
                done = cloud.client("alice").post(
                    f"/v2.1/servers/{server_id}/action", {"shelve": None}
                )
                assert done.status_code == 202, done.text
                cloud.wait_status(server_id, status)
            finally:
                CONF.clear_override("shelved_offload_time")
            return f"/v2.1/servers/{server_id}/action", {key: None}

        return call

    def shelve(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        return f"/v2.1/servers/{server_id}/action", {"shelve": None}

    def image_tasks(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        return f"/image/v2/images/{MatrixImages(cloud).fresh()}/tasks", None

    return [
        Case("GET", "/image/v2/images/{image_id}/tasks", "OWNER", image_tasks),
        Case("POST", ACTION, "OWNER", shelve, ok=202, action="shelve"),
        Case(
            "POST",
            ACTION,
            "OWNER_ADMIN",
            shelved("shelveOffload", "SHELVED"),
            ok=202,
            action="shelveOffload",
        ),
        Case(
            "POST",
            ACTION,
            "OWNER",
            shelved("unshelve", "SHELVED_OFFLOADED"),
            ok=202,
            action="unshelve",
        ),
        Case("POST", ACTION, "OWNER", image_action("createImage"), ok=202, action="createImage"),
        Case(
            "POST",
            ACTION,
            "OWNER",
            image_action("createBackup", backup_type="daily", rotation=1),
            ok=202,
            action="createBackup",
        ),
    ]
