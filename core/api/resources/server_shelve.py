"""``POST /servers/{id}/action`` ``shelve``, ``shelveOffload`` and ``unshelve``
(Nova's ``os-shelve``): each answers 202 with no body.

* ``{"shelve": null}`` (``os_compute_api:os-shelve:shelve``): from ACTIVE, SHUTOFF,
  PAUSED or SUSPENDED, the server's host powers it off and writes the image
  ``<name>-shelved``; it becomes SHELVED, and SHELVED_OFFLOADED (no host, nothing held
  on it) at once with ``[DEFAULT] shelved_offload_time`` 0, Nova's default, or after
  that many seconds;
* ``{"shelveOffload": null}`` (``os_compute_api:os-shelve:shelve_offload``,
  administrators): a SHELVED server is offloaded now;
* ``{"unshelve": ...}`` (``os_compute_api:os-shelve:unshelve``): back to ACTIVE -- in
  place when SHELVED, through the scheduler and a spawn from the shelved image when
  SHELVED_OFFLOADED; the shelved image is then deleted. The body per microversion, as
  Nova's: anything before 2.77 (``null``); ``null`` or ``{"availability_zone": NAME}``
  from 2.77; from 2.91 ``null`` or an object with ``availability_zone`` (a name, or
  ``null`` to unpin the server from its zone) and/or ``host`` (administrators:
  ``os_compute_api:os-shelve:unshelve_to_host``).

404 for a server the caller cannot see; 409 for a wrong state or task, a locked server
(non-administrators), a zone or host given for a server that is not SHELVED_OFFLOADED,
or a host outside the zone; 400 for a zone that is not available or a host that runs no
compute service; 503 when the server's compute service is down.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, target_of
from nubis.core.api.resources.server_action_routes import ActionHandlers, action_route
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import name, null_action, one_key
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute.api_shelve import KEEP

UNSHELVE_BODIES = (
    # Nova checked no body before 2.77.
    BodySchema(one_key("unshelve", {}), max_version="2.76"),
    BodySchema(
        one_key(
            "unshelve",
            {
                "type": ["object", "null"],
                "properties": {"availability_zone": name},
                "required": ["availability_zone"],
                "additionalProperties": False,
            },
        ),
        min_version="2.77",
        max_version="2.90",
    ),
    BodySchema(
        one_key(
            "unshelve",
            {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {
                            "availability_zone": {"oneOf": [{"type": "null"}, {"type": "string"}]},
                            "host": {"type": "string"},
                        },
                        "additionalProperties": False,
                    },
                    {"type": "null"},
                ]
            },
        ),
        min_version="2.91",
    ),
)


class ServerShelve(ActionHandlers):
    """Handlers of the shelve, shelveOffload and unshelve actions."""

    def shelve(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.SHELVE)
        compute_api.shelve(req.context, instance)
        return Reply(202)

    def shelve_offload(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.SHELVE_OFFLOAD)
        compute_api.shelve_offload(req.context, instance)
        return Reply(202)

    def unshelve(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.UNSHELVE)
        body = req.body.get("unshelve")
        zone: Any = KEEP
        host = None
        if isinstance(body, dict) and req.at_least("2.77"):
            if "availability_zone" in body:
                zone = body["availability_zone"]
            if req.at_least("2.91"):
                host = body.get("host")
        if host:
            req.authorize(policies.UNSHELVE_TO_HOST, target_of(instance))
        try:
            compute_api.unshelve(req.context, instance, availability_zone=zone, host=host)
        except exception.ComputeHostNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        return Reply(202)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerShelve(deps)

    def route(handler: Any, summary: str, rule: str, action: str, bodies: Any) -> Route:
        return action_route(handlers, handler, summary, policy=rule, action=action, bodies=bodies)

    return [
        route(
            handlers.shelve,
            "Shelve a server: power it off and keep an image of it",
            policies.SHELVE,
            "shelve",
            (BodySchema(one_key("shelve", null_action)),),
        ),
        route(
            handlers.shelve_offload,
            "Offload a shelved server from its host (administrators)",
            policies.SHELVE_OFFLOAD,
            "shelveOffload",
            (BodySchema(one_key("shelveOffload", null_action)),),
        ),
        route(
            handlers.unshelve,
            "Unshelve a shelved server",
            policies.UNSHELVE,
            "unshelve",
            UNSHELVE_BODIES,
        ),
    ]
