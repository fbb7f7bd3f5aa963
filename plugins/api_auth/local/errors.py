"""Keystone's error answers: ``{"error": {"code", "title", "message"}}``."""

from __future__ import annotations

from typing import Any

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class KeystoneError(Exception):
    """An error answer of the identity service: *status*, *title*, *message*."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message

    @classmethod
    def of(cls, status: int, message: str) -> KeystoneError:
        """The error with *status*'s usual title."""
        return cls(status, TITLES.get(status, "Error"), message)


def error_body(status: int, title: str, message: str) -> dict[str, Any]:
    """The body Keystone answers an error with."""
    return {"error": {"code": status, "title": title, "message": message}}
