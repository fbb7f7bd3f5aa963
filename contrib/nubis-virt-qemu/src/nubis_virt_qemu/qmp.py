"""QMP connections to the guests' QEMU processes, on one event loop thread (qemu.qmp).

QEMU's own Python client (``qemu.qmp``) is asyncio-based. A driver owns one
:class:`QmpLoop`: an event loop running in a daemon thread, on which every
:class:`Monitor` (one QMP connection to one QEMU process) lives. Driver methods, called
from many threads, run a command with :meth:`Monitor.execute`, which hands the
coroutine to the loop and waits for its result -- never longer than the timeout given.

A monitor also watches its connection: each QMP event goes to ``on_event(name, data)``
and the end of the connection (QEMU exited, or was killed) to ``on_close()``, both
called in the loop's thread, one at a time. They must not call :meth:`Monitor.execute`
(that would wait on the thread they run in); they may emit driver events.

QEMU accepts one client per QMP socket at a time: a monitor holds its connection for
the life of the process (or until :meth:`Monitor.close`), and a second monitor of the
same socket waits in the listen queue until its connect timeout runs out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from qemu.qmp import ExecuteError, QMPClient, QMPError
from qemu.qmp.protocol import Runstate

LOG = logging.getLogger(__name__)

T = TypeVar("T")

# How often a watcher re-checks its connection even without a state-change wake-up.
WATCH_POLL = 1.0


class QmpError(Exception):
    """A QMP command failed: QEMU refused it, did not answer in time, or is gone.

    ``gone`` is True when the connection ended (the process exited): the guest is off.
    """

    def __init__(self, message: str, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class _Quiet(logging.LoggerAdapter):
    """qemu.qmp's per-connection logger with everything demoted to debug.

    It logs an error for every refused connect and an info line whenever QEMU exits;
    the driver reports what matters itself.
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


class QmpLoop:
    """An asyncio event loop in a daemon thread; see the module docstring."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        # Give tasks cancelled by stop() their last step, then close.
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, coro: Awaitable[T], timeout: float, what: str) -> T:
        """Run *coro* on the loop; return its result or raise QmpError after *timeout* s."""
        if self.in_loop():
            raise RuntimeError(f"{what}: a QMP call cannot wait in the QMP loop's own thread")
        if not self._thread.is_alive():
            raise QmpError(f"{what}: the driver's QMP loop is stopped", gone=True)

        async def bounded() -> T:
            return await asyncio.wait_for(coro, timeout)

        future = asyncio.run_coroutine_threadsafe(bounded(), self.loop)
        try:
            return future.result(timeout + 1.0)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise QmpError(f"{what}: no answer within {timeout:g} s") from None

    def call_soon(self, func: Callable[[], Any]) -> None:
        """Run *func* in the loop's thread (returns at once)."""
        self.loop.call_soon_threadsafe(func)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait for its thread (at most *timeout* s)."""
        if not self._started:
            self.loop.close()
            return
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)


EventHandler = Callable[[str, dict[str, Any]], None]


class Monitor:
    """One QMP connection to one QEMU process; see the module docstring."""

    def __init__(
        self,
        loop: QmpLoop,
        socket_path: str,
        name: str,
        on_event: EventHandler | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.socket_path = socket_path
        self.name = name
        self._on_event = on_event
        self._on_close = on_close
        self._client: QMPClient | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._closing = False
        #: Set once the connection has ended, whoever ended it.
        self.closed = threading.Event()

    # --- from driver threads -------------------------------------------------------------

    def connect(self, timeout: float, alive: Callable[[], bool] | None = None) -> None:
        """Connect and negotiate; raise QmpError when QEMU does not let us in in time.

        With *alive* (is the QEMU process still there?) a refused connection is tried
        again until *timeout*: QEMU binds its socket a moment before it listens.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.1, deadline - time.monotonic())
            try:
                self.loop.run(self._connect(), left, f"QMP connect to {self.name}")
                return
            except QmpError:
                if alive is None or not alive() or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def execute(
        self, command: str, arguments: dict[str, Any] | None = None, *, timeout: float
    ) -> Any:
        """Run one QMP command and return its ``return`` value.

        Raises QmpError with QEMU's own error text when it refuses the command,
        ``gone=True`` when the process is not there any more, and after *timeout* s.
        """
        what = f"{command} on {self.name}"
        return self.loop.run(self._execute(command, arguments, what), timeout, what)

    def close(self, timeout: float = 5.0) -> None:
        """Drop the connection without telling the owner (the process keeps running)."""
        self._closing = True
        if self._client is None or self.closed.is_set():
            self.closed.set()
            return
        try:
            self.loop.run(self._disconnect(), timeout, f"QMP disconnect from {self.name}")
        except QmpError as exc:
            LOG.debug("%s", exc)
        self.closed.set()

    # --- in the loop -----------------------------------------------------------------------

    async def _connect(self) -> None:
        client = QMPClient(self.name)
        client.logger = _Quiet(client.logger, {})  # type: ignore[assignment]
        try:
            await client.connect(self.socket_path)
        except QMPError as exc:
            raise QmpError(
                f"QMP connect to {self.name} ({self.socket_path}): {exc}", gone=True
            ) from None
        except OSError as exc:
            raise QmpError(
                f"QMP connect to {self.name} ({self.socket_path}): {exc}", gone=True
            ) from None
        self._client = client
        self._watcher = asyncio.get_running_loop().create_task(self._watch(client))

    async def _execute(self, command: str, arguments: dict[str, Any] | None, what: str) -> Any:
        client = self._client
        if client is None or client.runstate != Runstate.RUNNING:
            raise QmpError(f"{what}: not connected (QEMU has exited)", gone=True)
        try:
            return await client.execute(command, arguments)
        except ExecuteError as exc:
            raise QmpError(f"{what}: {exc}") from None
        except QMPError as exc:
            gone = client.runstate != Runstate.RUNNING
            raise QmpError(f"{what}: {type(exc).__name__} {exc}".strip(), gone=gone) from None

    async def _disconnect(self) -> None:
        client = self._client
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        if client is not None and client.runstate != Runstate.IDLE:
            with contextlib.suppress(Exception):  # EOF and friends: it is going away anyway
                await client.disconnect()

    async def _watch(self, client: QMPClient) -> None:
        """Hand each event to on_event until the connection ends, then call on_close."""
        events = client.events
        while client.runstate == Runstate.RUNNING:
            getter = asyncio.ensure_future(events.get())
            changed = asyncio.ensure_future(client.runstate_changed())
            try:
                done, _pending = await asyncio.wait(
                    {getter, changed}, timeout=WATCH_POLL, return_when=asyncio.FIRST_COMPLETED
                )
            finally:  # also when this watcher is cancelled: no task is left pending
                changed.cancel()
                if not getter.done():
                    getter.cancel()
            if getter in done:
                self._dispatch(getter.result())
            # The listener also keeps every event in a debugging history: a guest that
            # runs for months must not grow it for ever.
            events._history.clear()
        # Events that arrived with the end of the connection (SHUTDOWN, ...).
        for message in events.clear():
            self._dispatch(message)
        with contextlib.suppress(Exception):  # EOF: QEMU is gone, as expected
            await client.disconnect()
        # The owner hears of the end before anyone waiting on `closed` wakes up.
        if not self._closing and self._on_close is not None:
            try:
                self._on_close()
            except Exception:
                LOG.exception("close handler of %s failed", self.name)
        self.closed.set()

    def _dispatch(self, message: Any) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(str(message["event"]), dict(message.get("data") or {}))
        except Exception:
            LOG.exception("QMP event handler of %s failed on %s", self.name, message)
