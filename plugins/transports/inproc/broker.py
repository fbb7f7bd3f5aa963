"""The in-memory broker of the ``inproc://`` driver: one per virtual host.

:class:`_Broker` holds the queues (:class:`_Queue`, FIFO plus the consumers
attached to it, picked round-robin), the exchange bindings and the fanout
queues of each topic, all guarded by one lock; :class:`_Consumer` is what a
queue knows of a listener. :func:`_get_broker` hands out the process-wide
broker of a virtual host; :func:`reset` forgets brokers (a test helper) and
:func:`_detach` removes a stopping listener from its queues.
"""

from __future__ import annotations

import abc
import collections
import threading

from nubis.plugins.transports.inproc.wire import _Envelope

DEFAULT_VIRTUAL_HOST = "/"


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
