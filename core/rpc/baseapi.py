"""The base RPC API every nubis service serves: ``ping`` and ``get_service_version``.

The client calls one service (by topic and, usually, server); the endpoint is added by
:class:`nubis.core.service.Service` beside the manager. Its target namespace is
``baseapi`` so its methods never collide with a manager's.

Version history:

* 1.0 - ping(arg), get_service_version()
"""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from nubis.core import version
from nubis.core.rpc.client import RPCAPIClient

NAMESPACE = "baseapi"


class BaseAPI(RPCAPIClient):
    """Client of one service's base RPC API on *topic*."""

    RPC_API = "baseapi"
    BINARY = "*"
    VERSION = "1.0"
    NAMESPACE = NAMESPACE

    def __init__(self, topic: str, conf: Any = None, context: Any = None) -> None:
        super().__init__(conf=conf, topic=topic, context=context)

    def ping(
        self, context: Any, arg: Any, server: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Return ``{"service": <binary>, "host": <host>, "arg": arg}`` from a live service."""
        cctxt = self.client.prepare(server=server, timeout=timeout)
        result: dict[str, Any] = cctxt.call(context, "ping", arg=arg)
        return result

    def get_service_version(
        self, context: Any, server: str | None = None, timeout: float | None = None
    ) -> int:
        """Return the service version the service reports."""
        cctxt = self.client.prepare(server=server, timeout=timeout)
        result: int = cctxt.call(context, "get_service_version")
        return result


class BaseRPCEndpoint:
    """Server side of :class:`BaseAPI`, served by every service."""

    target = messaging.Target(namespace=NAMESPACE, version="1.0")

    def __init__(self, binary: str, host: str) -> None:
        self.binary = binary
        self.host = host

    def ping(self, context: Any, arg: Any) -> dict[str, Any]:
        return {"service": self.binary, "host": self.host, "arg": arg}

    def get_service_version(self, context: Any) -> int:
        return version.SERVICE_VERSION
