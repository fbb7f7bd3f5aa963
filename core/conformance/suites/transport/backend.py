"""One backend (transport URL) under the transport suite, and its servers.

A :class:`Backend` owns an RPC transport, a notification transport, and every
RPC server / notification listener a test module starts on it, so they can be
reused across the module's tests and stopped together, in parallel, at the end
(stopping a threading server costs about a second on any transport). Topics,
servers and pools carry a per-backend random prefix so that runs never see
each other's messages on a shared RabbitMQ; on RabbitMQ the named queues the
module declared are deleted at the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import oslo_messaging
from oslo_config import cfg

from nubis.core.conformance.suites.transport import errors

ALLOWED_EXMODS = [errors.__name__]


class NotAllowedError(Exception):
    """Raised by an endpoint; its module is NOT in allowed_remote_exmods."""


def ensure_conf() -> None:
    """Parse the global CONF once: oslo.messaging registers its tracing options there."""
    if getattr(cfg.CONF, "_args", None) is None:
        cfg.CONF([], project="nubis")


class Recorder:
    """Thread-safe list of things received, with a wait for a condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout)

    def snapshot(self) -> list[Any]:
        with self._cond:
            return list(self.items)


class RpcEndpoint:
    """What every conformance RPC server exposes."""

    def __init__(self, name: str, sink: Recorder | None = None) -> None:
        self.name = name
        self.casts = Recorder()
        self.sink = sink

    def echo(self, ctxt: dict[str, Any], value: Any) -> Any:
        return value

    def whoami(self, ctxt: dict[str, Any]) -> str:
        return self.name

    def get_context(self, ctxt: dict[str, Any]) -> dict[str, Any]:
        return ctxt

    def record(self, ctxt: dict[str, Any], token: str) -> None:
        self.casts.add(token)
        if self.sink is not None:
            self.sink.add((self.name, token))

    def add(self, ctxt: dict[str, Any], a: int, b: int) -> list[Any]:
        return [a + b, self.name]

    def sleep(self, ctxt: dict[str, Any], seconds: float) -> str:
        time.sleep(seconds)
        return self.name

    def raise_allowed(self, ctxt: dict[str, Any], text: str) -> None:
        raise errors.ConformanceError(text)

    def raise_builtin(self, ctxt: dict[str, Any], text: str) -> None:
        raise ValueError(text)

    def raise_not_allowed(self, ctxt: dict[str, Any], text: str) -> None:
        raise NotAllowedError(text)


class NotificationEndpoint:
    """Records (listener name, event_type, payload, ctxt) of INFO notifications."""

    def __init__(self, name: str, sink: Recorder) -> None:
        self.name = name
        self.sink = sink

    def info(
        self,
        ctxt: dict[str, Any],
        publisher_id: str,
        event_type: str,
        payload: Any,
        metadata: dict[str, Any],
    ) -> None:
        self.sink.add((self.name, event_type, payload, ctxt))


class Backend:
    """One transport URL under test, with the servers started on it."""

    def __init__(self, name: str, url: str) -> None:
        ensure_conf()
        self.name = name
        self.url = url
        self.prefix = f"conf-{uuid.uuid4().hex[:10]}"
        self.transport = oslo_messaging.get_rpc_transport(
            cfg.CONF, url=url, allowed_remote_exmods=ALLOWED_EXMODS
        )
        self.notification_transport = oslo_messaging.get_notification_transport(cfg.CONF, url=url)
        self._servers: list[Any] = []
        self._lock = threading.Lock()
        self.queue_names: set[str] = set()
        self._shared: dict[str, Any] | None = None

    def topic(self, label: str) -> str:
        return f"{self.prefix}-{label}-{uuid.uuid4().hex[:6]}"

    def client(self, topic: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 10)
        return oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic), **kwargs
        )

    def start_server(self, topic: str, server: str, endpoint: Any, track: bool = True) -> Any:
        """Start a threading RPC server on Target(topic, server=server)."""
        rpc_server = oslo_messaging.get_rpc_server(
            self.transport,
            oslo_messaging.Target(topic=topic, server=server),
            [endpoint],
            executor="threading",
        )
        rpc_server.start()
        self.queue_names.update({topic, f"{topic}.{server}"})
        if track:
            with self._lock:
                self._servers.append(rpc_server)
        return rpc_server

    def start_notification_listener(
        self, topic: str, endpoint: Any, pool: str | None = None
    ) -> Any:
        listener = oslo_messaging.get_notification_listener(
            self.notification_transport,
            [oslo_messaging.Target(topic=topic)],
            [endpoint],
            executor="threading",
            pool=pool,
        )
        listener.start()
        self.queue_names.update({pool or f"{topic}.info", f"{topic}.info"})
        with self._lock:
            self._servers.append(listener)
        return listener

    def notifier(self, topic: str) -> Any:
        self.queue_names.add(f"{topic}.info")
        return oslo_messaging.Notifier(
            self.notification_transport,
            publisher_id="conformance.host",
            driver="messagingv2",
            topics=[topic],
        )

    def shared(self) -> dict[str, Any]:
        """The module's shared RPC pair: servers 'a' and 'b' on one topic."""
        if self._shared is None:
            topic = self.topic("shared")
            casts = Recorder()  # (server, token) from both servers
            endpoints = {"a": RpcEndpoint("a", casts), "b": RpcEndpoint("b", casts)}
            for server, endpoint in endpoints.items():
                self.start_server(topic, server, endpoint)
            client = self.client(topic)
            # Both servers answer before any test counts on them.
            for server in endpoints:
                assert client.prepare(server=server).call({}, "whoami") == server
            self._shared = {
                "topic": topic,
                "endpoints": endpoints,
                "client": client,
                "casts": casts,
            }
        return self._shared

    @staticmethod
    def stop_servers(servers: list[Any]) -> None:
        """stop() + wait() every server, in parallel."""

        def stop(server: Any) -> None:
            server.stop()
            server.wait()

        threads = [threading.Thread(target=stop, args=(s,)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    def close(self) -> None:
        with self._lock:
            servers, self._servers = self._servers, []
        self.stop_servers(servers)
        self.transport.cleanup()
        self.notification_transport.cleanup()
        if self.url.startswith("rabbit://"):
            delete_rabbit_queues(self.url, sorted(self.queue_names))


def delete_rabbit_queues(url: str, names: list[str]) -> None:
    """Delete the named (non-auto-delete) queues a module left on the RabbitMQ of *url*."""
    import kombu  # only needed against RabbitMQ

    # oslo's rabbit://user:pass@host:port/vhost is kombu's amqp:// (first host only).
    amqp = "amqp://" + url.split("://", 1)[1].split(",", 1)[0].split("?", 1)[0]
    with kombu.Connection(amqp, connect_timeout=5) as conn:
        for name in names:
            channel = conn.channel()
            try:
                channel.queue_delete(name)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001
                    pass
