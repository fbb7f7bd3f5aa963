"""The JSON schema of ``POST /identity/v3/auth/tokens`` (Keystone's password and token
methods, project scope)."""

from __future__ import annotations

_DOMAIN = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    "additionalProperties": False,
}
_NAMED = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 255},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "domain": _DOMAIN,
    },
    "anyOf": [{"required": ["id"]}, {"required": ["name"]}],
}
AUTH_BODY = {
    "type": "object",
    "properties": {
        "auth": {
            "type": "object",
            "properties": {
                "identity": {
                    "type": "object",
                    "properties": {
                        "methods": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["password", "token"]},
                            "minItems": 1,
                        },
                        "password": {
                            "type": "object",
                            "properties": {
                                "user": {
                                    **_NAMED,
                                    "properties": {
                                        **_NAMED["properties"],  # type: ignore[dict-item]
                                        "password": {"type": "string", "maxLength": 4096},
                                    },
                                    "required": ["password"],
                                }
                            },
                            "required": ["user"],
                        },
                        "token": {
                            "type": "object",
                            "properties": {"id": {"type": "string", "minLength": 1}},
                            "required": ["id"],
                        },
                    },
                    "required": ["methods"],
                },
                "scope": {
                    "oneOf": [
                        {"type": "string", "enum": ["unscoped"]},
                        {
                            "type": "object",
                            "properties": {"project": _NAMED},
                            "required": ["project"],
                        },
                    ]
                },
            },
            "required": ["identity"],
        }
    },
    "required": ["auth"],
}
