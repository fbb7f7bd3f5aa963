"""The sending side of the ``inproc://`` driver: :class:`InProcDriver` itself.

The oslo.messaging ``BaseDriver`` that ``transport_url = inproc://`` loads: it
routes casts, calls and notifications into its virtual host's broker, waits for
call replies (timeouts and call monitor included), declares the queues of new
listeners and picks the listener kind (direct or poll) for them.
"""

from __future__ import annotations

import logging
import queue
from time import monotonic as _monotonic
from typing import Any

import oslo_messaging
from oslo_messaging._drivers import base
from oslo_messaging._drivers import common as rpc_common

from nubis.plugins.transports.inproc.broker import (
    _get_broker,
    _normalize_virtual_host,
    _Queue,
)
from nubis.plugins.transports.inproc.listeners import InProcDirectListener, InProcListener
from nubis.plugins.transports.inproc.wire import (
    _HEARTBEAT,
    _MSG_ID_PREFIX,
    _decode,
    _encode,
    _Envelope,
    _msg_counter,
    _next_msg_id,
    _ReplyChannel,
)

LOG = logging.getLogger(__name__)

DELIVERY_MODES = ("direct", "poll")


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
