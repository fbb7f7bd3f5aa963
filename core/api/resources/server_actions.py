"""``POST /servers/{id}/action``: the server actions ``os-start``, ``os-stop``,
``reboot``, ``os-migrateLive`` and (administrators) ``os-resetState`` -- their body
schemas, their handlers (:class:`ServerActions`) and one route each on the shared action
path, documented under the ``servers`` tag. A member acts on their own project's servers only; each
action checks its policy rule against the server it loaded.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, get_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import boolean, null_action, one_key, to_bool
from nubis.core.api.wsgi import Reply, Request

# --- request schemas ---------------------------------------------------------------------

REBOOT_BODY = one_key(
    "reboot",
    {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}
        },
        "required": ["type"],
        "additionalProperties": False,
    },
)

_HOST = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}


def _migrate_live(version: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"host": _HOST}
    required = ["host", "block_migration"]
    if version == "2.1":
        properties.update(block_migration=boolean, disk_over_commit=boolean)
        required.append("disk_over_commit")
    else:
        properties["block_migration"] = {"oneOf": [boolean, {"type": "string", "enum": ["auto"]}]}
        if version == "2.30":
            properties["force"] = boolean
    return one_key(
        "os-migrateLive",
        {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    )


RESET_STATE_BODY = one_key(
    "os-resetState",
    {
        "type": "object",
        "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
        "required": ["state"],
        "additionalProperties": False,
    },
)

MIGRATE_LIVE_BODIES = (
    BodySchema(_migrate_live("2.1"), max_version="2.24"),
    BodySchema(_migrate_live("2.25"), min_version="2.25", max_version="2.29"),
    BodySchema(_migrate_live("2.30"), min_version="2.30"),
)


class ServerActions:
    """Handlers of the /servers/{id}/action routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _acting(self, req: Request, server_id: str, rule: str) -> Any:
        return authorized_server(req, self.deps.compute_api, server_id, rule)

    def lookup(self, req: Request, server_id: str) -> Any:
        """The server the action path names (404 unless the caller may see it): every
        action route's :attr:`~nubis.core.api.routing.Route.lookup`."""
        return get_server(req, self.deps.compute_api, server_id)

    def start(self, req: Request, server_id: str) -> Reply:
        instance = self._acting(req, server_id, policies.SERVERS_START)
        self.deps.compute_api.start(req.context, instance)
        return Reply(202)

    def stop(self, req: Request, server_id: str) -> Reply:
        instance = self._acting(req, server_id, policies.SERVERS_STOP)
        self.deps.compute_api.stop(req.context, instance)
        return Reply(202)

    def reboot(self, req: Request, server_id: str) -> Reply:
        instance = self._acting(req, server_id, policies.SERVERS_REBOOT)
        reboot_type = req.body["reboot"]["type"].upper()
        self.deps.compute_api.reboot(req.context, instance, reboot_type=reboot_type)
        return Reply(202)

    def reset_state(self, req: Request, server_id: str) -> Reply:
        instance = self._acting(req, server_id, policies.RESET_STATE)
        self.deps.compute_api.reset_state(req.context, instance, req.body["os-resetState"]["state"])
        return Reply(202)

    def migrate_live(self, req: Request, server_id: str) -> Reply:
        instance = self._acting(req, server_id, policies.MIGRATE_LIVE)
        body = req.body["os-migrateLive"]
        block = body.get("block_migration", False)
        block_migration = False if block == "auto" else to_bool(block)
        try:
            self.deps.compute_api.live_migrate(
                req.context, instance, host=body.get("host"), block_migration=block_migration
            )
        except (exception.ComputeHostNotFound, exception.ComputeServiceUnavailable) as exc:
            raise Fault(400, exception.one_line(exc)) from None
        return Reply(202)


# --- routes --------------------------------------------------------------------------------


def routes(deps: Deps) -> list[Route]:
    actions = ServerActions(deps)
    path = f"{SERVER}/action"
    return [
        Route(
            "POST",
            path,
            actions.start,
            "Start a stopped server",
            policy=policies.SERVERS_START,
            target="resource",
            lookup=actions.lookup,
            action="os-start",
            bodies=(BodySchema(one_key("os-start", null_action)),),
            status=202,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "POST",
            path,
            actions.stop,
            "Stop a server",
            policy=policies.SERVERS_STOP,
            target="resource",
            lookup=actions.lookup,
            action="os-stop",
            bodies=(BodySchema(one_key("os-stop", null_action)),),
            status=202,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "POST",
            path,
            actions.reboot,
            "Reboot a server (SOFT or HARD)",
            policy=policies.SERVERS_REBOOT,
            target="resource",
            lookup=actions.lookup,
            action="reboot",
            bodies=(BodySchema(REBOOT_BODY),),
            status=202,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "POST",
            path,
            actions.reset_state,
            "Reset a server's state to active or error, clearing its task (administrators)",
            policy=policies.RESET_STATE,
            target="resource",
            lookup=actions.lookup,
            action="os-resetState",
            bodies=(BodySchema(RESET_STATE_BODY),),
            status=202,
            tag=TAG,
        ),
        Route(
            "POST",
            path,
            actions.migrate_live,
            "Live-migrate a server to a host, or where the scheduler chooses",
            policy=policies.MIGRATE_LIVE,
            target="resource",
            lookup=actions.lookup,
            action="os-migrateLive",
            bodies=MIGRATE_LIVE_BODIES,
            status=202,
            tag=TAG,
            responses=(409,),
        ),
    ]
