"""Probes of the message bus and of one service over it, each bounded in time.

Contract:

* :func:`start` runs a function in a daemon thread and returns its
  :class:`~concurrent.futures.Future`; the caller waits with ``future.result(timeout)``.
  A probe that hangs (a black-holed broker or database) then costs that one thread,
  which ends when the library under it gives up, never the caller's time, and never
  keeps the process from exiting.
* :func:`check_bus` opens one *new* connection to the broker of ``transport_url``,
  trying once, closes it and returns one line saying so; it raises what the driver
  raised when the broker cannot be reached. A new connection, not one of
  oslo.messaging's pool: a pooled connection is handed out without a word to the
  broker, so it would keep saying "fine" of a broker that went away after it was
  opened. A transport without a broker (``inproc://``) has nothing to reach: the line
  says so. oslo.messaging has no public connection check; like
  :func:`nubis.core.rpc.wait_for_transport`, this reaches into the AMQP driver.
* :func:`ping` calls the base RPC API's ``ping`` (:mod:`nubis.core.rpc.baseapi`, served
  by every service) of one binary on one host and returns the seconds it took, or
  raises :class:`PingFailed` with one line: an unknown binary, a bus that cannot be
  reached, no answer within the timeout, or an answer from something else. The bus is
  checked first (bounded too), so "no answer" means the service, not the broker.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import oslo_messaging as messaging
from oslo_config import cfg

from nubis.core import binaries, exception, rpc
from nubis.core.conf.masking import mask, mask_url
from nubis.core.context import get_admin_context

T = TypeVar("T")

#: The binaries :func:`ping` knows, with the option group of each one's topic.
SERVICE_GROUPS = {
    binaries.COMPUTE: "compute",
    binaries.CONDUCTOR: "conductor",
    binaries.SCHEDULER: "scheduler",
}


class PingFailed(Exception):
    """The service did not answer; ``str()`` is one line saying why."""


def start(probe: Callable[[], T], name: str) -> concurrent.futures.Future[T]:
    """Run *probe* in a new daemon thread called *name*; return its Future."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(probe())
        except BaseException as exc:  # the waiter re-raises it
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def check_bus(conf: cfg.ConfigOpts) -> str:
    """Open and close one new connection to the broker (see the module docstring)."""
    from oslo_messaging._drivers import common as driver_common

    shown = mask_url(conf.transport_url)
    transport = rpc.get_transport(conf)
    pool = getattr(getattr(transport, "_driver", None), "_connection_pool", None)
    if pool is None:
        return f"{shown} has no broker to reach"
    # PURPOSE_LISTEN: a plain connection, without the heartbeat thread of a sending one.
    connection = pool.create(purpose=driver_common.PURPOSE_LISTEN, retry=0)
    connection.close()
    return f"the broker at {shown} accepted a connection"


def topic_of(conf: cfg.ConfigOpts, binary: str) -> str:
    """The topic *binary* listens on (``[<service>] topic``); PingFailed if unknown."""
    group = SERVICE_GROUPS.get(binary)
    if group is None:
        known = ", ".join(sorted(SERVICE_GROUPS))
        raise PingFailed(f"unknown binary {binary!r}; one of {known}")
    return str(conf[group].topic)


def ping(conf: cfg.ConfigOpts, host: str, binary: str, timeout: float) -> float:
    """Ping *binary* on *host* within *timeout* seconds in all; return the seconds taken."""
    started = time.monotonic()
    topic = topic_of(conf, binary)
    shown = mask_url(conf.transport_url)
    try:
        start(lambda: check_bus(conf), "nubis-bus-probe").result(timeout)
    except concurrent.futures.TimeoutError:
        raise PingFailed(
            f"the message bus at {shown} did not answer within {timeout:g} s"
        ) from None
    except Exception as exc:
        raise PingFailed(
            f"the message bus at {shown} is unreachable: {mask(exception.one_line(exc))}"
        ) from exc
    remaining = max(0.01, started + timeout - time.monotonic())
    nonce = uuid.uuid4().hex
    no_answer = f"no answer from {binary} on {host} (topic {topic}) within {timeout:g} s"

    def call() -> Any:
        from nubis.core.rpc.baseapi import BaseAPI

        client = BaseAPI(topic, conf=conf)
        return client.ping(get_admin_context(), nonce, server=host, timeout=remaining)

    try:
        answer = start(call, "nubis-ping").result(remaining)
    except (concurrent.futures.TimeoutError, messaging.MessagingTimeout):
        raise PingFailed(no_answer) from None
    except Exception as exc:
        raise PingFailed(f"{binary} on {host}: {mask(exception.one_line(exc))}") from exc
    expected = {"service": binary, "host": host, "arg": nonce}
    if not isinstance(answer, dict) or any(answer.get(k) != v for k, v in expected.items()):
        raise PingFailed(f"{binary} on {host}: unexpected answer {answer!r} (topic {topic})")
    return time.monotonic() - started
