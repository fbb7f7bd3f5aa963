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
"""

from __future__ import annotations

import abc
import collections
import itertools
import json
import logging
import os
import queue
import threading
import time
from typing import Any

import oslo_messaging
from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common
from oslo_serialization import jsonutils

__all__ = [
    "InProcDirectListener",
    "InProcDriver",
    "InProcIncomingMessage",
    "InProcListener",
    "reset",
]

LOG = logging.getLogger(__name__)

DEFAULT_VIRTUAL_HOST = "/"
DELIVERY_MODES = ("direct", "poll")

_monotonic = time.monotonic

# Byte-for-byte what jsonutils.dumps() produces (json.dumps with
# default=to_primitive), without building a new encoder on every call.
_encode = json.JSONEncoder(default=jsonutils.to_primitive).encode
# jsonutils.loads() is json.loads() after decoding bytes; we only carry str.
_decode = json.loads

# Message ids: unique within the process, cheaper than uuid4 on the hot path.
_MSG_ID_PREFIX = f"inproc-{os.getpid():x}-{id(object()):x}-"
_msg_counter = itertools.count(1)

# On a reply channel: a JSON reply document, or this for a heartbeat.
_HEARTBEAT = None


def _next_msg_id() -> str:
    return _MSG_ID_PREFIX + str(next(_msg_counter))


class _ReplyChannel:
    """Where the reply (and heartbeats) of one call go.

    A ``SimpleQueue`` of JSON reply documents (``None`` is a heartbeat): the
    caller blocks in ``get(timeout)`` holding no lock of ours; ``closed`` is set
    once the caller stops waiting.
    """

    __slots__ = ("queue", "closed")

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.closed = False


class _Envelope:
    """A message as the broker stores it: JSON body plus routing metadata."""

    __slots__ = ("body", "reply_to", "client_timeout", "msg_id")

    def __init__(
        self,
        body: str,
        reply_to: _ReplyChannel | None,
        client_timeout: float | None,
        msg_id: str,
    ) -> None:
        self.body = body
        self.reply_to = reply_to
        self.client_timeout = client_timeout
        self.msg_id = msg_id


class _Consumer(abc.ABC):
    """What a broker queue knows about a listener. Guarded by the broker lock."""

    #: True: take messages handed over by :meth:`_Broker.flush`; False: be
    #: signalled and take them from the queue in ``poll``.
    direct = False

    @abc.abstractmethod
    def _ready(self) -> bool:
        """Whether the consumer takes a message now. Caller holds the broker lock."""

    def _signal(self) -> None:  # noqa: B027 - poll consumers override; direct ones need not
        """Wake the consumer (poll mode). Caller holds the broker lock."""

    def _handover(self, q: _Queue, env: _Envelope) -> None:
        """Deliver *env* (direct mode). Called without the broker lock."""
        raise TypeError(f"{type(self).__name__} polls its queues; nothing is handed over to it")


# A direct hand-off the publisher performs once it has released the broker lock.
_Handover = tuple[_Consumer, "_Queue", _Envelope]


class _Queue:
    """One broker queue: FIFO messages plus the consumers attached to it.

    All attributes are guarded by the owning broker's lock.
    """

    __slots__ = ("name", "messages", "consumers", "_rr")

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: collections.deque[_Envelope] = collections.deque()
        self.consumers: list[_Consumer] = []
        self._rr = 0

    def _pick(self) -> _Consumer | None:
        """Next ready consumer, round-robin; None if all are busy or absent."""
        consumers = self.consumers
        n = len(consumers)
        for i in range(n):
            idx = (self._rr + i) % n
            consumer = consumers[idx]
            if consumer._ready():
                self._rr = idx + 1
                return consumer
        return None

    def route(self, env: _Envelope, head: bool = False) -> _Handover | None:
        """Enqueue *env* and wake a consumer. Caller holds the broker lock.

        Returns the direct hand-off to perform after releasing the lock, if
        the chosen consumer is a direct one (it gets the oldest message).
        """
        if head:
            self.messages.appendleft(env)
        else:
            self.messages.append(env)
        if not self.consumers:
            return None
        consumer = self._pick()
        if consumer is None:
            return None
        if consumer.direct:
            return (consumer, self, self.messages.popleft())
        consumer._signal()
        return None


class _Broker:
    """The in-memory broker of one virtual host."""

    def __init__(self, virtual_host: str) -> None:
        self.virtual_host = virtual_host
        self.lock = threading.Lock()
        # (exchange, queue name) -> queue
        self.queues: dict[tuple[str | None, str], _Queue] = {}
        # (exchange, routing key) -> queues bound to it (exact match)
        self.bindings: dict[tuple[str | None, str], list[_Queue]] = {}
        # topic -> fanout queues of the listeners that exist now
        self.fanout: dict[str, list[_Queue]] = {}

    def declare(self, exchange: str | None, name: str, routing_key: str) -> _Queue:
        """Get or create queue *name*, bound to *routing_key*. Caller holds the lock."""
        q = self.queues.get((exchange, name))
        if q is None:
            q = self.queues[(exchange, name)] = _Queue(name)
        bound = self.bindings.setdefault((exchange, routing_key), [])
        if q not in bound:
            bound.append(q)
        return q

    def publish(self, queues: list[_Queue], env: _Envelope) -> list[_Handover] | None:
        """Route *env* into each queue. Caller holds the lock; see :meth:`flush`."""
        handovers = None
        for q in queues:
            handover = q.route(env)
            if handover is not None:
                if handovers is None:
                    handovers = [handover]
                else:
                    handovers.append(handover)
        return handovers

    @staticmethod
    def flush(handovers: list[_Handover] | None) -> None:
        """Perform direct hand-offs. Caller must NOT hold the broker lock."""
        if handovers:
            for consumer, q, env in handovers:
                consumer._handover(q, env)

    def requeue(self, q: _Queue, env: _Envelope) -> None:
        """Put *env* back at the head of *q* and deliver it again."""
        with self.lock:
            handover = q.route(env, head=True)
        if handover is not None:
            self.flush([handover])


_brokers: dict[str, _Broker] = {}
_brokers_lock = threading.Lock()


def _get_broker(virtual_host: str) -> _Broker:
    with _brokers_lock:
        broker = _brokers.get(virtual_host)
        if broker is None:
            broker = _brokers[virtual_host] = _Broker(virtual_host)
        return broker


def _normalize_virtual_host(virtual_host: str | None) -> str:
    if not virtual_host or virtual_host == "/":
        return DEFAULT_VIRTUAL_HOST
    return virtual_host


def reset(virtual_host: str | None = None) -> None:
    """Forget the broker of *virtual_host* (all brokers if None). Test helper.

    Drivers created afterwards start from an empty broker; existing drivers and
    listeners keep the old one, so call it only when nothing is running.
    """
    with _brokers_lock:
        if virtual_host is None:
            _brokers.clear()
        else:
            _brokers.pop(_normalize_virtual_host(virtual_host), None)


class InProcIncomingMessage(base.RpcIncomingMessage):
    """A received message: its own decoded context and message, and the reply route."""

    def __init__(self, broker: _Broker, source: _Queue, env: _Envelope) -> None:
        doc = _decode(env.body)
        ctxt = doc["ctxt"]
        # rabbit's unpack_context() leaves this key in every received context.
        ctxt["client_timeout"] = env.client_timeout
        super().__init__(ctxt, doc["message"], env.msg_id)
        self.client_timeout = env.client_timeout
        self._broker = broker
        self._source = source
        self._env = env

    def acknowledge(self) -> None:
        """No-op: the message left its queue when it was delivered."""

    def requeue(self) -> None:
        """Put the message back at the head of the queue it came from."""
        self._broker.requeue(self._source, self._env)

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        """Send the result, or *failure* (an exc_info tuple) serialized.

        No-op for casts and notifications. Raises, as RabbitMQ's driver does,
        when the result cannot be JSON-encoded (oslo's server logs it; the
        caller times out).
        """
        channel = self._env.reply_to
        if channel is None:
            return
        if failure:
            failure = rpc_common.serialize_remote_exception(failure)
        payload = _encode({"result": reply, "failure": failure, "ending": True})
        if channel.closed:
            LOG.info("No caller waits for the reply to %s any more; dropped", self.msg_id)
            return
        channel.queue.put(payload)

    def heartbeat(self) -> None:
        """Tell the caller the call is still running (restarts its call monitor)."""
        channel = self._env.reply_to
        if channel is not None and not channel.closed:
            channel.queue.put(_HEARTBEAT)


class InProcListener(_Consumer, base.PollStyleListener):
    """Poll-mode listener: ``poll`` blocks until a message arrives.

    Its condition variable shares the broker's lock, so a publisher enqueues a
    message and signals an idle listener atomically: no lost wake-ups, no
    polling. Busy listeners are not signalled; they scan their queues before
    blocking again, so no message is stranded.
    """

    direct = False

    def __init__(
        self,
        broker: _Broker,
        queues: list[_Queue],
        fanout_topic: str | None = None,
        fanout_queue: _Queue | None = None,
    ) -> None:
        base.PollStyleListener.__init__(self, prefetch_size=-1)
        self._broker = broker
        self._lock = broker.lock
        self._cond = threading.Condition(broker.lock)
        self._queues = list(queues)
        self._fanout_topic = fanout_topic
        self._fanout_queue = fanout_queue
        self._next = 0
        # Guarded by the broker lock:
        self._waiting = False
        self._signalled = False
        self._stopped = False
        with self._lock:
            for q in self._queues:
                q.consumers.append(self)

    def _ready(self) -> bool:
        return self._waiting and not self._signalled

    def _signal(self) -> None:
        self._signalled = True
        self._cond.notify()

    def poll(
        self,
        timeout: float | None = None,
        batch_size: int = 1,
        batch_timeout: float | None = None,
    ) -> list[InProcIncomingMessage]:
        """Return up to *batch_size* messages.

        Blocks until the first message arrives, *timeout* seconds pass (None:
        no limit) or :meth:`stop` is called. After the first message it keeps
        collecting until the batch is full, *batch_timeout* seconds have passed
        since that first message (None: no such limit), *timeout* expires or
        the listener stops. Returns ``[]`` on timeout; once stopped it returns
        only what this call had already taken — queued messages stay queued
        for the next listener.
        """
        batch: list[tuple[_Queue, _Envelope]] = []
        deadline = None if timeout is None else _monotonic() + timeout
        batch_deadline: float | None = None
        with self._lock:
            while not self._stopped:
                self._take(batch, batch_size)
                if len(batch) >= batch_size:
                    break
                if batch and batch_timeout is not None and batch_deadline is None:
                    batch_deadline = _monotonic() + batch_timeout
                end = deadline
                if batch_deadline is not None and (end is None or batch_deadline < end):
                    end = batch_deadline
                wait: float | None = None
                if end is not None:
                    wait = end - _monotonic()
                    if wait <= 0:
                        break
                self._waiting = True
                self._signalled = False
                try:
                    self._cond.wait(wait)
                finally:
                    self._waiting = False
                    self._signalled = False
        # Decode outside the lock: each receiver gets its own objects.
        broker = self._broker
        return [InProcIncomingMessage(broker, q, env) for q, env in batch]

    def _take(self, batch: list[tuple[_Queue, _Envelope]], batch_size: int) -> None:
        """Move queued messages into *batch*, fair across our queues."""
        queues = self._queues
        n = len(queues)
        while len(batch) < batch_size:
            for i in range(n):
                idx = (self._next + i) % n
                q = queues[idx]
                if q.messages:
                    batch.append((q, q.messages.popleft()))
                    self._next = (idx + 1) % n
                    break
            else:
                return

    def stop(self) -> None:
        """Stop consuming and wake a blocked :meth:`poll` immediately."""
        with self._lock:
            self._stopped = True
            _detach(self._broker, self, self._queues, self._fanout_topic, self._fanout_queue)
            self._cond.notify_all()

    def cleanup(self) -> None:
        """Unsubscribe from all queues (idempotent; implies :meth:`stop`)."""
        self.stop()


class InProcDirectListener(_Consumer, base.Listener):
    """Direct-mode listener: senders hand messages to ``on_incoming`` themselves.

    The hand-off runs in the sending thread after the broker lock is released,
    under this listener's own lock, which :meth:`stop` also takes: once
    ``stop()`` returns no hand-off is in flight and none will start. Messages
    queued before :meth:`start` are handed over, in order, by ``start``.
    """

    direct = True

    def __init__(
        self,
        broker: _Broker,
        queues: list[_Queue],
        fanout_topic: str | None = None,
        fanout_queue: _Queue | None = None,
    ) -> None:
        base.Listener.__init__(self, 1, None)
        self._broker = broker
        self._queues = list(queues)
        self._fanout_topic = fanout_topic
        self._fanout_queue = fanout_queue
        # Re-entrant: a callback that (through some inline executor) sends to
        # this same listener must not deadlock.
        self._deliver_lock = threading.RLock()
        self._active = False  # guarded by the broker lock
        self._stopped = False  # guarded by _deliver_lock

    def _ready(self) -> bool:
        return self._active

    def start(self, on_incoming_callback: Any) -> None:
        """Attach to the queues and hand over what they already hold."""
        leftover: list[tuple[_Queue, _Envelope]] = []
        with self._deliver_lock:
            if self._stopped or self.on_incoming_callback is not None:
                return
            base.Listener.start(self, on_incoming_callback)
            backlog: list[tuple[_Queue, _Envelope]] = []
            with self._broker.lock:
                for q in self._queues:
                    q.consumers.append(self)
                    while q.messages:
                        backlog.append((q, q.messages.popleft()))
                self._active = True
            for i, (q, env) in enumerate(backlog):
                if not self._deliver_locked(q, env):
                    leftover = backlog[i:]
                    break
        # Put back what could not be handed over, oldest first at the head.
        for q, env in reversed(leftover):
            self._broker.requeue(q, env)

    def _handover(self, q: _Queue, env: _Envelope) -> None:
        with self._deliver_lock:
            delivered = self._deliver_locked(q, env)
        if not delivered:
            self._broker.requeue(q, env)

    def _deliver_locked(self, q: _Queue, env: _Envelope) -> bool:
        """Give *env* to the server. Caller holds _deliver_lock.

        Returns False when the listener has stopped (or its callback failed,
        which stops it); the caller then puts *env* back in its queue.
        """
        callback = None if self._stopped else self.on_incoming_callback
        if callback is None:
            return False
        try:
            callback([InProcIncomingMessage(self._broker, q, env)])
        except Exception:
            LOG.exception("inproc: on_incoming failed; detaching the listener")
            self._stop_locked()
            return False
        return True

    def _stop_locked(self) -> None:
        self._stopped = True
        with self._broker.lock:
            self._active = False
            _detach(self._broker, self, self._queues, self._fanout_topic, self._fanout_queue)

    def stop(self) -> None:
        """Detach; after this returns the callback is never invoked again."""
        with self._deliver_lock:
            self._stop_locked()
        base.Listener.stop(self)

    def cleanup(self) -> None:
        """Unsubscribe from all queues (idempotent; implies :meth:`stop`)."""
        self.stop()


def _detach(
    broker: _Broker,
    consumer: _Consumer,
    queues: list[_Queue],
    fanout_topic: str | None,
    fanout_queue: _Queue | None,
) -> None:
    """Remove *consumer* from its queues and delete its fanout queue.

    Caller holds the broker lock. Idempotent.
    """
    for q in queues:
        try:
            q.consumers.remove(consumer)
        except ValueError:
            pass
    if fanout_queue is not None and fanout_topic is not None:
        bound = broker.fanout.get(fanout_topic)
        if bound is not None:
            try:
                bound.remove(fanout_queue)
            except ValueError:
                pass
            if not bound:
                del broker.fanout[fanout_topic]
        fanout_queue.messages.clear()


class InProcDriver(base.BaseDriver):
    """oslo.messaging driver for ``inproc://[/virtual_host][?delivery=direct|poll]``.

    See the module docstring for the semantics. Broker state belongs to the
    process and virtual host, not to a driver: :meth:`cleanup` leaves queued
    messages alone, as closing a RabbitMQ connection does.
    """

    def __init__(
        self,
        conf: Any,
        url: Any,
        default_exchange: str | None = None,
        allowed_remote_exmods: list[str] | None = None,
    ) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._default_exchange = default_exchange
        self.virtual_host = _normalize_virtual_host(getattr(url, "virtual_host", None))
        query = getattr(url, "query", None) or {}
        self.delivery = query.get("delivery", "direct")
        if self.delivery not in DELIVERY_MODES:
            raise ValueError(
                f"inproc: delivery={self.delivery!r}; expected one of {DELIVERY_MODES}"
            )
        self._broker = _get_broker(self.virtual_host)

    def require_features(self, requeue: bool = False) -> None:
        """Every optional feature (requeue) is supported."""

    def _exchange(self, target: Any) -> str | None:
        return target.exchange or self._default_exchange

    @staticmethod
    def _encode(ctxt: Any, message: Any) -> str:
        if ctxt is not None and not isinstance(ctxt, dict):
            ctxt = ctxt.to_dict()
        return _encode({"ctxt": ctxt or {}, "message": message})

    def send(
        self,
        target: Any,
        ctxt: Any,
        message: Any,
        wait_for_reply: bool | None = None,
        timeout: float | None = None,
        call_monitor_timeout: float | None = None,
        retry: int | None = None,
        transport_options: Any = None,
    ) -> Any:
        """Send an RPC message; with *wait_for_reply*, block for the reply.

        :raises MessagingTimeout: no reply within *timeout*, or neither reply
            nor heartbeat within *call_monitor_timeout*.
        :raises MessageUndeliverable: nothing is bound to the address and
            *transport_options* asks for ``at_least_once``.
        :raises ValueError, TypeError: *ctxt* or *message* is not JSON-encodable.
        :raises: the remote exception, see ``deserialize_remote_exception``.
        """
        if ctxt is not None and not isinstance(ctxt, dict):
            ctxt = ctxt.to_dict()
        body = _encode({"ctxt": ctxt or {}, "message": message})
        channel = _ReplyChannel() if wait_for_reply else None
        msg_id = _MSG_ID_PREFIX + str(next(_msg_counter))
        env = _Envelope(body, channel, call_monitor_timeout if channel else None, msg_id)

        broker = self._broker
        topic = target.topic
        handover = handovers = None
        with broker.lock:
            if target.fanout:
                exchange = None
                routing_key = topic
                queues = broker.fanout.get(topic)
            else:
                exchange = target.exchange or self._default_exchange
                routing_key = f"{topic}.{target.server}" if target.server else topic
                queues = broker.bindings.get((exchange, routing_key))
            if queues:
                if len(queues) == 1:
                    handover = queues[0].route(env)
                else:
                    handovers = broker.publish(queues, env)
        if handover is not None:
            handover[0]._handover(handover[1], handover[2])
        elif handovers:
            broker.flush(handovers)
        elif not queues:
            if transport_options is not None and getattr(transport_options, "at_least_once", False):
                raise oslo_messaging.MessageUndeliverable(
                    Exception("no queue bound"), exchange, routing_key, message
                )
            LOG.debug("inproc: nothing bound to %s/%s; message dropped", exchange, routing_key)

        if channel is None:
            return None
        return self._wait_for_reply(channel, msg_id, timeout, call_monitor_timeout)

    def _wait_for_reply(
        self,
        channel: _ReplyChannel,
        msg_id: str,
        timeout: float | None,
        call_monitor_timeout: float | None,
    ) -> Any:
        now = _monotonic()
        deadline = None if timeout is None else now + timeout
        cm_deadline = None if not call_monitor_timeout else now + call_monitor_timeout
        get = channel.queue.get
        try:
            while True:
                end = deadline
                if cm_deadline is not None and (end is None or cm_deadline < end):
                    end = cm_deadline
                try:
                    if end is None:
                        payload = get()
                    else:
                        wait = end - _monotonic()
                        if wait <= 0:
                            raise queue.Empty
                        payload = get(True, wait)
                except queue.Empty:
                    raise oslo_messaging.MessagingTimeout(
                        f"Timed out waiting for a reply to message ID {msg_id}"
                    ) from None
                if payload is _HEARTBEAT:
                    if call_monitor_timeout:
                        cm_deadline = _monotonic() + call_monitor_timeout
                    continue
                data = _decode(payload)
                failure = data["failure"]
                if failure:
                    raise rpc_common.deserialize_remote_exception(
                        failure, self._allowed_remote_exmods
                    )
                return data["result"]
        finally:
            channel.closed = True

    def send_notification(
        self,
        target: Any,
        ctxt: Any,
        message: Any,
        version: float,
        retry: int | None = None,
    ) -> None:
        """Store a notification on ``target.topic`` (already ``topic.priority``).

        Declares the default queue named after the topic, so the notification
        waits there until a pool-less listener takes it; each pool queue bound
        to the topic gets its own copy. *version* (the envelope) does not
        matter in memory.
        """
        body = self._encode(ctxt, message)
        env = _Envelope(body, None, None, _next_msg_id())
        exchange = self._exchange(target)
        broker = self._broker
        with broker.lock:
            broker.declare(exchange, target.topic, target.topic)
            handovers = broker.publish(broker.bindings[(exchange, target.topic)], env)
        broker.flush(handovers)

    def _listener(
        self,
        queues: list[_Queue],
        batch_size: int,
        batch_timeout: float | None,
        fanout_topic: str | None = None,
        fanout_queue: _Queue | None = None,
    ) -> Any:
        if self.delivery == "direct" and batch_size == 1:
            return InProcDirectListener(self._broker, queues, fanout_topic, fanout_queue)
        listener = InProcListener(self._broker, queues, fanout_topic, fanout_queue)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def listen(self, target: Any, batch_size: int, batch_timeout: float | None) -> Any:
        """Subscribe to *target*'s topic queue, server queue and fanout."""
        exchange = self._exchange(target)
        topic = target.topic
        broker = self._broker
        fanout_queue = _Queue(f"{topic}_fanout_{next(_msg_counter)}")
        with broker.lock:
            queues = [broker.declare(exchange, topic, topic)]
            if target.server:
                name = f"{topic}.{target.server}"
                queues.append(broker.declare(exchange, name, name))
            queues.append(fanout_queue)
            broker.fanout.setdefault(topic, []).append(fanout_queue)
        return self._listener(queues, batch_size, batch_timeout, topic, fanout_queue)

    def listen_for_notifications(
        self,
        targets_and_priorities: list[tuple[Any, str]],
        pool: str | None,
        batch_size: int,
        batch_timeout: float | None,
    ) -> Any:
        """Subscribe to ``topic.priority`` of each pair, shared per *pool*."""
        broker = self._broker
        queues: list[_Queue] = []
        with broker.lock:
            for target, priority in targets_and_priorities:
                routing_key = f"{target.topic}.{priority}"
                q = broker.declare(self._exchange(target), pool or routing_key, routing_key)
                if q not in queues:
                    queues.append(q)
        return self._listener(queues, batch_size, batch_timeout)

    def cleanup(self) -> None:
        """Nothing to release: queues belong to the broker, not to the driver."""
