"""What an image looks like in the Image API v2: the attributes a caller may set, the
read-only and reserved ones (refused with 403, as Glance does), the JSON schema of a
create body, the schema documents (``GET /image/v2/schemas/image`` and ``.../images``)
and the view of an image.

Extra properties are Glance's ``additionalProperties``: string values, keys of 1-255
characters; tags are strings of 1-255 characters. nubis stores images it can boot:
``disk_format`` is ``qcow2`` or ``raw`` and ``container_format`` ``bare``.
"""

from __future__ import annotations

from typing import Any

from nubis.core.api.faults import Fault
from nubis.core.api.image_registry import CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES
from nubis.core.api.resources.common import isotime

MAX_TAGS = 128
MAX_PROPERTIES = 128
MAX_INT = 2**31 - 1

READ_ONLY = frozenset(
    {
        "checksum",
        "created_at",
        "direct_url",
        "file",
        "os_hash_algo",
        "os_hash_value",
        "schema",
        "self",
        "size",
        "status",
        "updated_at",
        "virtual_size",
        "locations",
        "os_hidden",
    }
)
RESERVED = frozenset({"deleted", "deleted_at", "location"})

NAME = {
    "type": ["string", "null"],
    "maxLength": 255,
    "description": "Any name; need not be unique.",
}
TAG = {"type": "string", "minLength": 1, "maxLength": 255}

#: The attributes a caller may set (create) or change (PATCH), with their schemas.
SETTABLE: dict[str, dict[str, Any]] = {
    "name": NAME,
    "visibility": {"type": "string", "enum": list(VISIBILITIES)},
    "protected": {"type": "boolean", "description": "A protected image cannot be deleted."},
    "min_disk": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    "min_ram": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
    "tags": {"type": "array", "items": TAG, "maxItems": MAX_TAGS},
    "disk_format": {"type": ["string", "null"], "enum": [*DISK_FORMATS, None]},
    "container_format": {"type": ["string", "null"], "enum": [*CONTAINER_FORMATS, None]},
    "owner": {"type": ["string", "null"], "maxLength": 255},
}
PROPERTY_VALUE = {"type": "string", "maxLength": 65535}

CREATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {
            "type": "string",
            "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-"
            "([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$",
        },
        **SETTABLE,
        # Accepted by the schema so that the handler can refuse them with Glance's 403.
        **{key: {"description": "read-only: refused (403)"} for key in sorted(READ_ONLY)},
        **{key: {"description": "reserved: refused (403)"} for key in sorted(RESERVED)},
    },
    "additionalProperties": PROPERTY_VALUE,
    "maxProperties": len(SETTABLE) + 1 + MAX_PROPERTIES,
}


def refuse_read_only(key: str) -> None:
    """403 when *key* is an attribute no caller may set."""
    if key in READ_ONLY or key == "id":
        raise Fault(403, f"Attribute '{key}' is read-only.")
    if key in RESERVED:
        raise Fault(403, f"Attribute '{key}' is reserved.")


def check_property_name(key: str) -> None:
    """400 unless *key* may name an extra property."""
    if not key or len(key) > 255:
        raise Fault(400, f"Property name {key[:40]!r}: give 1-255 characters.")


def check_counts(tags: list[str], properties: dict[str, str]) -> None:
    """413 past Glance's default quotas of tags and properties per image."""
    if len(tags) > MAX_TAGS:
        raise Fault(
            413, f"An image may have at most {MAX_TAGS} tags; this one would have {len(tags)}."
        )
    if len(properties) > MAX_PROPERTIES:
        raise Fault(
            413,
            f"An image may have at most {MAX_PROPERTIES} extra properties; this one would "
            f"have {len(properties)}.",
        )


def document(name: str = "image") -> dict[str, Any]:
    """The schema document of an image (Glance's ``/v2/schemas/image``)."""
    properties: dict[str, Any] = {
        "id": {"type": "string", "description": "An identifier for the image", "readOnly": False},
        **SETTABLE,
        "status": {
            "type": "string",
            "readOnly": True,
            "enum": ["queued", "saving", "active", "killed", "deleted", "pending_delete"],
        },
        "size": {"type": ["null", "integer"], "readOnly": True},
        "virtual_size": {"type": ["null", "integer"], "readOnly": True},
        "checksum": {"type": ["null", "string"], "readOnly": True, "maxLength": 32},
        "os_hash_algo": {"type": ["null", "string"], "readOnly": True, "maxLength": 64},
        "os_hash_value": {"type": ["null", "string"], "readOnly": True, "maxLength": 128},
        "os_hidden": {"type": "boolean", "readOnly": True},
        "created_at": {"type": "string", "readOnly": True},
        "updated_at": {"type": "string", "readOnly": True},
        "self": {"type": "string", "readOnly": True},
        "file": {"type": "string", "readOnly": True},
        "schema": {"type": "string", "readOnly": True},
    }
    return {
        "name": name,
        "properties": properties,
        "additionalProperties": PROPERTY_VALUE,
        "links": [
            {"rel": "self", "href": "{self}"},
            {"rel": "enclosure", "href": "{file}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def list_document() -> dict[str, Any]:
    """The schema document of an image list (Glance's ``/v2/schemas/images``)."""
    return {
        "name": "images",
        "properties": {
            "images": {"type": "array", "items": document()},
            "schema": {"type": "string"},
            "first": {"type": "string"},
            "next": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


def view(image: Any) -> dict[str, Any]:
    """An image as the Image API shows it: its attributes, then its extra properties."""
    shown: dict[str, Any] = dict(image.properties)
    shown.update(
        {
            "id": image.uuid,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": image.protected,
            "os_hidden": False,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "owner": image.owner,
            "tags": list(image.tags),
            "created_at": isotime(image.created_at),
            "updated_at": isotime(image.updated_at or image.created_at),
            "self": f"/v2/images/{image.uuid}",
            "file": f"/v2/images/{image.uuid}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return shown
