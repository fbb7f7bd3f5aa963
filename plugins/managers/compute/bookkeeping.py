"""Records of failed operations that could not be written when they failed.

When an operation fails because the database (through the conductor) or the message
bus is away, writing what the failure means -- the InstanceFault, the task state put
back, the end of the action and its event -- fails for the same reason. Those writes
are not dropped: :class:`PendingRecords` keeps them, in order, and a thread of its own
writes them again every ``[compute] bookkeeping_retry_interval`` seconds until they
succeed, until they no longer apply (the instance is gone, or another operation took
it), or until ``[compute] bookkeeping_retry_timeout`` passed since they were kept. At
most :data:`MAX_PENDING` records are kept; beyond that the oldest is dropped. Every
record kept, written late and dropped is logged (one line each).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from nubis.core import exception

LOG = logging.getLogger("nubis.plugins.managers.compute.manager")

#: Records kept at most (one failed operation keeps up to four).
MAX_PENDING = 4000

#: Errors after which retrying a record is pointless: it no longer applies.
GONE = (
    exception.InstanceNotFound,
    exception.InstanceActionNotFound,
    exception.InstanceActionEventNotFound,
    exception.UnexpectedTaskStateError,
    exception.UnexpectedVMStateError,
)


def is_transient(error: BaseException) -> bool:
    """Whether writing a record again may succeed: anything but nubis' own verdicts
    (a database or conductor error, a timeout, a lost connection); a nubis verdict
    only when it says a service is away."""
    if isinstance(error, (exception.ServiceUnavailable, exception.DatabaseUnavailable)):
        return True
    return not isinstance(error, exception.NubisException)


@dataclasses.dataclass
class _Record:
    what: str
    write: Callable[[], Any]
    deadline: float
    attempts: int = 1


class PendingRecords:
    """The records a compute host still has to write (see the module docstring)."""

    def __init__(self, conf: Any, host: str) -> None:
        self.conf = conf
        self.host = host
        self._records: collections.deque[_Record] = collections.deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.written_late = 0
        self.dropped = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def pending(self) -> list[str]:
        """What is waiting to be written, oldest first (one line each)."""
        with self._lock:
            return [r.what for r in self._records]

    def write(self, what: str, write: Callable[[], Any]) -> bool:
        """Write a record now; when that fails on a transient error, keep it for later.

        Returns True when written now, False when kept or when it no longer applies.
        While older records wait, a new one waits behind them without trying (they
        failed for a reason that holds for it too, and the order is kept).
        """
        with self._lock:
            waiting = bool(self._records)
        if waiting:
            self.keep(what, write, None)
            return False
        try:
            write()
            return True
        except GONE as exc:
            LOG.info("%s: not needed any more (%s)", what, exception.one_line(exc))
            return False
        except Exception as exc:
            if not is_transient(exc):
                LOG.exception("%s failed", what)
                return False
            self.keep(what, write, exc)
            return False

    def keep(self, what: str, write: Callable[[], Any], error: BaseException | None) -> None:
        """Keep *write* (that just failed with *error*, or waits behind others) to be
        written later."""
        timeout = float(self.conf.compute.bookkeeping_retry_timeout)
        record = _Record(what, write, time.monotonic() + timeout)
        with self._lock:
            self._records.append(record)
            dropped = self._records.popleft() if len(self._records) > MAX_PENDING else None
            self._start_locked()
        LOG.warning(
            "%s %s; kept, to be written again every %g s for up to %g s",
            what,
            "waits behind earlier records"
            if error is None
            else f"failed ({exception.one_line(error)})",
            float(self.conf.compute.bookkeeping_retry_interval),
            timeout,
        )
        if dropped is not None:
            self.dropped += 1
            LOG.error("too many records waiting; dropped the oldest: %s", dropped.what)

    def flush(self) -> int:
        """Try every kept record once, in order; return how many are left.

        Stops at the first one that fails on a transient error (the others would fail
        the same way) except that records past their deadline are dropped first.
        """
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._records:
                    return 0
                record = self._records[0]
            if now > record.deadline:
                self._drop(record, "gave up after [compute] bookkeeping_retry_timeout")
                continue
            try:
                record.write()
            except GONE as exc:
                self._drop(record, f"not needed any more ({exception.one_line(exc)})", log=False)
                continue
            except Exception as exc:
                if not is_transient(exc):
                    self._drop(record, f"failed: {exception.one_line(exc)}")
                    continue
                record.attempts += 1
                with self._lock:
                    return len(self._records)
            with self._lock:
                if self._records and self._records[0] is record:
                    self._records.popleft()
            self.written_late += 1
            LOG.info("%s: written after %d attempts", record.what, record.attempts)

    def _drop(self, record: _Record, why: str, log: bool = True) -> None:
        with self._lock:
            if self._records and self._records[0] is record:
                self._records.popleft()
        if log:
            self.dropped += 1
            LOG.error("%s: %s; dropped", record.what, why)
        else:
            LOG.info("%s: %s", record.what, why)

    def _start_locked(self) -> None:
        if self._thread is None and not self._stopped.is_set():
            self._thread = threading.Thread(
                target=self._run, name=f"nubis-bookkeeping-{self.host}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(float(self.conf.compute.bookkeeping_retry_interval))
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                self.flush()
            except Exception:  # keep the thread alive whatever a record does
                LOG.exception("writing the kept records failed")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the retrying thread (records left are logged as dropped)."""
        self._stopped.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:
            left = list(self._records)
            self._records.clear()
        for record in left:
            self.dropped += 1
            LOG.error("%s: not written before the service stopped; dropped", record.what)
