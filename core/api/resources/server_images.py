"""``POST /servers/{id}/action`` ``createImage`` and ``createBackup``: an image of a
server's root disk, written by its compute host (Nova's ``_action_create_image`` and
``os-create-backup``).

* ``{"createImage": {"name": ..., "metadata": {...}}}`` (``os_compute_api:servers:
  create_image``): a snapshot, image property ``image_type=snapshot``;
* ``{"createBackup": {"name": ..., "backup_type": ..., "rotation": N, "metadata": {...}}}``
  (``os_compute_api:os-create-backup``): a backup (``image_type=backup`` and
  ``backup_type``); once it is written, the server's backups of that type beyond the
  newest *N* are deleted (0: all, this one too).

Both answer 202 at once: the image is ``queued`` (``SAVING`` in the compute images
proxy) and becomes ``active`` when the host has written it (the server shows task
``image_snapshot``/``image_backup``, then ``image_pending_upload`` and
``image_uploading`` meanwhile). Before 2.45 the answer has no body and a ``Location``
header naming the image (a backup with rotation 0 has none, as in Nova); from 2.45 the
body is ``{"image_id": ...}``. Up to 2.38 the request's ``metadata`` counts against the
``metadata_items`` quota (403 "Image metadata limit exceeded"), as Nova checks it.

404 for a server the caller cannot see; 409 unless it is active, stopped, paused or
suspended with no task (Nova's state check) or when its host is too old; 400 for a
server without a root disk; 503 when its compute service is down. A snapshot that fails
on the host deletes the image and records a fault on the ``createImage``/``createBackup``
instance action; the server stays as it was.
"""

from __future__ import annotations

from typing import Any

from nubis.core import quota
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server
from nubis.core.api.resources.server_action_routes import ActionHandlers, action_route
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import metadata, name, non_negative_integer, one_object
from nubis.core.api.wsgi import Reply, Request

#: The first microversion whose createImage/createBackup no longer check the metadata
#: quota (Nova stopped with the end of its image metadata proxy, 2.38).
NO_METADATA_QUOTA_VERSION = "2.39"
#: The first microversion answering ``{"image_id": ...}`` instead of a Location header.
IMAGE_ID_BODY_VERSION = "2.45"


CREATE_IMAGE_BODY = one_object("createImage", {"name": name, "metadata": metadata}, ["name"])

CREATE_BACKUP_BODY = one_object(
    "createBackup",
    {
        "name": name,
        "backup_type": {"type": "string"},
        "rotation": non_negative_integer,
        "metadata": metadata,
    },
    ["name", "backup_type", "rotation"],
)


class ServerImages(ActionHandlers):
    """Handlers of the createImage and createBackup actions."""

    def _metadata(self, req: Request, body: dict[str, Any]) -> dict[str, str]:
        items: dict[str, str] = dict(body.get("metadata") or {})
        if not req.at_least(NO_METADATA_QUOTA_VERSION):
            context = req.context
            allowed = quota.limits(context, req.conf, context.project_id)["metadata_items"]
            if 0 <= allowed < len(items):
                raise Fault(403, "Image metadata limit exceeded")
        return items

    def create_image(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.SERVERS_CREATE_IMAGE)
        body = req.body["createImage"]
        image = compute_api.snapshot(
            req.context,
            instance,
            body["name"],
            extra_properties=self._metadata(req, body),
        )
        if req.at_least(IMAGE_ID_BODY_VERSION):
            return Reply(202, {"image_id": image.uuid})
        return Reply(202, None, [("Location", req.url(f"/image/v2/images/{image.uuid}"))])

    def create_backup(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.CREATE_BACKUP)
        body = req.body["createBackup"]
        rotation = int(body["rotation"])
        image = compute_api.backup(
            req.context,
            instance,
            body["name"],
            backup_type=body["backup_type"],
            rotation=rotation,
            extra_properties=self._metadata(req, body),
        )
        if req.at_least(IMAGE_ID_BODY_VERSION):
            return Reply(202, {"image_id": image.uuid})
        headers = [("Location", req.url(f"/v2.1/images/{image.uuid}"))] if rotation > 0 else []
        return Reply(202, None, headers)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerImages(deps)
    return [
        action_route(
            handlers,
            handlers.create_image,
            "Create an image of a server's root disk (a snapshot)",
            policy=policies.SERVERS_CREATE_IMAGE,
            action="createImage",
            bodies=(BodySchema(CREATE_IMAGE_BODY),),
        ),
        action_route(
            handlers,
            handlers.create_backup,
            "Create a backup image of a server, deleting its oldest backups beyond rotation",
            policy=policies.CREATE_BACKUP,
            action="createBackup",
            bodies=(BodySchema(CREATE_BACKUP_BODY),),
        ),
    ]
