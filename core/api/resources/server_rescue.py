"""``POST /servers/{id}/action`` ``rescue`` and ``unrescue`` (Nova's ``os-rescue``).

``{"rescue": {"adminPass": ..., "rescue_image_ref": ...}}`` (or ``{"rescue": null}``)
boots the server from a rescue disk -- of the image ``rescue_image_ref`` names, which
must be visible to the caller and active (400 otherwise, as Nova's
UnsupportedRescueImage), else of the server's own image -- with its own disk attached
second, and answers 200 ``{"adminPass": ...}``: the password given, or one made up.
Nova's default (``[api] enable_instance_password``), as nubis answers a create and a
rebuild; as there, no guest receives it. ``{"unrescue": ...}`` gives the server its own
guest back (202, no body).

The state rules (:mod:`nubis.core.compute.api_rescue`): rescue from ACTIVE, SHUTOFF or
ERROR with no task, unrescue from RESCUE with no task, 409 otherwise (a paused server,
a server being rebooted, a locked server unless the caller is an administrator); 503
when the server's compute service is down. A member rescues their own project's
servers (``os_compute_api:os-rescue``, ``os_compute_api:os-unrescue``).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, get_server
from nubis.core.api.resources.servers import SERVER, TAG, generate_password
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Reply, Request

RESCUE_BODY = {
    "type": "object",
    "properties": {
        "rescue": {
            "type": ["object", "null"],
            "properties": {
                "adminPass": {"type": "string"},
                "rescue_image_ref": {"type": "string", "format": "uuid"},
            },
            "additionalProperties": False,
        }
    },
    "required": ["rescue"],
    "additionalProperties": False,
}

UNRESCUE_BODY = {
    "type": "object",
    "properties": {"unrescue": {}},
    "required": ["unrescue"],
    "additionalProperties": False,
}


class Rescue:
    """The handlers of the ``rescue`` and ``unrescue`` actions."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lookup(self, req: Request, server_id: str) -> Any:
        """The server the action path names (404 unless the caller may see it)."""
        return get_server(req, self.deps.compute_api, server_id)

    def rescue(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        body = req.body["rescue"] or {}
        instance = authorized_server(req, compute_api, server_id, policies.RESCUE_SERVER)
        image_ref = body.get("rescue_image_ref")
        if image_ref is not None:
            self._check_image(req, image_ref)
        password = body.get("adminPass") or generate_password()
        compute_api.rescue(req.context, instance, rescue_image_ref=image_ref)
        return Reply(200, {"adminPass": password})

    def _check_image(self, req: Request, image_id: str) -> None:
        """400 unless *image_id* is an image the caller may boot from (Nova's checks)."""
        try:
            image = self.deps.images.get(req.context, image_id)
        except exception.ImageNotFound:
            image = None
        if image is None or not self.deps.images.visible(req.context, image):
            raise Fault(
                400,
                f"Requested rescue image '{image_id}' is not supported: no image has this id "
                "(see GET /image/v2/images).",
            )
        if image.status != "active":
            raise Fault(
                400,
                f"Requested rescue image '{image_id}' is not supported: it is not active "
                f"(status {image.status}).",
            )

    def unrescue(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.UNRESCUE_SERVER)
        compute_api.unrescue(req.context, instance)
        return Reply(202)


def routes(deps: Deps) -> list[Route]:
    handler = Rescue(deps)
    path = f"{SERVER}/action"
    return [
        Route(
            "POST",
            path,
            handler.rescue,
            "Rescue a server: boot it from a rescue image, its own disk attached second",
            policy=policies.RESCUE_SERVER,
            target="resource",
            lookup=handler.lookup,
            action="rescue",
            bodies=(BodySchema(RESCUE_BODY),),
            tag=TAG,
            responses=(409, 503),
        ),
        Route(
            "POST",
            path,
            handler.unrescue,
            "Unrescue a server: boot it from its own disk again",
            policy=policies.UNRESCUE_SERVER,
            target="resource",
            lookup=handler.lookup,
            action="unrescue",
            bodies=(BodySchema(UNRESCUE_BODY),),
            status=202,
            tag=TAG,
            responses=(409, 503),
        ),
    ]
