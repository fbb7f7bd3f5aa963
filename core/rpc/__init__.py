"""RPC plumbing: transports, servers, clients and the context serializer.

Services and rpcapi clients never touch oslo.messaging directly; they use this module so
that every message carries a serialized :class:`~nubis.core.context.RequestContext`,
every object crosses through the versioned object serializer, and exceptions from
``nubis.core.exception`` are re-raised on the caller as the same class.

Servers run oslo.messaging's threading executor on native threads; no nubis process
imports eventlet (:mod:`nubis.core.native_threads`, which ``nubis.core`` runs before this
module imports oslo.messaging, explains how).

Transports are cached per URL: every service in one process (the all-in-one) shares
one transport object, which is what lets ``inproc://`` connect them.

At start a service first waits for its message bus (:func:`wait_for_transport`), for at
most ``rpc_response_timeout_startup`` seconds: oslo.messaging itself would retry a
broker that is not there for ever, inside the first call that needs it. Messages about
a transport URL never show its password (:func:`nubis.core.conf.masking.mask_url`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import exception
from nubis.core.conf.masking import mask, mask_url
from nubis.core.context import RequestContext

LOG = logging.getLogger(__name__)

ALLOWED_EXMODS = ["nubis.core.exception"]

_transports: dict[str, messaging.Transport] = {}
_transports_lock = threading.Lock()


RPC_CONN_POOL_SIZE = 100
"""nubis's default of ``[oslo_messaging_rabbit] rpc_conn_pool_size`` (oslo.messaging's: 30)."""


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register oslo.messaging's options (transport_url and the drivers' groups) on *conf*.

    oslo.messaging registers them lazily when a transport is made; nubis needs them
    earlier, for the start-up check and for sample config generation.
    """
    from oslo_messaging import opts as messaging_opts

    messaging.set_transport_defaults(control_exchange="nubis")
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    # A service's executor (executor_thread_pool_size, 64) may send that many replies
    # and casts at once, each on a pooled connection; with oslo's pool of 30 every send
    # beyond it opens and closes a RabbitMQ connection (7,780 times per conductor in
    # one 1,000-build burst, docs/sizing.md). Connections are made only when needed.
    conf.set_default("rpc_conn_pool_size", RPC_CONN_POOL_SIZE, group="oslo_messaging_rabbit")


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
    shown = mask_url(url)
    try:
        parsed = messaging.TransportURL.parse(conf, url)
    except (messaging.InvalidTransportURL, ValueError) as exc:
        raise exception.ConfigurationError(
            option="[DEFAULT] transport_url",
            reason=f"{shown!r} is malformed ({mask(exception.one_line(exc))}); {example}",
        ) from exc
    if not parsed.transport:
        raise exception.ConfigurationError(
            option="[DEFAULT] transport_url",
            reason=f"{shown!r} names no transport scheme; {example}",
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


def _connection_probe(transport: messaging.Transport) -> Callable[[], None] | None:
    """A function that opens (and returns to the pool) one connection to the broker,
    trying once; None for a transport without a broker to reach (inproc, fake).

    The AMQP drivers (rabbit) keep a pool of sending connections; taking one with
    ``retry=0`` connects without oslo.messaging's endless retrying, and leaves a
    working connection in the pool for the service's first message.
    """
    driver = getattr(transport, "_driver", None)
    get_connection = getattr(driver, "_get_connection", None)
    if get_connection is None:
        return None
    from oslo_messaging._drivers import common as driver_common

    def probe() -> None:
        with get_connection(driver_common.PURPOSE_SEND, retry=0):
            pass

    return probe


def wait_for_transport(
    conf: cfg.ConfigOpts | None = None, timeout: float | None = None, log_every: float = 10.0
) -> None:
    """Return once the message bus of ``transport_url`` accepts a connection.

    Tries with back-off (0.5 s doubling to 5 s), logs the first failure and then one
    line per *log_every* seconds, and raises ServiceTimeout (one line, the URL masked,
    the last error) after *timeout* seconds (default ``rpc_response_timeout_startup``).
    A transport without a broker (``inproc://``) returns at once.
    """
    conf = conf or cfg.CONF
    timeout = float(conf.rpc_response_timeout_startup if timeout is None else timeout)
    probe = _connection_probe(get_transport(conf))
    if probe is None:
        return
    shown = mask_url(conf.transport_url)
    deadline = time.monotonic() + timeout
    next_log = time.monotonic()
    delay = 0.5
    while True:
        try:
            probe()
            return
        except Exception as exc:
            reason = mask(exception.one_line(exc))
        now = time.monotonic()
        if now >= deadline:
            raise exception.ServiceTimeout(
                message=f"the message bus at {shown} ([DEFAULT] transport_url) did not "
                f"answer within {timeout:g} s (rpc_response_timeout_startup): {reason}"
            )
        if now >= next_log:
            LOG.warning(
                "waiting for the message bus at %s: %s (%.0f s left)", shown, reason, deadline - now
            )
            next_log = now + log_every
        time.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 2, 5.0)


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
