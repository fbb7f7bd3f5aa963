"""``POST /servers/{id}/action {"rebuild": {...}}``: rebuild a server in place from an
image (Nova's ``_action_rebuild``), answered 202 with the server as Nova's rebuild
response shows it (up to 2.60: the detailed view without the extended attributes,
plus ``adminPass``).

The body, per microversion as Nova's ``rebuild*`` schemas: ``imageRef`` (required; the
image may differ from the server's), ``name``, ``adminPass``, ``metadata`` (replaces the
server's), ``preserve_ephemeral``, ``OS-DCF:diskConfig``, ``accessIPv4``/``accessIPv6``,
``personality`` (up to 2.56), ``description`` (2.19+), ``key_name`` (2.54+; null
removes the key), ``user_data`` (2.57+, replacing ``personality``). What nubis cannot
honour is refused with a 400 naming the field: files to inject (``personality``) and
user data (nubis has no metadata service or config drive to hand them to a guest; a
null ``user_data`` -- "none" -- is accepted). The image must be visible to the caller,
active, and fit the server's flavor (``min_ram``, ``min_disk``, its size), as Nova
checks. As in Nova the admin password is not given to any guest.

A member rebuilds their own project's servers (``os_compute_api:servers:rebuild``);
the server must be ACTIVE, SHUTOFF or ERROR with no task (409 otherwise).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from nubis.core import exception, quota
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps, server_views
from nubis.core.api.resources.common import authorized_server, get_server
from nubis.core.api.resources.servers import SERVER, TAG, generate_password
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import boolean, description, metadata, name, to_bool
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

GiB = 1024**3

_PERSONALITY = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1, "maxLength": 255},
            "contents": {"type": "string"},
        },
        "additionalProperties": False,
    },
}


def _schema(version: str) -> dict[str, Any]:
    """Nova's rebuild body schema at microversion *version* (2.1, 2.19, 2.54 or 2.57)."""
    properties: dict[str, Any] = {
        "name": name,
        "imageRef": {"type": "string", "format": "uuid"},
        "adminPass": {"type": "string", "maxLength": 255},
        "metadata": metadata,
        "preserve_ephemeral": boolean,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "accessIPv4": {"type": "string", "format": "ipv4"},
        "accessIPv6": {"type": "string", "format": "ipv6"},
        "personality": _PERSONALITY,
    }
    minor = int(version.split(".")[1])
    if minor >= 19:
        properties["description"] = description
    if minor >= 54:
        properties["key_name"] = {"type": ["string", "null"], "minLength": 1, "maxLength": 255}
    if minor >= 57:
        del properties["personality"]
        properties["user_data"] = {"type": ["string", "null"], "maxLength": 65535}
    return {
        "type": "object",
        "properties": {
            "rebuild": {
                "type": "object",
                "properties": properties,
                "required": ["imageRef"],
                "additionalProperties": False,
            }
        },
        "required": ["rebuild"],
        "additionalProperties": False,
    }


REBUILD_BODIES = (
    BodySchema(_schema("2.1"), max_version="2.18"),
    BodySchema(_schema("2.19"), min_version="2.19", max_version="2.53"),
    BodySchema(_schema("2.54"), min_version="2.54", max_version="2.56"),
    BodySchema(_schema("2.57"), min_version="2.57"),
)



def _address(value: str | None) -> str | None:
    return None if value is None else ipaddress.ip_address(value).compressed


def _invalid(field: str, value: Any, why: str) -> Fault:
    return Fault(400, f"Invalid input for field/attribute rebuild.{field}. Value: {value}. {why}")


