"""Live migration in the compute manager: the source's side and the destination's.

:class:`LiveMigrations` carries out the manager's live-migration RPC methods (same
names; the flow is in :mod:`.manager`'s docstring and the message sequence in
:mod:`nubis.core.compute.rpcapi`).

The source
    ``live_migration`` (a cast) registers a :class:`_Job`, marks the Migration
    ``queued`` and the instance ``migrating``, and starts the job's own thread. The
    thread waits for one of ``[compute] max_concurrent_live_migrations`` slots (polling,
    so that a queued job can be cancelled), then asks the destination to prepare, lets
    the driver copy, and ends through the driver's post or recover callback, or a
    rollback on both hosts.

The destination
    The checks, ``pre_live_migration`` (which claims the guest's resources on a node:
    the incoming claim, held here until post or rollback settles or aborts it),
    ``post_live_migration_at_destination`` and
    ``rollback_live_migration_at_destination`` are RPC calls from the source.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
import uuid as uuid_module
from typing import Any

from nubis.core import exception, metrics, objects
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import (
    LIVE_MIGRATION,
    InstanceActionName,
    MigrationStatus,
    TaskState,
    VMState,
)
from nubis.core.virt import migration as lm
from nubis.plugins.managers.compute.nodes import NodeTrackers
from nubis.plugins.managers.compute.operations import (
    INSTANCE_LOCK_TIMEOUT,
    LOG,
    REFUSALS,
    ManagerView,
    Operations,
)


class _Cancelled(Exception):
    """A live migration was aborted before the driver started copying."""


class LiveMigrationFailed(exception.NubisException):
    """Recorded as the fault and event error of a migration the driver gave up on."""

    msg_fmt = "live migration of instance %(instance_uuid)s to %(dest)s %(outcome)s: %(reason)s"


@dataclasses.dataclass
class _Job:
    """One live migration this host runs as the source."""

    context: Any
    instance: Any
    dest: str
    block_migration: bool
    migrate_data: dict[str, Any]
    migration: Any
    vm_state: str = VMState.ACTIVE  # what the instance goes back to if it stays here
    phase: str = MigrationStatus.QUEUED
    cancelled: threading.Event = dataclasses.field(default_factory=threading.Event)
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    ended: bool = False
    samples: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)
    thread: threading.Thread | None = None


class LiveMigrations:
    """The live migrations of the manager seen through *view*, to and from its host."""

    def __init__(self, view: ManagerView, ops: Operations, nodes: NodeTrackers) -> None:
        self._view = view
        self._ops = ops
        self._nodes = nodes
        self._jobs: dict[str, _Job] = {}  # by instance uuid
        self._lock = threading.Lock()
        limit = int(view.conf.compute.max_concurrent_live_migrations)
        self._slots = threading.BoundedSemaphore(limit) if limit > 0 else None
        self._stopping = threading.Event()

    @property
    def _driver(self) -> Any:
        return self._view.driver

    def _power_state(self, instance: Any) -> int:
        return hypervisor_power_state(self._view.driver, instance)

    def in_flight(self) -> set[str]:
        """The instances whose live migration from this host is queued or running."""
        with self._lock:
            return set(self._jobs)

    def stop(self, timeout: float) -> None:
        """Cancel the queued migrations, wait up to *timeout* seconds for running ones."""
        self._stopping.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            if job.phase == MigrationStatus.QUEUED:
                job.cancelled.set()
        deadline = time.monotonic() + timeout
        for job in jobs:
            job.done.wait(max(0.0, deadline - time.monotonic()))

    # --- the source's check (an RPC call from the destination) ---------------------------

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the source: can the guest leave? Returns migrate_data."""
        with self._ops.operation(
            context,
            instance,
            "compute_check_can_live_migrate_source",
            InstanceActionName.LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            data = self._driver.check_can_live_migrate_source(context, instance, dest_check_data)
            return lm.serialisable(data)

    # --- the migration (a cast, then the job's own thread) ---------------------------------

    def live_migration(
        self,
        context: Any,
        instance: Any,
        dest: str,
        block_migration: bool = False,
        migrate_data: dict[str, Any] | None = None,
        migration: Any = None,
    ) -> None:
        """Queue the live migration of *instance* to *dest*; returns at once (a cast).

        A 1.0 sender passes no *migration*: the record is looked up here (the newest
        live migration of the instance from this host to *dest* that has not started),
        or created when the sender made none.
        """
        if migration is None:
            migration = self._find_live_migration(context, instance, dest)
        job = _Job(
            context=context,
            instance=instance,
            dest=dest,
            block_migration=bool(block_migration),
            migrate_data=dict(migrate_data or {}),
            migration=migration,
            vm_state=instance.vm_state or VMState.ACTIVE,
        )
        # Registered before "queued" is visible, so an abort that follows it finds the job.
        with self._lock:
            previous = self._jobs.get(instance.uuid)
            self._jobs[instance.uuid] = job
        with self._ops.locks.hold(instance.uuid, "live_migration", INSTANCE_LOCK_TIMEOUT):
            migration.status = MigrationStatus.QUEUED
            migration.save()
            try:
                instance.task_state = TaskState.MIGRATING
                instance.save(
                    expected_task_state=[None, TaskState.MIGRATING],
                    expected_vm_state=[VMState.ACTIVE, VMState.PAUSED],
                )
            except REFUSALS as exc:
                with self._lock:
                    if previous is None:
                        self._jobs.pop(instance.uuid, None)
                    else:
                        self._jobs[instance.uuid] = previous
                LOG.warning(
                    "live migration of %s refused: %s", instance.uuid, exception.one_line(exc)
                )
                migration.status = MigrationStatus.ERROR
                migration.save()
                metrics.live_migration_finished(
                    MigrationStatus.ERROR, time.monotonic() - job.started
                )
                self._ops.event_start(
                    context,
                    instance.uuid,
                    "compute_live_migration",
                    InstanceActionName.LIVE_MIGRATION,
                )
                self._ops.event_finish(context, instance.uuid, "compute_live_migration", exc)
                return
        job.thread = threading.Thread(
            target=self._run_live_migration,
            args=(job,),
            name=f"live-migration-{instance.uuid[:8]}",
            daemon=True,
        )
        job.thread.start()
        LOG.info("live migration %s of %s to %s queued", migration.uuid, instance.uuid, dest)

    def _find_live_migration(self, context: Any, instance: Any, dest: str) -> Any:
        candidates = [
            m
            for m in objects.MigrationList.get_by_instance(context, instance.uuid)
            if m.migration_type == LIVE_MIGRATION
            and m.status in (MigrationStatus.ACCEPTED, MigrationStatus.QUEUED)
            and m.source_compute == self._view.host
            and m.dest_compute in (dest, None)
        ]
        if candidates:
            migration = candidates[-1]
            LOG.info(
                "live_migration from a 1.0 sender: found migration %s of %s",
                migration.uuid,
                instance.uuid,
            )
            return migration
        migration = objects.Migration(context)
        migration.uuid = str(uuid_module.uuid4())
        migration.instance_uuid = instance.uuid
        migration.migration_type = LIVE_MIGRATION
        migration.source_compute = self._view.host
        migration.source_node = instance.node
        migration.dest_compute = dest
        migration.status = MigrationStatus.ACCEPTED
        migration.create()
        LOG.info(
            "live_migration from a 1.0 sender without a migration record: created %s for %s",
            migration.uuid,
            instance.uuid,
        )
        return migration

    def live_migration_abort(self, context: Any, instance: Any, migration_id: int) -> None:
        """Abort the live migration *migration_id*: cancel it if queued, else stop the copy."""
        with self._lock:
            job = self._jobs.get(instance.uuid)
        if job is None or job.migration.id != migration_id:
            LOG.warning(
                "live_migration_abort: migration %s of instance %s is not running on %s",
                migration_id,
                instance.uuid,
                self._view.host,
            )
            return
        with self._ops.operation(
            context,
            instance,
            "compute_live_migration_abort",
            InstanceActionName.LIVE_MIGRATION_CANCEL,
            call=True,
            lock=False,
        ):
            job.cancelled.set()
            if job.phase != MigrationStatus.RUNNING:
                return  # the thread sees the flag before the copy begins
            # The driver may not have registered its job yet: retry briefly.
            deadline = time.monotonic() + 5.0
            while True:
                try:
                    self._driver.live_migration_abort(instance)
                    return
                except exception.NoActiveMigrationForInstance:
                    if job.ended or job.done.is_set() or time.monotonic() > deadline:
                        return
                    time.sleep(0.05)

    def _set_status(self, job: _Job, status: str) -> None:
        job.phase = status
        job.migration.status = status
        job.migration.save()

    def _wait_for_slot(self, job: _Job) -> bool:
        if self._slots is None:
            return True
        while not (job.cancelled.is_set() or self._stopping.is_set()):
            if self._slots.acquire(timeout=0.1):
                return True
        return False

    def _run_live_migration(self, job: _Job) -> None:
        """The migration's own thread: wait for a slot, migrate, roll back on failure."""
        context, instance = job.context, job.instance
        # oslo.log finds the request context of a record in the thread's store: this
        # thread logs for the request that asked for the migration.
        context.update_store()
        self._ops.event_start(
            context, instance.uuid, "compute_live_migration", InstanceActionName.LIVE_MIGRATION
        )
        slot = False
        try:
            slot = self._wait_for_slot(job)
            if not slot:
                why = "the compute service is stopping" if self._stopping.is_set() else "aborted"
                self._end_failed(job, MigrationStatus.CANCELLED, f"{why} while queued", None)
                return
            self._live_migrate(job)
        except Exception as exc:
            if not job.ended:
                cancelled = isinstance(exc, _Cancelled)
                expected = isinstance(
                    exc,
                    (
                        exception.MigrationPreCheckError,
                        exception.ComputeResourcesUnavailable,
                        exception.LiveMigrationNotSupported,
                    ),
                )
                if not (cancelled or expected):
                    LOG.exception("live migration of %s to %s failed", instance.uuid, job.dest)
                status = (
                    MigrationStatus.CANCELLED
                    if cancelled
                    else MigrationStatus.FAILED
                    if expected
                    else MigrationStatus.ERROR
                )
                self._rollback(job, status, exception.one_line(exc), None if cancelled else exc)
            else:
                LOG.exception("live migration of %s: error after it ended", instance.uuid)
        finally:
            if slot and self._slots is not None:
                self._slots.release()
            with self._lock:
                if self._jobs.get(instance.uuid) is job:
                    del self._jobs[instance.uuid]
            job.done.set()

    def _live_migrate(self, job: _Job) -> None:
        context, instance = job.context, job.instance
        self._set_status(job, MigrationStatus.PREPARING)
        data = self._view.compute_rpcapi.pre_live_migration(
            context,
            instance,
            job.dest,
            lm.serialisable(job.migrate_data),
            timeout=self._view.rpc_timeout,
        )
        job.migrate_data = dict(data)
        if job.cancelled.is_set():
            raise _Cancelled("aborted by request before the copy began")
        self._set_status(job, MigrationStatus.RUNNING)
        if job.cancelled.is_set():
            raise _Cancelled("aborted by request before the copy began")
        run_data = dict(job.migrate_data)
        run_data[lm.PROGRESS_CALLBACK] = functools.partial(self._on_progress, job)
        LOG.info(
            "live migration %s of %s to %s running", job.migration.uuid, instance.uuid, job.dest
        )
        self._driver.live_migration(
            context,
            instance,
            job.dest,
            functools.partial(self._post_live_migration, job),
            functools.partial(self._recover_live_migration, job),
            job.block_migration,
            run_data,
        )
        if not job.ended:
            raise exception.NubisException(
                f"the virt driver's live_migration returned without calling post_method "
                f"or recover_method for {instance.uuid}"
            )

    def _on_progress(self, job: _Job, progress: lm.MigrationProgress) -> None:
        migration = job.migration
        migration.memory_total = progress.memory_total
        migration.memory_processed = progress.memory_processed
        migration.memory_remaining = progress.memory_remaining
        migration.disk_total = progress.disk_total
        migration.disk_processed = progress.disk_processed
        migration.disk_remaining = progress.disk_remaining
        migration.save()
        job.samples += 1

    def _post_live_migration(
        self,
        job: _Job,
        context: Any,
        instance: Any,
        dest: str,
        block_migration: bool,
        migrate_data: dict[str, Any],
    ) -> None:
        """The driver's post_method: the guest runs on *dest* and no longer here."""
        job.ended = True
        migration = job.migration
        source_node = instance.node
        try:
            self._view.compute_rpcapi.post_live_migration_at_destination(
                context,
                instance,
                dest,
                block_migration,
                node=migration.dest_node,
                timeout=self._view.rpc_timeout,
            )
        except Exception as exc:
            LOG.exception(
                "instance %s runs on %s but the destination did not take it over",
                instance.uuid,
                dest,
            )
            instance.host = dest
            instance.node = migration.dest_node
            instance.vm_state = VMState.ERROR
            instance.task_state = None
            try:
                instance.save()
            except Exception:
                LOG.exception("recording instance %s on %s failed", instance.uuid, dest)
            self._ops.record_fault(context, instance.uuid, exc)
            self._finish_migration(job, MigrationStatus.ERROR, exc)
            self._nodes.forget_instance(context, instance.uuid)
            return
        if source_node:
            rt = self._nodes.snapshot().get(source_node)
            if rt is not None:
                rt.remove_instance(context, instance.uuid)
        self._finish_migration(job, MigrationStatus.COMPLETED, None)
        LOG.info(
            "live migration %s of %s to %s completed in %.1f s",
            migration.uuid,
            instance.uuid,
            dest,
            time.monotonic() - job.started,
        )

    def _recover_live_migration(
        self,
        job: _Job,
        context: Any,
        instance: Any,
        dest: str,
        migrate_data: dict[str, Any],
    ) -> None:
        """The driver's recover_method: the guest still runs here; roll back."""
        cancelled = migrate_data.get(lm.RESULT) == lm.RESULT_CANCELLED
        reason = str(migrate_data.get(lm.ERROR) or "no reason given")
        job.migrate_data = lm.serialisable(migrate_data)
        self._rollback(
            job,
            MigrationStatus.CANCELLED if cancelled else MigrationStatus.FAILED,
            reason,
            None,
        )

    def _rollback(self, job: _Job, status: str, reason: str, exc: BaseException | None) -> None:
        """Undo a live migration on both hosts; the instance stays active on the source."""
        job.ended = True
        context, instance = job.context, job.instance
        try:
            self._view.compute_rpcapi.rollback_live_migration_at_destination(
                context,
                instance,
                job.dest,
                lm.serialisable(job.migrate_data),
                timeout=self._view.rpc_timeout,
            )
        except Exception:
            LOG.exception("rolling back live migration of %s on %s failed", instance.uuid, job.dest)
            status = MigrationStatus.ERROR
        self._end_failed(job, status, reason, exc)

    def _end_failed(self, job: _Job, status: str, reason: str, exc: BaseException | None) -> None:
        """End a migration that did not happen: the instance stays here, as it was, no task."""
        job.ended = True
        context, instance = job.context, job.instance
        try:
            instance.task_state = None
            instance.vm_state = job.vm_state
            instance.power_state = self._power_state(instance)
            instance.save(expected_task_state=[TaskState.MIGRATING])
        except Exception:
            LOG.exception("restoring instance %s after its live migration failed", instance.uuid)
        error = exc or LiveMigrationFailed(
            instance_uuid=instance.uuid,
            dest=job.dest,
            outcome="was cancelled" if status == MigrationStatus.CANCELLED else "failed",
            reason=reason,
        )
        if status != MigrationStatus.CANCELLED:
            self._ops.record_fault(context, instance.uuid, error)
        log = LOG.info if status == MigrationStatus.CANCELLED else LOG.warning
        log(
            "live migration %s of %s to %s %s: %s",
            job.migration.uuid,
            instance.uuid,
            job.dest,
            status,
            reason,
        )
        self._finish_migration(job, status, error)

    def _finish_migration(self, job: _Job, status: str, exc: BaseException | None) -> None:
        context, instance = job.context, job.instance
        # Counted before the status is saved: whoever sees the migration end sees it counted.
        metrics.live_migration_finished(status, time.monotonic() - job.started)
        try:
            self._set_status(job, status)
        except Exception:
            LOG.exception("saving the status %s of migration %s failed", status, job.migration.uuid)
        self._ops.event_and_action_finish(context, instance.uuid, "compute_live_migration", exc)
