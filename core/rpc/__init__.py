"""RPC plumbing: transports, servers, clients and the context serializer.

Services and rpcapi clients never touch oslo.messaging directly; they use this module so
that every message carries a serialized :class:`~nubis.core.context.RequestContext`,
every object crosses through the versioned object serializer, and exceptions from
``nubis.core.exception`` are re-raised on the caller as the same class.

Transports are cached per URL: every service in one process (the all-in-one) shares
one transport object, which is what lets ``inproc://`` connect them.
"""

from __future__ import annotations

import threading
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import exception
from nubis.core.context import RequestContext

ALLOWED_EXMODS = ["nubis.core.exception"]

_transports: dict[str, messaging.Transport] = {}
_transports_lock = threading.Lock()


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register oslo.messaging's options (transport_url and the drivers' groups) on *conf*.

    oslo.messaging registers them lazily when a transport is made; nubis needs them
    earlier, for the start-up check and for sample config generation.
    """
    from oslo_messaging import opts as messaging_opts

    messaging.set_transport_defaults(control_exchange="nubis")
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)


def allowed_exmods() -> list[str]:
    """Modules whose exceptions a caller re-raises as the same class."""
    return list(ALLOWED_EXMODS)


def parse_transport_url(conf: cfg.ConfigOpts) -> messaging.TransportURL:
    """Parse ``transport_url`` or raise ConfigurationError naming the option."""
    url = conf.transport_url
    if not url:
        raise exception.ConfigurationError(
            option="[DEFAULT] transport_url",
            reason="not set; use e.g. inproc:// (one process) or rabbit://user:pass@host:5672/",
        )
    example = "use e.g. inproc:// (one process) or rabbit://user:pass@host:5672/"
    try:
        parsed = messaging.TransportURL.parse(conf, url)
    except (messaging.InvalidTransportURL, ValueError) as exc:
        raise exception.ConfigurationError(
            option="[DEFAULT] transport_url", reason=f"{url!r} is malformed ({exc}); {example}"
        ) from exc
    if not parsed.transport:
        raise exception.ConfigurationError(
            option="[DEFAULT] transport_url",
            reason=f"{url!r} names no transport scheme; {example}",
        )
    return parsed


def get_transport(conf: cfg.ConfigOpts | None = None) -> messaging.Transport:
    """Return this process's RPC transport for ``transport_url`` (created once per URL)."""
    conf = conf or cfg.CONF
    url = conf.transport_url
    with _transports_lock:
        transport = _transports.get(url)
        if transport is None:
            parsed = parse_transport_url(conf)
            try:
                transport = messaging.get_rpc_transport(
                    conf, url=parsed, allowed_remote_exmods=allowed_exmods()
                )
            except messaging.DriverLoadFailure as exc:
                from nubis.core import plugins

                raise exception.PluginNotFound(
                    name=parsed.transport,
                    namespace="oslo.messaging.drivers",
                    option="[DEFAULT] transport_url",
                    available=", ".join(plugins.available("oslo.messaging.drivers")),
                ) from exc
            _transports[url] = transport
        return transport


def cleanup() -> None:
    """Close every cached transport (tests and process exit)."""
    with _transports_lock:
        for transport in _transports.values():
            transport.cleanup()
        _transports.clear()


class RequestContextSerializer(messaging.Serializer):
    """Serializes RequestContext to a dict and entities through *base* (if any)."""

    def __init__(self, base: messaging.Serializer | None = None) -> None:
        self._base = base

    def serialize_entity(self, context: Any, entity: Any) -> Any:
        if self._base is None:
            return entity
        return self._base.serialize_entity(context, entity)

    def deserialize_entity(self, context: Any, entity: Any) -> Any:
        if self._base is None:
            return entity
        return self._base.deserialize_entity(context, entity)

    def serialize_context(self, context: Any) -> dict[str, Any]:
        if isinstance(context, dict):
            return context
        values: dict[str, Any] = context.to_dict()
        return values

    def deserialize_context(self, context: dict[str, Any]) -> RequestContext:
        return RequestContext.from_dict(context)


def default_serializer() -> messaging.Serializer:
    """The serializer every nubis server and client uses: context + versioned objects."""
    from nubis.core.objects.base import NubisObjectSerializer

    return RequestContextSerializer(NubisObjectSerializer())


def get_server(
    target: messaging.Target,
    endpoints: list[Any],
    serializer: messaging.Serializer | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> messaging.RPCServer:
    """Return a threading RPC server for *target* dispatching to *endpoints*."""
    from oslo_messaging.rpc import dispatcher

    return messaging.get_rpc_server(
        get_transport(conf),
        target,
        endpoints,
        executor="threading",
        serializer=serializer or default_serializer(),
        access_policy=dispatcher.DefaultRPCAccessPolicy,
    )


def get_client(
    target: messaging.Target,
    version_cap: str | None = None,
    serializer: messaging.Serializer | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> messaging.RPCClient:
    """Return an RPC client for *target*, capped at *version_cap* when given."""
    return messaging.get_rpc_client(
        get_transport(conf),
        target,
        version_cap=version_cap,
        serializer=serializer or default_serializer(),
    )
