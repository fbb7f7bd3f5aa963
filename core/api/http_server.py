"""nubis-api's HTTP server: waitress, with a deadline for reading a request and a
graceful stop bounded as a whole.

Why waitress: one event-loop thread owns every connection and reads each request whole
(request line, headers and body, within ``max_request_header_size`` and
``max_request_body_size``) before it hands the request to one of ``threads`` worker
threads. A client that sends its request slowly, or never finishes it, costs a socket
and a buffer, never a worker: the workers only ever run the application. (cheroot,
nubis-api's server before, gave each connection a worker thread for as long as it took
to read the request, so ``threads`` slow clients took the service away from everyone.)

On top of waitress's own limits (``connection_limit``, the idle ``channel_timeout``,
header and body sizes) this module adds:

* a read deadline: a connection that has not delivered a whole request within
  ``read_timeout`` seconds of its first byte (of its opening, for its first request) is
  closed without an answer; waitress alone only closes connections that are idle, and a
  client sending one header line every few seconds is never idle;
* large bodies (``large_bodies``: which method and path, and the limit): requests the
  predicate picks (image data uploads) may send bodies up to their own limit instead of
  ``max_body_size``, and their read deadline counts from the last data received rather
  than from the first byte (a large upload takes as long as the link needs, but must
  keep moving). waitress spools such a body to a temporary file, never to memory;
* refusals in nubis's fault format (a one-line JSON body) instead of waitress's text;
* :meth:`HTTPServer.stop`: stop accepting, close idle and half-read connections, let the
  requests the workers are running finish and their answers go out, and close
  everything at the deadline whatever is left. Worker threads are daemon threads: a
  request still running then cannot keep the process alive.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import RequestEntityTooLarge

from nubis.core.api import faults

LOG = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
RECV_BYTES = 256 * 1024
_DRAIN_POLL_SECONDS = 0.05


class _FaultTask(ErrorTask):
    """A refusal by the server itself (malformed request, header or body too large),
    answered in nubis's fault format."""

    def execute(self) -> None:
        error = self.request.error
        detail = " ".join(str(error.body).split())
        message = f"{error.reason}: {detail}" if detail else str(error.reason)
        payload = json.dumps(faults.body(int(error.code), message)).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


LargeBodies = tuple[Callable[[str, str], bool], int, str]
"""(predicate of method and path, body size limit, what to say past the limit)."""


class _Parser(HTTPRequestParser):
    """waitress's parser, with the large-body limit for the requests that may have one
    (the server's Adjustments carry the ``LargeBodies`` as ``nubis_large_bodies``)."""

    large_body = False
    adj: Any
    error: Any

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        large: LargeBodies | None = getattr(self.adj, "nubis_large_bodies", None)
        if large is not None and large[0](self.command, self.path):
            self.large_body = True
            adj = copy.copy(self.adj)
            adj.max_request_body_size = large[1] + 1  # waitress refuses at >= the limit
            self.adj = adj

    def received(self, data: bytes) -> int:
        consumed = int(super().received(data))
        if self.large_body and isinstance(self.error, RequestEntityTooLarge):
            self.error = RequestEntityTooLarge(self.adj.nubis_large_bodies[2])
        return consumed


class _Channel(HTTPChannel):
    """A client connection that knows since when it has been reading a request."""

    error_task_class = _FaultTask
    parser_class = _Parser

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        # A new connection owes its first request within the read deadline too.
        self.reading_since: float | None = time.monotonic()

    def received(self, data: bytes) -> bool:
        if self.reading_since is None and self.request is None:
            self.reading_since = time.monotonic()
        result = bool(super().received(data))
        if self.request is None:  # no partial request left: idle (or being served)
            self.reading_since = None
        elif self.request.large_body:  # a large upload: its deadline is from the last data
            self.reading_since = time.monotonic()
        return result


