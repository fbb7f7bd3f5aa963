"""The source side of one live migration: ``migrate``, progress, cancel and timeout.

The destination QEMU was started with ``-incoming defer`` and listens
(``migrate-incoming``) on the URI it sent in migrate_data. :meth:`MigrationJob.run`
sets the bandwidth (``migrate-set-parameters``), starts the migration (``migrate``) and
reads ``query-migrate`` every ``interval`` seconds, reporting each sample with RAM
statistics to the progress callback, until QEMU says ``completed``, ``failed`` or
``cancelled``. :meth:`MigrationJob.abort` -- from any thread, even before the migration
has started -- and the completion timeout both cancel it (``migrate_cancel``); QEMU then
resumes the guest on the source if the switch-over had paused it. A cancel QEMU does
not finish within ``abort_timeout`` seconds is given up on and reported failed.

Outcomes are the result constants of :mod:`nubis.core.virt.migration`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from nubis.core.virt import migration as lm
from nubis_virt_qemu.qmp import QmpError

LOG = logging.getLogger(__name__)

#: "unlimited": QEMU wants a number; this is far beyond any link.
UNLIMITED_BANDWIDTH = 1 << 40

Execute = Callable[..., Any]


def progress_from_status(status: dict[str, Any], elapsed: float) -> lm.MigrationProgress:
    """Turn a ``query-migrate`` answer into a MigrationProgress (memory only)."""
    ram = status.get("ram") or {}
    total = int(ram.get("total", 0) or 0)
    remaining = int(ram.get("remaining", 0) or 0)
    return lm.MigrationProgress(
        elapsed=elapsed,
        memory_total=total,
        memory_processed=max(0, total - remaining),
        memory_remaining=remaining,
    )


class MigrationJob:
    """Migrate one guest through *execute* (its monitor's QMP call) to *uri*."""

    def __init__(
        self,
        name: str,
        execute: Execute,
        uri: str,
        progress: Callable[[lm.MigrationProgress], Any] | None,
        interval: float,
        timeout: float,
        abort_timeout: float,
        bandwidth_mib: int = 0,
    ) -> None:
        self.name = name
        self.execute = execute
        self.uri = uri
        self.progress = progress
        self.interval = interval
        self.timeout = timeout
        self.abort_timeout = abort_timeout
        self.bandwidth_mib = bandwidth_mib
        self.samples = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._abort_reason: str | None = None
        self._cancelled = False

    def abort(self, reason: str = "aborted by request", cancelled: bool = True) -> None:
        """Ask the migration to stop; the job's thread sends migrate_cancel."""
        with self._lock:
            if self._abort_reason is None:
                self._abort_reason = reason
                self._cancelled = cancelled
        self._wake.set()

    def _stopped(self, error: str) -> tuple[str, str]:
        result = lm.RESULT_CANCELLED if self._cancelled else lm.RESULT_FAILED
        return result, f"live migration {self._abort_reason}{': ' + error if error else ''}"

    def run(self) -> tuple[str, str]:
        """Run the migration to its end; return (result, error)."""
        with self._lock:
            if self._abort_reason is not None:
                return self._stopped("before it started")
        bandwidth = self.bandwidth_mib * 1024 * 1024 or UNLIMITED_BANDWIDTH
        self.execute("migrate-set-parameters", {"max-bandwidth": bandwidth})
        started = time.monotonic()
        self.execute("migrate", {"uri": self.uri})
        cancelled_at: float | None = None
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            elapsed = time.monotonic() - started
            if self.timeout and elapsed > self.timeout:
                self.abort(
                    f"did not complete within {self.timeout:g} s (completion timeout)",
                    cancelled=False,
                )
            if self._abort_reason is not None and cancelled_at is None:
                cancelled_at = time.monotonic()
                self._cancel()
            try:
                status = self.execute("query-migrate")
            except QmpError as exc:
                if exc.gone:
                    return lm.RESULT_FAILED, f"QEMU on the source exited: {exc}"
                LOG.debug("query-migrate of %s failed: %s", self.name, exc)
                status = {}
            state = status.get("status")
            if state == "completed":
                return lm.RESULT_COMPLETED, ""
            if state == "failed":
                error = str(status.get("error-desc") or "QEMU reports the migration failed")
                if self._abort_reason is not None:
                    return self._stopped(error)
                return lm.RESULT_FAILED, f"live migration failed: {error}"
            if state == "cancelled":
                return (
                    self._stopped("")
                    if self._abort_reason
                    else (lm.RESULT_FAILED, "live migration cancelled by someone else")
                )
            if cancelled_at is not None:
                if time.monotonic() - cancelled_at > self.abort_timeout:
                    LOG.error(
                        "QEMU did not end the cancelled live migration of %s within "
                        "%g s; giving up on it",
                        self.name,
                        self.abort_timeout,
                    )
                    return self._stopped(
                        f"QEMU did not end it within {self.abort_timeout:g} s of migrate_cancel"
                    )
                continue
            if state == "active" and status.get("ram"):
                self.samples += 1
                lm.report_progress(self.progress, progress_from_status(status, elapsed), self.name)

    def _cancel(self) -> None:
        try:
            self.execute("migrate_cancel")
        except QmpError as exc:
            LOG.debug("migrate_cancel of %s failed: %s", self.name, exc)
            return
        LOG.info("cancelling the live migration of %s: %s", self.name, self._abort_reason)
