"""Error responses in Nova's format: ``{"badRequest": {"code": 400, "message": "..."}}``.

The outer key names the kind of fault by HTTP status (Nova's names); the message is
the one-line message of the exception. Unexpected exceptions become a 500
``computeFault`` whose message names the exception class only (the traceback goes to
the log, never to the client).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nubis.core import exception

LOG = logging.getLogger(__name__)

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    431: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}
DEFAULT_FAULT = "computeFault"

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class Fault(Exception):
    """An HTTP error answer: *status*, *message* and extra response *headers*."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers or [])


def body(status: int, message: str) -> dict[str, Any]:
    """The Nova fault body for *status* and *message*."""
    return {FAULT_NAMES.get(status, DEFAULT_FAULT): {"code": status, "message": message}}


def from_exception(exc: BaseException) -> Fault:
    """Turn *exc* into a Fault: NubisException by its ``code``, anything else a 500."""
    if isinstance(exc, Fault):
        return exc
    unavailable = _backend_unavailable(exc)
    if unavailable is not None:  # database or message bus away: 503, try again later
        LOG.warning("request failed, a backend is unavailable: %s", unavailable)
        return Fault(503, unavailable, [("Retry-After", RETRY_AFTER_SECONDS)])
    if isinstance(exc, exception.NubisException):
        status = int(getattr(exc, "code", 500) or 500)
        if status < 400 or status > 599:
            status = 500
        if status >= 500:
            LOG.error("request failed: %s", exception.one_line(exc), exc_info=exc)
        return Fault(status, exception.one_line(exc))
    LOG.error("unexpected error serving a request", exc_info=exc)
    return Fault(
        500,
        f"Unexpected API Error ({type(exc).__name__}). Please report this at the nubis "
        "issue tracker with the request id of this response.",
    )


RETRY_AFTER_SECONDS = "5"


def _backend_unavailable(exc: BaseException) -> str | None:
    """The 503 message when *exc* says the database or the message bus is away."""
    if isinstance(exc, exception.ServiceUnavailable):
        return exception.one_line(exc)
    from nubis.core.db import errors as db_errors

    reason = db_errors.transient_reason(exc)
    if reason is not None:
        return f"the database is unavailable, try again later: {reason}"
    if type(exc).__module__.startswith("oslo_messaging") and type(exc).__name__ in (
        "MessagingTimeout",
        "MessageDeliveryFailure",
        "MessagingException",
    ):
        return f"the message bus is unavailable, try again later: {exception.one_line(exc)}"
    return None


def schema() -> dict[str, Any]:
    """JSON schema of a fault body (for the OpenAPI document)."""
    inner = {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
        "required": ["code", "message"],
    }
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": inner,
    }


def encode(status: int, message: str) -> bytes:
    return json.dumps(body(status, message)).encode()
