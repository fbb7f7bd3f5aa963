"""The driver's connection to libvirtd: events, loss and reconnection.

libvirt delivers domain events, keepalive probes and the close callback only through
an event loop the application runs. :func:`start_event_loop` registers libvirt's
default implementation and runs it in one daemon thread per process (it must happen
before the first connection is opened; libvirt offers no way to stop it again, and an
idle loop costs nothing).

:class:`Host` owns one connection. When libvirt reports it closed (daemon gone, socket
EOF, keepalive timeout) or a call fails on a dead connection, the host becomes
*unavailable*: it logs one error, tells the driver through ``on_status(False, reason)``
and retries opening a connection every ``reconnect_interval`` seconds in a thread of its
own; once one opens it logs one line, re-registers the callbacks and calls
``on_status(True, ...)``. Meanwhile :meth:`Host.get_connection` raises
HypervisorUnavailable. Lifecycle events go to ``on_lifecycle(uuid, event, detail)``
from the event loop thread (the callee must only queue them).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import libvirt

from nubis.core import exception

LOG = logging.getLogger(__name__)

_LOOP_LOCK = threading.Lock()
_LOOP_THREAD: threading.Thread | None = None

CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "connection error",
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "libvirtd closed the connection",
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: "keepalive timeout",
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed by nubis",
}


def _ignore_error(_ctx: Any, _err: Any) -> None:
    """libvirt's default error handler prints every error to stderr; errors are raised."""


def _run_event_loop() -> None:
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:  # never let the process's one event loop die
            LOG.exception("libvirt event loop iteration failed")


def start_event_loop() -> None:
    """Start libvirt's default event loop in a daemon thread (once per process)."""
    global _LOOP_THREAD
    with _LOOP_LOCK:
        if _LOOP_THREAD is not None:
            return
        libvirt.registerErrorHandler(_ignore_error, None)
        libvirt.virEventRegisterDefaultImpl()
        _LOOP_THREAD = threading.Thread(
            target=_run_event_loop, name="libvirt-event-loop", daemon=True
        )
        _LOOP_THREAD.start()


def is_test_uri(uri: str) -> bool:
    """Return whether *uri* names libvirt's in-process test driver."""
    return uri.startswith("test:")


def error_code(exc: BaseException) -> int | None:
    """Return the libvirt error code of *exc* (None for other exceptions)."""
    if isinstance(exc, libvirt.libvirtError):
        code: int | None = exc.get_error_code()
        return code
    return None


