"""What crosses the ``inproc://`` broker: the wire format and its containers.

A message travels as one JSON document (:data:`_encode`/:data:`_decode`, with
``jsonutils.dumps``/``loads`` semantics) inside an :class:`_Envelope`, which
also carries the message id, the caller's call-monitor timeout and, for a
call, the :class:`_ReplyChannel` its reply and heartbeats go back on. Message
ids come from a process-wide counter (:func:`_next_msg_id`).
"""

from __future__ import annotations

import itertools
import json
import os
import queue

from oslo_serialization import jsonutils

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
