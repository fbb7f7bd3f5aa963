"""Events a virt driver sends to the compute manager, and their delivery.

Two kinds of event reach the listener a manager registers with
:meth:`~nubis.core.virt.driver.ComputeDriver.register_event_listener`:

* :class:`LifecycleEvent` -- a guest on this host changed state by itself or because of
  an operation: ``STARTED``, ``STOPPED``, ``PAUSED``, ``RESUMED``, and
  ``MIGRATION_COMPLETED`` (sent by the *source* host once a live-migrated guest has left
  it; the manager must not take it for a stop). Guest changes that are steps of a live
  migration in progress (paused for the switch-over, the incoming guest starting on the
  destination) are not reported.
* :class:`HypervisorStatusEvent` -- the connection to the hypervisor was lost
  (``available=False``) or is back (``available=True``). The manager disables its
  service while the hypervisor is unavailable and enables it again when it returns.

:class:`EventDispatcher` delivers events in the order they were emitted, one at a
time, from its own thread: a listener never runs in the thread that called a driver
method (or in a hypervisor's event loop), so it may call the driver itself. An
exception a listener raises is logged and the next event is delivered.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable

LOG = logging.getLogger(__name__)

STARTED = "STARTED"
STOPPED = "STOPPED"
PAUSED = "PAUSED"
RESUMED = "RESUMED"
MIGRATION_COMPLETED = "MIGRATION_COMPLETED"

TRANSITIONS = frozenset({STARTED, STOPPED, PAUSED, RESUMED, MIGRATION_COMPLETED})


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of all virt events; ``timestamp`` is seconds since the epoch (time.time())."""

    timestamp: float = dataclasses.field(default_factory=time.time, kw_only=True)


@dataclasses.dataclass(frozen=True)
class LifecycleEvent(Event):
    """Guest *instance_uuid* went through *transition* (one of :data:`TRANSITIONS`)."""

    instance_uuid: str
    transition: str

    def __post_init__(self) -> None:
        if self.transition not in TRANSITIONS:
            raise ValueError(
                f"unknown lifecycle transition {self.transition!r}; "
                f"known: {', '.join(sorted(TRANSITIONS))}"
            )


@dataclasses.dataclass(frozen=True)
class HypervisorStatusEvent(Event):
    """The hypervisor connection became available or unavailable; *reason* says why."""

    available: bool
    reason: str = ""


Listener = Callable[[Event], None]


class EventDispatcher:
    """Deliver events to one listener, in order, from a thread of its own.

    The thread starts with the first event and exits after *idle_exit* seconds without
    one, so an idle driver holds no thread and nothing needs stopping.
    """

    def __init__(self, name: str = "virt-events", idle_exit: float = 5.0) -> None:
        self._name = name
        self._idle_exit = idle_exit
        self._queue: queue.Queue[Event] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None
        self._pending = 0
        self._drained = threading.Condition(self._lock)

    def set_listener(self, listener: Listener | None) -> None:
        """Deliver future events to *listener* (None: drop them)."""
        with self._lock:
            self._listener = listener

    def emit(self, event: Event) -> None:
        """Queue *event* for delivery; returns at once."""
        with self._lock:
            if self._listener is None:
                return
            self._pending += 1
            self._queue.put(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued event was delivered; False when *timeout* passed first."""
        deadline = time.monotonic() + timeout
        with self._drained:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._drained.wait(left)
        return True

    def _run(self) -> None:
        while True:
            try:
                event = self._queue.get(timeout=self._idle_exit)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            with self._lock:
                listener = self._listener
            try:
                if listener is not None:
                    listener(event)
            except Exception:
                LOG.exception("virt event listener failed on %s", event)
            finally:
                with self._drained:
                    self._pending -= 1
                    self._drained.notify_all()