class Host:
    """One libvirt connection that reconnects by itself (see the module docstring)."""

    def __init__(
        self,
        uri: str,
        on_lifecycle: Callable[[str, int, int], None],
        on_status: Callable[[bool, str], None],
        reconnect_interval: float = 2.0,
        keepalive: tuple[int, int] = (5, 3),
        on_connect: Callable[[libvirt.virConnect], None] | None = None,
    ) -> None:
        self.uri = uri
        self._on_lifecycle = on_lifecycle
        self._on_status = on_status
        self._on_connect = on_connect
        self._reconnect_interval = reconnect_interval
        self._keepalive = keepalive
        self._lock = threading.Lock()
        self._conn: libvirt.virConnect | None = None
        self._callback_id: int | None = None
        self._available = False
        self._stopped = threading.Event()
        self._reconnector: threading.Thread | None = None
        self.lost_reason = "not connected yet"

    # --- state -------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._available

    def get_connection(self) -> libvirt.virConnect:
        """Return the live connection or raise HypervisorUnavailable."""
        conn = self._conn
        if conn is None or not self._available:
            raise exception.HypervisorUnavailable(uri=self.uri, reason=self.lost_reason)
        return conn

    @contextlib.contextmanager
    def guard(self, conn: libvirt.virConnect) -> Iterator[None]:
        """Turn a libvirt error caused by a dead connection into HypervisorUnavailable.

        Any other libvirt error propagates unchanged.
        """
        try:
            yield
        except libvirt.libvirtError as exc:
            if self._alive(conn):
                raise
            reason = " ".join(str(exc).split())
            self._lost(conn, reason)
            raise exception.HypervisorUnavailable(uri=self.uri, reason=reason) from exc

    @staticmethod
    def _alive(conn: libvirt.virConnect) -> bool:
        try:
            return bool(conn.isAlive())
        except libvirt.libvirtError:
            return False

    # --- connect / close ---------------------------------------------------------------

    def connect(self) -> None:
        """Open the first connection; raises HypervisorUnavailable when libvirt refuses."""
        start_event_loop()
        self._stopped.clear()
        try:
            conn = self._open()
        except libvirt.libvirtError as exc:
            reason = " ".join(str(exc).split())
            self.lost_reason = reason
            raise exception.HypervisorUnavailable(uri=self.uri, reason=reason) from exc
        with self._lock:
            self._conn, self._available = conn, True

    def close(self) -> None:
        """Stop reconnecting and close the connection (no status callback)."""
        self._stopped.set()
        with self._lock:
            conn, self._conn, self._available = self._conn, None, False
            self.lost_reason = "closed"
        reconnector = self._reconnector
        if reconnector is not None and reconnector is not threading.current_thread():
            reconnector.join(self._reconnect_interval + 5)
        if conn is not None:
            self._release(conn)

    def _open(self) -> libvirt.virConnect:
        conn = libvirt.open(self.uri)
        try:
            interval, count = self._keepalive
            if interval > 0 and not is_test_uri(self.uri):
                try:
                    conn.setKeepAlive(interval, count)
                except libvirt.libvirtError as exc:  # local drivers have no keepalive
                    LOG.debug("no keepalive on %s: %s", self.uri, exc)
            conn.registerCloseCallback(self._closed, None)
            self._callback_id = conn.domainEventRegisterAny(
                None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None
            )
            if self._on_connect is not None:
                self._on_connect(conn)
        except BaseException:
            self._release(conn)
            raise
        return conn

    def _release(self, conn: libvirt.virConnect) -> None:
        """Deregister the callbacks of *conn* and close it (best effort)."""
        for action in (
            lambda: conn.domainEventDeregisterAny(self._callback_id),
            conn.unregisterCloseCallback,
            conn.close,
        ):
            try:
                action()
            except (libvirt.libvirtError, TypeError):
                pass

    # --- callbacks (libvirt's event loop thread) ---------------------------------------

    def _lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        try:
            self._on_lifecycle(dom.UUIDString(), event, detail)
        except Exception:
            LOG.exception("lifecycle event handling failed")

    def _closed(self, conn: Any, reason: int, _opaque: Any) -> None:
        if reason == libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT:
            return
        self._lost(conn, CLOSE_REASONS.get(reason, f"closed (reason {reason})"))

    # --- loss and reconnection ---------------------------------------------------------

    def _lost(self, conn: Any, reason: str) -> None:
        with self._lock:
            if self._stopped.is_set() or not self._available or conn is not self._conn:
                return  # already known, or a stale connection's late callback
            self._available = False
            self.lost_reason = reason
            self._reconnector = threading.Thread(
                target=self._reconnect, args=(conn,), name="libvirt-reconnect", daemon=True
            )
            self._reconnector.start()
        LOG.error(
            "lost the connection to libvirt at %s (%s); reconnecting every %.1f s",
            self.uri,
            reason,
            self._reconnect_interval,
        )
        self._on_status(False, f"connection to {self.uri} lost: {reason}")

    def _reconnect(self, old: libvirt.virConnect) -> None:
        self._release(old)
        attempts = 0
        while not self._stopped.wait(self._reconnect_interval):
            attempts += 1
            try:
                conn = self._open()
            except libvirt.libvirtError as exc:
                LOG.debug("reconnect %d to %s failed: %s", attempts, self.uri, exc)
                continue
            with self._lock:
                if self._stopped.is_set():
                    self._release(conn)
                    return
                self._conn, self._available = conn, True
                self.lost_reason = ""
            LOG.info("connection to libvirt at %s is back after %d attempts", self.uri, attempts)
            self._on_status(True, f"connection to {self.uri} restored")
            return
