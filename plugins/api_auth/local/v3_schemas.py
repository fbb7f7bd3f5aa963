"""The JSON schemas of the Identity v3 management requests (projects, users, roles, the
self-service password change), as Keystone's: known attributes are typed, other
attributes are accepted and kept as the resource's extra attributes (Keystone's
``additionalProperties: true``), except the ones the server owns."""

from __future__ import annotations

from typing import Any

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
_NULLABLE_TEXT = {"type": ["string", "null"], "maxLength": 65535}
_ID_OR_NULL = {"type": ["string", "null"], "minLength": 1, "maxLength": 64}
_DEFAULT_DOMAIN = {
    "type": "string",
    "enum": ["default"],
    "description": "nubis has only the Default domain (id default)",
}
_NO_OPTIONS = {
    "type": "object",
    "maxProperties": 0,
    "description": "nubis supports no resource options",
}
_TAGS = {
    "type": "array",
    "maxItems": 80,
    "uniqueItems": True,
    "items": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^,/]*$"},
}
SERVER_OWNED = ("id", "links", "password_expires_at", "domain", "extra")
"""Attributes a client may not set: they are the server's (the handlers answer 400)."""


def _resource(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "minProperties": 1,
    }


_PROJECT = {
    "name": _NAME,
    "description": _NULLABLE_TEXT,
    "enabled": {"type": "boolean"},
    "domain_id": _DEFAULT_DOMAIN,
    "parent_id": {"type": ["string", "null"], "enum": ["default", None]},
    "is_domain": {"type": "boolean", "enum": [False]},
    "tags": _TAGS,
    "options": _NO_OPTIONS,
}
PROJECT_CREATE = {
    "type": "object",
    "properties": {"project": _resource(_PROJECT, ["name"])},
    "required": ["project"],
}
PROJECT_UPDATE = {
    "type": "object",
    "properties": {"project": _resource(_PROJECT, [])},
    "required": ["project"],
}

_USER = {
    "name": _NAME,
    "password": {"type": ["string", "null"], "maxLength": 4096},
    "enabled": {"type": "boolean"},
    "default_project_id": _ID_OR_NULL,
    "domain_id": _DEFAULT_DOMAIN,
    "description": _NULLABLE_TEXT,
    "email": {"type": ["string", "null"], "maxLength": 255},
    "options": _NO_OPTIONS,
}
USER_CREATE = {
    "type": "object",
    "properties": {"user": _resource(_USER, ["name"])},
    "required": ["user"],
}
USER_UPDATE = {
    "type": "object",
    "properties": {"user": _resource(_USER, [])},
    "required": ["user"],
}
PASSWORD_CHANGE = {
    "type": "object",
    "properties": {
        "user": {
            "type": "object",
            "properties": {
                "password": {"type": "string", "minLength": 1, "maxLength": 4096},
                "original_password": {"type": "string", "maxLength": 4096},
            },
            "required": ["password", "original_password"],
            "additionalProperties": False,
        }
    },
    "required": ["user"],
    "additionalProperties": False,
}
ROLE_CREATE = {
    "type": "object",
    "properties": {
        "role": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 64},
                "description": _NULLABLE_TEXT,
                "domain_id": {"type": "null", "description": "nubis has no domain roles"},
                "options": _NO_OPTIONS,
            },
            "required": ["name"],
            "additionalProperties": False,
        }
    },
    "required": ["role"],
    "additionalProperties": False,
}
