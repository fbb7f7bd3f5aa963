"""The live-migration data protocol between the manager and a virt driver.

``migrate_data`` is a plain dict that travels the whole live-migration sequence::

    dest:   data = check_can_live_migrate_destination(ctx, inst, src_info, dst_info)
    source: data = check_can_live_migrate_source(ctx, inst, data)
    dest:   data = pre_live_migration(ctx, inst, bdi, net, disk_info, data)
    source: data[PROGRESS_CALLBACK] = <manager's callable>   (added locally, never sent)
            live_migration(ctx, inst, dest, post_method, recover_method, False, data)
              -> post_method(ctx, inst, dest, block_migration, data)     on success, or
              -> recover_method(ctx, inst, dest, data)                   on any failure
    dest:   post_live_migration_at_destination(...)  or  rollback_live_migration_at_destination(...)

Every value in it is JSON-serialisable (it crosses the message bus between the checks)
except :data:`PROGRESS_CALLBACK`, which the source manager adds just before calling
``live_migration`` and which the driver never returns from a check. Drivers may add keys
of their own, prefixed with their plugin name (``libvirt_...``, ``fake_...``); the keys
below are common to all drivers.

Progress: while the migration runs, the driver calls ``migrate_data[PROGRESS_CALLBACK]``
(when present) with a :class:`MigrationProgress`, from the thread that called
``live_migration``, at an interval of the driver's (libvirt: ``[libvirt]
live_migration_progress_interval``, 0.5 s). It may be called zero times (a migration
faster than one interval) and there is no final "100 %" call: the outcome is the
post/recover call. The callback may call ``live_migration_abort``. An exception it
raises is logged and ignored. The manager typically copies the fields onto its
Migration record (``memory_total``, ``memory_processed``, ...).

Outcome: before calling ``recover_method`` the driver sets :data:`RESULT` to
:data:`RESULT_CANCELLED` (``live_migration_abort`` was called) or :data:`RESULT_FAILED`
(an error, or the completion timeout ran out) and :data:`ERROR` to a one-line reason;
before calling ``post_method`` it sets :data:`RESULT` to :data:`RESULT_COMPLETED`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from nubis.core import exception

LOG = logging.getLogger(__name__)

#: str -- the destination compute host's name (set by the destination check).
DEST_HOST = "dest_host"
#: bool -- whether disks are copied (block migration); drivers here only do False.
BLOCK_MIGRATION = "block_migration"
#: callable(MigrationProgress) -- added by the source manager, see the module docstring.
PROGRESS_CALLBACK = "progress_callback"
#: str -- outcome set by the driver before it calls post_method / recover_method.
RESULT = "result"
#: str -- one-line reason of a cancelled or failed migration.
ERROR = "error"

RESULT_COMPLETED = "completed"
RESULT_CANCELLED = "cancelled"
RESULT_FAILED = "failed"


JobT = TypeVar("JobT")


class ActiveMigrations(Generic[JobT]):
    """The live migrations one driver is running, by instance uuid; thread-safe.

    A driver registers its job object for as long as the migration runs
    (``with active.running(instance.uuid, job): ...``), which refuses a second
    migration of the same instance with MigrationPreCheckError; its
    ``live_migration_abort`` finds the job with :meth:`get`, which raises
    NoActiveMigrationForInstance when there is none. What a job is, and how it is
    aborted, is the driver's.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, JobT] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def running(self, instance_uuid: str, job: JobT) -> Iterator[JobT]:
        """Hold *job* as *instance_uuid*'s migration for the ``with`` block."""
        with self._lock:
            if instance_uuid in self._jobs:
                raise exception.MigrationPreCheckError(
                    instance_uuid=instance_uuid, reason="a live migration is already running"
                )
            self._jobs[instance_uuid] = job
        try:
            yield job
        finally:
            with self._lock:
                self._jobs.pop(instance_uuid, None)

    def get(self, instance_uuid: str) -> JobT:
        """The running migration's job; NoActiveMigrationForInstance if none runs."""
        with self._lock:
            job = self._jobs.get(instance_uuid)
        if job is None:
            raise exception.NoActiveMigrationForInstance(instance_uuid=instance_uuid)
        return job

    def jobs(self) -> list[JobT]:
        """The jobs running now (a copy: the caller may abort them)."""
        with self._lock:
            return list(self._jobs.values())


@dataclasses.dataclass(frozen=True)
class MigrationProgress:
    """A progress sample of a running live migration; sizes in bytes, 0 when unknown."""

    elapsed: float  # seconds since the migration started
    memory_total: int = 0
    memory_processed: int = 0
    memory_remaining: int = 0
    disk_total: int = 0
    disk_processed: int = 0
    disk_remaining: int = 0

    @property
    def percent(self) -> float:
        """Memory copied so far as a percentage of the total (0 while the total is unknown)."""
        if not self.memory_total:
            return 0.0
        done = self.memory_total - self.memory_remaining
        return max(0.0, min(100.0, 100.0 * done / self.memory_total))


def serialisable(migrate_data: dict[str, Any]) -> dict[str, Any]:
    """Return *migrate_data* without the keys that must not cross the message bus."""
    return {k: v for k, v in migrate_data.items() if k != PROGRESS_CALLBACK}


def report_progress(
    callback: Callable[[MigrationProgress], Any] | None, progress: MigrationProgress, what: str
) -> None:
    """Hand *progress* to the manager's *callback* (if any); an exception it raises is
    logged and ignored, as the contract says. *what* names the migration in the log."""
    if callback is None:
        return
    try:
        callback(progress)
    except Exception:
        LOG.exception("progress callback of the live migration of %s failed", what)


def report_outcome(
    context: Any,
    instance: Any,
    dest: str,
    block_migration: bool,
    migrate_data: dict[str, Any],
    result: str,
    error: str,
    post_method: Callable[..., Any],
    recover_method: Callable[..., Any],
) -> None:
    """End ``live_migration`` as the contract says: record :data:`RESULT` (and
    :data:`ERROR` unless completed) in *migrate_data*, then call exactly one of
    *post_method* (completed) or *recover_method* (cancelled or failed)."""
    migrate_data[RESULT] = result
    if result == RESULT_COMPLETED:
        post_method(context, instance, dest, block_migration, migrate_data)
    else:
        migrate_data[ERROR] = error
        recover_method(context, instance, dest, migrate_data)
