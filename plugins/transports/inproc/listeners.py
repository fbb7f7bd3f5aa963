"""The receiving side of the ``inproc://`` driver: incoming messages and listeners.

:class:`InProcIncomingMessage` is one received message with its own decoded
context and body; it replies, heartbeats and requeues. :class:`InProcListener`
is the poll-mode listener (``poll`` blocks on a condition variable sharing the
broker lock) and :class:`InProcDirectListener` the direct-mode one (senders
hand messages to the server's callback themselves).
"""

from __future__ import annotations

import logging
import threading
from time import monotonic as _monotonic
from typing import Any

from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common

from nubis.plugins.transports.inproc.broker import _Broker, _Consumer, _detach, _Queue
from nubis.plugins.transports.inproc.wire import _HEARTBEAT, _decode, _encode, _Envelope

LOG = logging.getLogger(__name__)


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
