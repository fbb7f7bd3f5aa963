"""One live migration of a libvirt guest: the job, its progress, abort and timeout.

:meth:`LiveMigrationJob.run` starts ``migrateToURI3(dest_uri, params, LIVE | PEER2PEER |
PERSIST_DEST | UNDEFINE_SOURCE)`` in a thread of its own and, in the calling thread,
reads ``jobStats()`` every ``interval`` seconds, reporting each sample to the progress
callback. It aborts the job (``abortJob()``) when :meth:`LiveMigrationJob.abort` is
called -- from any thread, even before libvirt has started the job -- or when the
completion timeout runs out, and returns the outcome as (result, error) with the
result constants of :mod:`nubis.core.virt.migration`.

Every wait is bounded, including the one on libvirt itself. Measured here (libvirt 9.0,
QEMU 7.2, peer-to-peer between two libvirtds on one machine): about one abortJob() in
five leaves ``migrateToURI3`` waiting for ever -- QEMU reports the migration
``cancelled`` and the guest running, but libvirt's outgoing-migration job never ends
(neither a second abortJob() nor stopping the jobStats() polls changes that). So after
the abort the monitor stops sampling and waits at most ``abort_timeout`` seconds; then
it gives up on the stuck call (its thread is left to libvirt) and reports the migration
as not done, with that reason: the guest keeps running on the source, though libvirt
may refuse other jobs on it until libvirtd is restarted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import libvirt

from nubis.core.virt import migration as lm
from nubis.plugins.virt.libvirt import guest_xml

LOG = logging.getLogger(__name__)

FLAGS = (
    libvirt.VIR_MIGRATE_LIVE
    | libvirt.VIR_MIGRATE_PEER2PEER
    | libvirt.VIR_MIGRATE_PERSIST_DEST
    | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
)

_RUNNING_JOBS = (libvirt.VIR_DOMAIN_JOB_BOUNDED, libvirt.VIR_DOMAIN_JOB_UNBOUNDED)


def progress_from_stats(stats: dict[str, Any], elapsed: float) -> lm.MigrationProgress:
    """Turn a ``virDomainGetJobStats`` dict into a MigrationProgress."""

    def get(key: str) -> int:
        return int(stats.get(key, 0) or 0)

    return lm.MigrationProgress(
        elapsed=elapsed,
        memory_total=get(libvirt.VIR_DOMAIN_JOB_MEMORY_TOTAL),
        memory_processed=get(libvirt.VIR_DOMAIN_JOB_MEMORY_PROCESSED),
        memory_remaining=get(libvirt.VIR_DOMAIN_JOB_MEMORY_REMAINING),
        disk_total=get(libvirt.VIR_DOMAIN_JOB_DISK_TOTAL),
        disk_processed=get(libvirt.VIR_DOMAIN_JOB_DISK_PROCESSED),
        disk_remaining=get(libvirt.VIR_DOMAIN_JOB_DISK_REMAINING),
    )


def migration_params(
    dom: libvirt.virDomain, bandwidth: int, dest_console_log: str
) -> dict[str, Any]:
    """The ``migrateToURI3`` parameters of *dom*'s migration: the bandwidth cap (MiB/s,
    0 for none) and, when the guest's console log is to be another file on the
    destination (another instances_path), the domain XML the destination runs and
    keeps."""
    params: dict[str, Any] = {}
    if bandwidth:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = bandwidth
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
    if guest_xml.console_log_path(xml) not in (None, dest_console_log):
        moved = guest_xml.with_console_log(xml, dest_console_log)
        # The running guest's XML, and the definition PERSIST_DEST keeps there.
        params[libvirt.VIR_MIGRATE_PARAM_DEST_XML] = moved
        params[libvirt.VIR_MIGRATE_PARAM_PERSIST_XML] = moved
    return params


class LiveMigrationJob:
    """Migrate *dom* to *dest_uri*; see the module docstring."""

    def __init__(
        self,
        dom: libvirt.virDomain,
        dest_uri: str,
        params: dict[str, Any],
        progress: Callable[[lm.MigrationProgress], None] | None,
        interval: float,
        timeout: float,
        abort_timeout: float = 30.0,
    ) -> None:
        self.dom = dom
        self.dest_uri = dest_uri
        self.params = params
        self.progress = progress
        self.interval = interval
        self.timeout = timeout
        self.abort_timeout = abort_timeout
        self._wake = threading.Event()
        self._abort_reason: str | None = None
        self._cancelled = False
        self._aborted_at: float | None = None
        self._error: str | None = None
        self.samples = 0

    def abort(self, reason: str = "aborted by request", cancelled: bool = True) -> None:
        """Ask the job to stop; the monitor calls abortJob() as soon as the job exists."""
        if self._abort_reason is None:
            self._abort_reason = reason
            self._cancelled = cancelled
        self._wake.set()

    def run(self) -> tuple[str, str]:
        """Run the migration to its end; return (result, error).

        A migration that does not complete leaves a guest that was running before it
        running on the source: QEMU pauses the source for the switch-over, and an
        abort or failure at that moment can leave it paused, so it is resumed.
        """
        was_running = self._source_state() == libvirt.VIR_DOMAIN_RUNNING
        result, error = self._monitor()
        if (
            result != lm.RESULT_COMPLETED
            and was_running
            and self._source_state() == libvirt.VIR_DOMAIN_PAUSED
        ):
            self._resume_source()
        return result, error

    def _source_state(self) -> int | None:
        """The guest's libvirt state on the source, or None if libvirt cannot say (the
        guest is gone from this host, for one)."""
        try:
            return int(self.dom.state()[0])
        except libvirt.libvirtError:
            return None

    def _resume_source(self) -> None:
        uuid = self.dom.UUIDString()
        try:
            self.dom.resume()
        except libvirt.libvirtError as exc:
            LOG.error(
                "live migration of %s did not complete and left the guest paused on the "
                "source; resuming it failed: %s",
                uuid,
                " ".join(str(exc).split()),
            )
            return
        LOG.warning(
            "live migration of %s did not complete and left the guest paused on the "
            "source; resumed it",
            uuid,
        )

    def _monitor(self) -> tuple[str, str]:
        started = time.monotonic()
        worker = threading.Thread(target=self._migrate, name="libvirt-migrate", daemon=True)
        worker.start()
        while worker.is_alive():
            self._wake.wait(self.interval)
            self._wake.clear()
            if not worker.is_alive():
                break
            elapsed = time.monotonic() - started
            if self.timeout and elapsed > self.timeout and self._abort_reason is None:
                self.abort(
                    f"did not complete within {self.timeout:g} s (completion timeout)",
                    cancelled=False,
                )
            if self._aborted_at is not None:
                if time.monotonic() - self._aborted_at > self.abort_timeout:
                    return self._give_up()
                continue  # cancelling: wait for libvirt to end the job, no more samples
            job_running = self._sample(elapsed)
            if self._abort_reason is not None and job_running:
                self._abort_job()
        worker.join()
        if self._error is None:
            return lm.RESULT_COMPLETED, ""
        if self._abort_reason is not None:
            result = lm.RESULT_CANCELLED if self._cancelled else lm.RESULT_FAILED
            return result, f"live migration {self._abort_reason}: {self._error}"
        return lm.RESULT_FAILED, self._error

    def _migrate(self) -> None:
        try:
            self.dom.migrateToURI3(self.dest_uri, self.params, FLAGS)
        except libvirt.libvirtError as exc:
            self._error = " ".join(str(exc).split())
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._wake.set()

    def _give_up(self) -> tuple[str, str]:
        uuid = self.dom.UUIDString()
        LOG.error(
            "libvirt did not end the aborted live migration of %s within %g s; giving up "
            "on it (the guest runs here; libvirt may refuse other jobs on it until "
            "libvirtd restarts)",
            uuid,
            self.abort_timeout,
        )
        result = lm.RESULT_CANCELLED if self._cancelled else lm.RESULT_FAILED
        return result, (
            f"live migration {self._abort_reason}; libvirt did not end the job within "
            f"{self.abort_timeout:g} s of abortJob()"
        )

    def _sample(self, elapsed: float) -> bool:
        """Read the job statistics, report them; return whether a job is running."""
        try:
            stats = self.dom.jobStats()
        except libvirt.libvirtError as exc:
            LOG.debug("jobStats of %s failed: %s", self.dom.UUIDString(), exc)
            return False
        if stats.get("type") not in _RUNNING_JOBS:
            return False
        self.samples += 1
        if self.progress is not None:
            lm.report_progress(
                self.progress, progress_from_stats(stats, elapsed), self.dom.UUIDString()
            )
        return True

    def _abort_job(self) -> None:
        try:
            self.dom.abortJob()
        except libvirt.libvirtError as exc:
            # No job yet, or it just ended: the next tick tries again or sees the end.
            LOG.debug("abortJob of %s failed: %s", self.dom.UUIDString(), exc)
            return
        self._aborted_at = time.monotonic()
        LOG.info("aborting live migration of %s: %s", self.dom.UUIDString(), self._abort_reason)
