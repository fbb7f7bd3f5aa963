"""``inproc://`` — a fast, event-driven, in-process oslo.messaging transport.

nubis registers this driver under the ``oslo.messaging.drivers`` entry point
``inproc``; select it with ``transport_url = inproc://`` (RPC) or
``[oslo_messaging_notifications] transport_url = inproc://``. It is the embedded
default for all-in-one deployments and for tests: every service in one process
talks through an in-memory broker instead of RabbitMQ.

Contract
========

The driver implements :class:`oslo_messaging._drivers.base.BaseDriver` with the
semantics the ``rabbit://`` driver has as oslo.messaging uses it, so that code
which works on ``inproc://`` works on RabbitMQ, and fails on ``inproc://`` where
it would fail on RabbitMQ:

* **One broker per virtual host.** All transports created in one process from
  URLs with the same virtual host (the URL path: ``inproc://`` and ``inproc:///``
  are the default host ``/``; ``inproc:///other`` is ``other``) share one
  in-memory broker; different virtual hosts are fully isolated. The URL's host
  part is ignored. Nothing crosses a process boundary.
* **Addressing** — the AMQP layout oslo's rabbit driver builds. The exchange is
  ``target.exchange`` or the driver's default exchange (``control_exchange``).

  - ``listen(Target(topic, server))`` declares the *topic queue* ``topic`` and
    the *server queue* ``topic.server`` in that exchange, plus a private
    *fanout queue* bound to the topic's fanout exchange.
  - A plain send goes to the topic queue: competing consumers, exactly one
    listener of the topic gets each message, round-robin among the listeners
    ready to take one.
  - ``Target(topic, server=host)`` goes to that server's queue only.
  - ``Target(topic, fanout=True)`` copies the message into every fanout queue of
    the topic that exists *at send time*. Like the rabbit driver (whose fanout
    exchange is ``<topic>_fanout``), fanout is addressed by topic alone and
    ignores ``target.exchange``.
  - Topic and server queues, once declared, live as long as the broker (like
    RabbitMQ's non-auto-delete queues): messages sent while no listener consumes
    them wait and go to the next listener (a restarted server gets what was sent
    while it was down). A message for a topic nobody ever listened on is
    dropped, so a ``call`` to it times out; with
    ``TransportOptions(at_least_once=True)`` the send raises
    :class:`oslo_messaging.MessageUndeliverable` instead (rabbit's mandatory
    flag). A listener's fanout queue goes away when the listener stops.
  - Deliberate difference: queue names are scoped per exchange (rabbit's are
    global to the virtual host, so two exchanges using one topic name would
    share a queue there).

* **Calls.** ``send(..., wait_for_reply=True, timeout=T, call_monitor_timeout=M)``
  blocks, holding no lock, until the reply arrives; it raises
  :class:`oslo_messaging.MessagingTimeout` after ``T`` seconds, or after ``M``
  seconds without a heartbeat (:meth:`InProcIncomingMessage.heartbeat`, which
  oslo's RPC dispatcher sends every ``M/2`` s while the endpoint runs). ``M``
  reaches the server as ``IncomingMessage.client_timeout`` and, as on rabbit,
  as ``ctxt['client_timeout']`` (``None`` for casts and notifications). A reply
  that arrives after the caller gave up is dropped.
* **Remote exceptions.** ``reply(failure=exc_info)`` sends
  :func:`oslo_messaging._drivers.common.serialize_remote_exception` output; the
  caller raises ``deserialize_remote_exception(data, allowed_remote_exmods)``:
  the same class (``_Remote`` subclass) for builtins and allowed modules,
  :class:`oslo_messaging.RemoteError` otherwise — exactly as over RabbitMQ.
* **Wire fidelity.** Context and message cross the broker as one JSON document,
  encoded with :func:`oslo_serialization.jsonutils.dumps` semantics on send and
  decoded separately for every receiver; replies likewise. A payload RabbitMQ
  cannot carry fails here the same way (``ValueError``/``TypeError`` from
  ``send``; from ``reply`` on the server, which oslo logs while the caller times
  out); ``datetime``/``set``/``tuple``/non-string keys arrive converted as over
  RabbitMQ, and receivers never share mutable objects with the sender. The cost
  is ~15 µs per call with a small message and context, request and reply
  (``bench/transport_latency.py`` prints it); it is kept on purpose.
* **Notifications** are store-and-forward. ``send_notification`` to ``t.p``
  declares the default queue ``t.p`` (as rabbit does) and keeps the message
  there until a consumer takes it. ``listen_for_notifications`` with no pool
  consumes that shared default queue (listeners compete); with a pool it
  consumes the queue named after the pool, bound to each ``t.p``: each pool gets
  one copy of every notification sent after the pool's queue was declared, and
  the listeners within a pool compete.
* **Listeners and delivery.** Two delivery modes, both event-driven — there is
  no polling loop or sleep anywhere in this driver:

  - ``poll``: :class:`InProcListener`, a
    :class:`~oslo_messaging._drivers.base.PollStyleListener` in oslo's
    ``PollStyleListenerAdapter`` (one thread per listener, as every oslo driver
    does). ``poll(timeout, batch_size, batch_timeout)`` blocks on a condition
    variable sharing the broker lock and wakes the moment a message arrives;
    ``stop()`` wakes a blocked poll at once. Always used when
    ``batch_size > 1`` (batch notification listeners).
  - ``direct`` (default for ``batch_size == 1``, i.e. RPC servers and plain
    notification listeners): :class:`InProcDirectListener`, a push-style
    :class:`~oslo_messaging._drivers.base.Listener`: the sending thread hands
    the decoded message straight to the server's ``on_incoming`` callback (the
    server then queues it to its executor). Same queues, same competing /
    round-robin / persistence semantics; it saves the listener thread's hop,
    15-30 µs of an RPC call's ~150 µs (``bench/transport_latency.py``).
    ``stop()`` returns only when no hand-off is in flight, and nothing is
    handed over after it.

  ``inproc://?delivery=poll`` forces the poll mode everywhere. Either way,
  messages still queued when a listener stops stay queued for the next one,
  ``requeue()`` puts a message back at the head of its queue (so
  ``require_features(requeue=True)`` is supported) and ``acknowledge()`` is a
  no-op (delivery is at-most-once, like rabbit's RPC consumers).
* **Threads.** Safe for any number of concurrent callers and servers. One short
  lock per broker guards the queues; it is never held while waiting for a
  reply, while encoding/decoding JSON, or while calling into a server.

``retry`` is accepted and ignored: an in-memory hand-off cannot fail.
:func:`reset` forgets brokers (a test helper); a unique virtual host per test
(``inproc:///<uuid>``) gives isolation without it.

Layout
======

* :mod:`.wire` — what crosses the broker: the JSON encoding, message ids, the
  envelope a queue stores and the reply channel of a call;
* :mod:`.broker` — the per-virtual-host broker: queues, bindings, fanout,
  round-robin consumer choice, and :func:`reset`;
* :mod:`.listeners` — the receiving side: :class:`InProcIncomingMessage`
  (reply, heartbeat, requeue) and the two listeners, :class:`InProcListener`
  (poll) and :class:`InProcDirectListener` (direct hand-off);
* :mod:`.driver` — :class:`InProcDriver`, the sending side and the entry point
  ``nubis.plugins.transports.inproc:InProcDriver``.
"""

from __future__ import annotations

from nubis.plugins.transports.inproc.broker import DEFAULT_VIRTUAL_HOST, reset
from nubis.plugins.transports.inproc.driver import DELIVERY_MODES, InProcDriver
from nubis.plugins.transports.inproc.listeners import (
    InProcDirectListener,
    InProcIncomingMessage,
    InProcListener,
)

# The driver's own encoder and decoder; bench/transport_latency.py measures them.
from nubis.plugins.transports.inproc.wire import _decode as _decode
from nubis.plugins.transports.inproc.wire import _encode as _encode

__all__ = [
    "DEFAULT_VIRTUAL_HOST",
    "DELIVERY_MODES",
    "InProcDirectListener",
    "InProcDriver",
    "InProcIncomingMessage",
    "InProcListener",
    "reset",
]
