"""``PATCH /image/v2/images/{id}``: change an image with a JSON patch, as Glance does.

The body is ``application/openstack-images-v2.1-json-patch``: a list of operations
``{"op": "add"|"replace"|"remove", "path": "/<attribute>", "value": ...}`` applied in
order, all or nothing. Attributes are one level deep (``/name``, ``/tags``, ``/os_distro``
for an extra property; ``~1`` stands for ``/`` and ``~0`` for ``~`` in a name).

* ``name``, ``visibility``, ``protected``, ``min_disk``, ``min_ram``, ``tags``: ``add`` or
  ``replace`` (the same thing for them); they cannot be removed (403). ``disk_format``
  and ``container_format`` only while the image is queued (403 after), ``owner`` only
  for administrators, visibility ``public`` only for administrators (Glance's
  ``publicize_image``);
* extra properties (string values): ``add`` sets one, ``replace`` and ``remove`` need
  it to exist (409 otherwise, as Glance answers);
* read-only attributes (``status``, ``size``, ``checksum`` ...) and reserved ones are
  refused with 403.
"""

from __future__ import annotations

from typing import Any

from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import image_schema
from nubis.core.api.routing import Route
from nubis.core.api.validation import parse_json, validate
from nubis.core.api.wsgi import Request

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"

PATCH_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": 1000,
    "items": {
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": ["add", "replace", "remove"]},
            "path": {"type": "string", "pattern": "^/", "maxLength": 1024},
            "value": {},
        },
        "required": ["op", "path"],
        "additionalProperties": False,
    },
}


def read_patch(req: Request) -> list[dict[str, Any]]:
    """The request's JSON patch: 415 for another media type, 413 past
    ``[api] max_request_body_size``, 400 for a malformed one."""
    if req.raw.mimetype != PATCH_TYPE:
        raise Fault(
            415,
            f"Unsupported Content-Type {req.raw.mimetype or '(none)'}; send {PATCH_TYPE}.",
        )
    limit = int(req.conf.api.max_request_body_size)
    data = req.raw.stream.read(limit + 1)
    if len(data) > limit:
        raise Fault(413, f"Request body is larger than the limit of {limit} bytes.")
    ops = parse_json(data)
    validate(PATCH_SCHEMA, ops)
    return list(ops)


def attribute(path: str) -> str:
    """The attribute a one-level JSON pointer names; 400 for a deeper one."""
    parts = path[1:].split("/")
    if len(parts) != 1 or not parts[0]:
        raise Fault(
            400,
            f"Invalid JSON patch path {path!r}: give one attribute, e.g. /name or /tags.",
        )
    return parts[0].replace("~1", "/").replace("~0", "~")


class Patch:
    """The changes a list of operations makes to one image."""

    def __init__(self, req: Request, image: Any, images: Any) -> None:
        self.req = req
        self.image = image
        self.images = images
        self.changes: dict[str, Any] = {}
        self.properties = dict(image.properties)
        self.properties_changed = False

    def apply(self, op: dict[str, Any]) -> None:
        kind, key = op["op"], attribute(op["path"])
        if kind != "remove" and "value" not in op:
            raise Fault(400, f"Operation {kind} {op['path']} needs a value.")
        image_schema.refuse_read_only(key)
        if key in image_schema.SETTABLE:
            self._base(kind, key, op.get("value"))
        else:
            self._extra(kind, key, op.get("value"))

    def _base(self, kind: str, key: str, value: Any) -> None:
        if kind == "remove":
            raise Fault(403, f"Attribute '{key}' cannot be removed; replace its value instead.")
        validate({"type": "object", "properties": {key: image_schema.SETTABLE[key]}}, {key: value})
        if key in ("disk_format", "container_format") and self.image.status != "queued":
            raise Fault(
                403,
                f"Attribute '{key}' can be only replaced for a queued image; this one is "
                f"{self.image.status}.",
            )
        if key == "owner" and not self.req.is_admin:
            raise Fault(403, "Only an administrator may change an image's owner.")
        if key == "visibility":
            self.images.authorize_visibility(self.req, value, self.image)
        if key == "tags":
            value = sorted(set(value))
        self.changes[key] = value

    def _extra(self, kind: str, key: str, value: Any) -> None:
        image_schema.check_property_name(key)
        if kind in ("replace", "remove") and key not in self.properties:
            raise Fault(409, f"Property {key} does not exist.")
        if kind == "remove":
            del self.properties[key]
        else:
            validate(
                {"type": "object", "properties": {key: image_schema.PROPERTY_VALUE}}, {key: value}
            )
            self.properties[key] = value
        self.properties_changed = True

    def result(self) -> dict[str, Any]:
        """The changes to save (413 past the tag and property quotas)."""
        if self.properties_changed:
            self.changes["properties"] = self.properties
        tags = self.changes.get("tags", list(self.image.tags))
        image_schema.check_counts(tags, self.properties)
        return self.changes


def routes(images: Any, image_path: str) -> list[Route]:
    """The PATCH route; *images* is the :class:`~.images.Images` handler object."""

    def update(req: Request, image_id: str) -> dict[str, Any]:
        image = images.load(req, image_id)
        req.authorize(policies.IMAGES_MODIFY, images.target(image))
        patch = Patch(req, image, images)
        for op in read_patch(req):
            patch.apply(op)
        changes = patch.result()
        if changes:
            images.deps.images.update(req.context, image, changes)
        return image_schema.view(image)

    return [
        Route(
            "PATCH",
            image_path,
            update,
            "Update an image with a JSON patch",
            policy=policies.IMAGES_MODIFY,
            target="resource",
            api="image",
            tag="images",
            content_type=PATCH_TYPE,
            responses=(409, 413, 415),
        )
    ]
