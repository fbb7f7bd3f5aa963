"""``POST /servers/{id}/action`` ``pause``, ``unpause``, ``suspend`` and ``resume``
(Nova's ``os-pause-server`` and ``os-suspend-server``), and ``GET
/servers/{id}/diagnostics`` (``os-server-diagnostics``).

The actions take any value (``{"pause": null}``; Nova does not read it) and answer 202
with no body; the server's status then goes PAUSED, ACTIVE, SUSPENDED, ACTIVE as its
compute host carries them out. 409 when the server is not ACTIVE (pause, suspend),
PAUSED (unpause) or SUSPENDED (resume) with no task, when it is locked (to
non-administrators) or when its host is too old to take the message. A member acts on
their own project's servers (``os_compute_api:os-pause-server:pause`` ...).

Diagnostics (administrators: ``os_compute_api:os-server-diagnostics``) are asked of
the server's compute host: before 2.48 the free-form body of Nova's libvirt driver
(``cpu0_time``, ``vda_read``, ``memory`` ...), from 2.48 Nova's standard model (state,
driver, hypervisor, uptime, and the details of vCPUs, NICs, disks and memory). 409
while the server has no host, is building, or its guest is not running (Nova asks only
running guests); 501 when its host's virt driver has no diagnostics; 503 when its
compute service is down or does not answer in time.
"""

from __future__ import annotations

from typing import Any

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, get_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import one_key
from nubis.core.api.wsgi import Reply, Request
from nubis.core.virt.diagnostics import DETAIL_FIELDS, DRIVERS, STANDARD_FIELDS

_NULLABLE_INT = {"type": ["integer", "null"]}


def _items(fields: tuple[str, ...]) -> dict[str, Any]:
    properties = {f: _NULLABLE_INT for f in fields}
    if "mac_address" in properties:
        properties["mac_address"] = {"type": ["string", "null"]}
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": properties,
            "required": list(fields),
            "additionalProperties": False,
        },
    }


#: Nova's 2.48 response.
DIAGNOSTICS_V248 = {
    "type": "object",
    "properties": {
        "state": {
            "type": "string",
            "enum": ["pending", "running", "paused", "shutdown", "crashed", "suspended"],
        },
        "driver": {"type": "string", "enum": list(DRIVERS)},
        "hypervisor": {"type": ["string", "null"]},
        "hypervisor_os": {"type": ["string", "null"]},
        "uptime": _NULLABLE_INT,
        "config_drive": {"type": "boolean"},
        "num_cpus": _NULLABLE_INT,
        "num_nics": _NULLABLE_INT,
        "num_disks": _NULLABLE_INT,
        "memory_details": {
            "type": "object",
            "properties": {"maximum": _NULLABLE_INT, "used": _NULLABLE_INT},
            "required": ["maximum", "used"],
            "additionalProperties": False,
        },
        **{key: _items(fields) for key, fields in DETAIL_FIELDS.items()},
    },
    "required": [*STANDARD_FIELDS, "memory_details", *DETAIL_FIELDS],
    "additionalProperties": False,
}


class ServerPower:
    """Handlers of the pause/unpause/suspend/resume actions and of diagnostics."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lookup(self, req: Request, server_id: str) -> Any:
        """The server the action path names (404 unless the caller may see it)."""
        return get_server(req, self.deps.compute_api, server_id)

    def _act(self, req: Request, server_id: str, rule: str, operation: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, rule)
        getattr(compute_api, operation)(req.context, instance)
        return Reply(202)

    def pause(self, req: Request, server_id: str) -> Reply:
        return self._act(req, server_id, policies.PAUSE_SERVER, "pause")

    def unpause(self, req: Request, server_id: str) -> Reply:
        return self._act(req, server_id, policies.UNPAUSE_SERVER, "unpause")

    def suspend(self, req: Request, server_id: str) -> Reply:
        return self._act(req, server_id, policies.SUSPEND_SERVER, "suspend")

    def resume(self, req: Request, server_id: str) -> Reply:
        return self._act(req, server_id, policies.RESUME_SERVER, "resume")

    def diagnostics(self, req: Request, server_id: str) -> dict[str, Any]:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.SERVER_DIAGNOSTICS)
        found = compute_api.get_diagnostics(req.context, instance)
        view: dict[str, Any] = (
            found.standard_view() if req.at_least("2.48") else found.legacy_view()
        )
        return view


_ACTIONS = (
    ("pause", "Pause a server (its guest stays in memory, frozen)", policies.PAUSE_SERVER),
    ("unpause", "Unpause a paused server", policies.UNPAUSE_SERVER),
    (
        "suspend",
        "Suspend a server (its guest's state is saved, the guest stopped)",
        policies.SUSPEND_SERVER,
    ),
    ("resume", "Resume a suspended server", policies.RESUME_SERVER),
)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerPower(deps)
    result = [
        Route(
            "POST",
            f"{SERVER}/action",
            getattr(handlers, action),
            summary,
            policy=rule,
            target="resource",
            lookup=handlers.lookup,
            action=action,
            bodies=(BodySchema(one_key(action, {})),),
            status=202,
            tag=TAG,
            responses=(409,),
        )
        for action, summary, rule in _ACTIONS
    ]
    diagnostics = f"{SERVER}/diagnostics"
    summary = "A server's diagnostics, from its compute host (administrators)"
    result += [
        Route(
            "GET",
            diagnostics,
            handlers.diagnostics,
            summary + ": the driver's free-form counters",
            policy=policies.SERVER_DIAGNOSTICS,
            target="resource",
            max_version="2.47",
            tag=TAG,
            responses=(409, 501, 503),
        ),
        Route(
            "GET",
            diagnostics,
            handlers.diagnostics,
            summary + ": Nova's standard model",
            policy=policies.SERVER_DIAGNOSTICS,
            target="resource",
            min_version="2.48",
            tag=TAG,
            response_schema=DIAGNOSTICS_V248,
            responses=(409, 501, 503),
        ),
    ]
    return result