class Rebuild:
    """The handler of the ``rebuild`` action."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def rebuild(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.SERVERS_REBUILD)
        body = req.body["rebuild"]
        if body.get("personality"):
            raise _invalid(
                "personality",
                f"{len(body['personality'])} file(s)",
                "nubis cannot inject files into guests; leave personality out.",
            )
        if body.get("user_data") is not None:
            raise _invalid(
                "user_data",
                "(given)",
                "nubis keeps no user data (it has no metadata service or config drive); "
                "leave user_data out or null.",
            )
        image = self._image(req, body["imageRef"], instance)
        changes = self._changes(req, body)
        # Nova's default ([api] enable_instance_password): the password given, or one
        # made up; like Nova's libvirt driver without injection, no guest receives it.
        password = body.get("adminPass") or generate_password()
        compute_api.rebuild(
            req.context,
            instance,
            str(image.uuid),
            preserve_ephemeral=to_bool(body.get("preserve_ephemeral", False)),
            **changes,
        )
        instance = get_server(req, compute_api, server_id)
        full = server_views.DetailView(req, self.deps, [instance]).server(instance)
        server = server_views.basic(req, full)
        if "OS-DCF:diskConfig" in body:
            server["OS-DCF:diskConfig"] = body["OS-DCF:diskConfig"]
        server["adminPass"] = password
        if req.at_least("2.57"):
            server["user_data"] = None
        return Reply(202, {"server": server})

    def _image(self, req: Request, image_id: str, instance: Any) -> Any:
        """The image to rebuild from: visible to the caller, active, fitting the
        server's flavor (Nova's checks); 400 otherwise."""
        try:
            image = self.deps.images.get(req.context, image_id)
        except exception.ImageNotFound:
            image = None
        if image is None or not self.deps.images.visible(req.context, image):
            raise _invalid("imageRef", image_id, "Cannot find image for rebuild.")
        if image.status != "active":
            raise _invalid("imageRef", image_id, f"Image is not active (status {image.status}).")
        memory_mb, root_gb = int(instance.memory_mb or 0), int(instance.root_gb or 0)
        if (image.min_ram or 0) > memory_mb:
            raise _invalid(
                "imageRef",
                image_id,
                f"Flavor's memory is too small for requested image: the image needs "
                f"{image.min_ram} MiB (min_ram), the server has {memory_mb} MiB.",
            )
        if root_gb and (image.min_disk or 0) > root_gb:
            raise _invalid(
                "imageRef",
                image_id,
                f"Flavor's disk is too small for requested image: the image needs "
                f"{image.min_disk} GiB (min_disk), the server's root disk is {root_gb} GiB.",
            )
        if root_gb and (image.size or 0) > root_gb * GiB:
            raise _invalid(
                "imageRef",
                image_id,
                f"Flavor's disk is too small for requested image: the image is "
                f"{image.size} bytes, the server's root disk {root_gb * GiB} bytes.",
            )
        return image

    def _changes(self, req: Request, body: dict[str, Any]) -> dict[str, Any]:
        """The instance fields the rebuild sets besides its image."""
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["display_name"] = body["name"]
        if "metadata" in body:
            context = req.context
            allowed = quota.limits(context, req.conf, context.project_id)["metadata_items"]
            if 0 <= allowed < len(body["metadata"]):
                raise exception.MetadataLimitExceeded(allowed=allowed)
            changes["user_metadata"] = dict(body["metadata"])
        if "description" in body:
            changes["description"] = body["description"]
        if "accessIPv4" in body:
            changes["access_ip_v4"] = _address(body["accessIPv4"])
        if "accessIPv6" in body:
            changes["access_ip_v6"] = _address(body["accessIPv6"])
        if "key_name" in body:
            key_name = body["key_name"]
            key_data = None
            if key_name is not None:
                # The caller's key pair, as in Nova: users own keys, projects own servers.
                try:
                    key_data = db.key_pair_get(req.context, req.context.user_id, key_name)
                except exception.KeyPairNotFound:
                    raise _invalid(
                        "key_name",
                        key_name,
                        "Invalid key_name provided: you have no key pair of this name "
                        "(see GET /os-keypairs).",
                    ) from None
            changes["key_name"] = key_name
            changes["key_data"] = None if key_data is None else key_data.public_key
        return changes


def routes(deps: Deps) -> list[Route]:
    handler = Rebuild(deps)
    return [
        Route(
            "POST",
            f"{SERVER}/action",
            handler.rebuild,
            "Rebuild a server in place from an image (ACTIVE, SHUTOFF or ERROR)",
            policy=policies.SERVERS_REBUILD,
            target="resource",
            action="rebuild",
            bodies=REBUILD_BODIES,
            status=202,
            tag=TAG,
            responses=(409,),
        )
    ]