class _Server(TcpWSGIServer):
    channel_class = _Channel
    read_timeout = 30.0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # waitress: close connections idle for channel_timeout
        cutoff = time.monotonic() - self.read_timeout
        for channel in list(self.active_channels.values()):
            since = getattr(channel, "reading_since", None)
            if since is not None and since < cutoff and not channel.requests:
                LOG.info(
                    "closing the connection from %s: no whole request within %s s",
                    channel.addr[0] if channel.addr else "?",
                    self.read_timeout,
                )
                channel.will_close = True


class HTTPServer:
    """One listening socket served by waitress; see the module docstring.

    The constructor binds (OSError if it cannot); :meth:`serve` runs the event loop in
    the calling thread until :meth:`stop`.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        host: str,
        port: int,
        *,
        threads: int,
        idle_timeout: int,
        read_timeout: float,
        max_connections: int,
        max_header_size: int,
        max_body_size: int,
        large_bodies: LargeBodies | None = None,
        ident: str = "nubis-api",
    ) -> None:
        adj = Adjustments(
            host=host,
            port=port,
            threads=threads,
            channel_timeout=idle_timeout,
            connection_limit=max_connections,
            max_request_header_size=max_header_size,
            max_request_body_size=max_body_size,
            cleanup_interval=1,
            # waitress reads 8 KiB per recv by default: an image upload of hundreds of
            # megabytes then costs tens of thousands of event-loop turns.
            recv_bytes=RECV_BYTES,
            asyncore_use_poll=True,  # select() stops at 1024 descriptors
            asyncore_loop_timeout=1,
            ident=ident,
            server_name=host,
            expose_tracebacks=False,
        )
        adj.nubis_large_bodies = large_bodies
        self._map: dict[int, Any] = {}
        self._dispatcher = ThreadedTaskDispatcher()
        self._dispatcher.set_thread_count(threads)
        try:
            self._server = _Server(
                app, map=self._map, dispatcher=self._dispatcher, adj=adj, sockinfo=adj.listen[0]
            )
        except BaseException:
            self._dispatcher.shutdown(cancel_pending=True, timeout=1)
            wasyncore.close_all(self._map)
            raise
        self._server.read_timeout = float(read_timeout)
        self._stopping = threading.Event()
        self._closed = threading.Event()
        self._deadline = 0.0

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.effective_port)

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._server.active_channels)

    def serve(self) -> None:
        """Serve until :meth:`stop`, then drain (see the module docstring)."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=_POLL_SECONDS, map=self._map, use_poll=True, count=1)
            self._drain()
        finally:
            wasyncore.close_all(self._map)
            self._closed.set()

    def _drain(self) -> None:
        wasyncore.dispatcher.close(self._server)  # the listening socket only
        while time.monotonic() < self._deadline:
            busy = False
            for channel in list(self._server.active_channels.values()):
                if channel.requests or channel.total_outbufs_len:
                    busy = True  # a request running, queued, or its answer not yet sent
                else:
                    channel.will_close = True  # idle, or a request not yet read whole
            if not busy:
                return
            wasyncore.loop(timeout=_DRAIN_POLL_SECONDS, map=self._map, use_poll=True, count=1)
        left = sum(1 for c in self._server.active_channels.values() if c.requests)
        if left:
            LOG.warning("graceful shutdown timed out: closing %d connection(s) mid-request", left)

    def stop(self, timeout: float, serving: bool = True) -> bool:
        """Stop accepting, drain for at most *timeout* seconds in all, close; return
        whether every running request finished. *serving*: whether :meth:`serve` runs."""
        self._deadline = time.monotonic() + max(0.0, timeout)
        self._stopping.set()
        try:
            self._server.pull_trigger()
        except OSError:
            pass  # the loop has already closed its trigger
        if serving:
            self._closed.wait(max(0.0, self._deadline - time.monotonic()) + 0.5)
        else:
            wasyncore.close_all(self._map)
        # Idle workers need a moment to notice they are to exit (a tenth of a second
        # at most past the deadline); busy ones are abandoned (daemon threads).
        remaining = max(0.1, self._deadline - time.monotonic())
        self._dispatcher.shutdown(cancel_pending=True, timeout=remaining)
        return not self._dispatcher.threads
