"""ComputeManager: the endpoint of nubis-compute (``nubis.managers: compute``).

It serves :class:`nubis.core.compute.rpcapi.ComputeAPI` (its public RPC methods match
that client's one to one) and talks to the hypervisor only through the virt driver that
``[compute] virt_driver`` names, loaded with :func:`nubis.core.plugins.load_one`.

Operations
    Each instance operation moves ``task_state`` with compare-and-swap saves
    (``save(expected_task_state=[...])``): the first save claims the instance for the
    operation -- accepting the task state a caller may already have set, or none -- and
    the last one ends it only if nobody took the instance meanwhile. A refused
    transition (another task or vm_state) is logged and recorded on the action's event,
    and changes nothing. Any other error reverts ``task_state`` to None (a failed build
    also sets ``vm_state`` error), records an InstanceFault, and records the event as
    failed. Every user-visible operation records an instance action (started here when
    the caller did not) with an event named like Nova's (``compute_stop_instance``).
    Operations, the power-state sync and the lifecycle-event listener on one instance
    are serialised by a per-instance lock taken with a timeout.

Live migration (docs/architecture.md, flow 3; the message sequence is in
:mod:`nubis.core.compute.rpcapi`)
    The ``live_migration`` cast marks the Migration ``queued`` and the instance
    ``migrating``, hands the work to a thread of its own and returns the RPC worker at
    once. The thread waits for one of ``[compute] max_concurrent_live_migrations``
    slots (polling, so a queued migration can be cancelled), then: ``preparing``
    (pre_live_migration on the destination, an RPC call with a timeout) -> ``running``
    (the driver copies; each progress sample is written to the Migration) ->
    ``completed`` after post_live_migration_at_destination on the destination has moved
    the instance's host and node there. A failure or an abort rolls back on both hosts
    (rollback_live_migration_at_destination on the destination, the instance active
    with no task on the source) and ends ``failed`` or ``cancelled``, or ``error`` when
    the rollback itself or a post-migration step failed. Every RPC call made while a
    slot is held has a timeout (``rpc_response_timeout``).

Hypervisor status
    A HypervisorStatusEvent saying the hypervisor went away disables this host's
    service record (reason ``AUTO: ...``); the one saying it is back enables it again
    (only if it was this manager that disabled it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
import uuid as uuid_module
from collections.abc import Iterator
from typing import Any

import oslo_messaging as messaging
from oslo_utils import timeutils

from nubis.core import exception, objects, plugins
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    DELETABLE_TASK_STATES,
    LIVE_MIGRATION,
    InstanceActionName,
    MigrationStatus,
    TaskState,
    VMState,
)
from nubis.core.conductor import rpcapi as conductor_rpcapi
from nubis.core.context import get_admin_context
from nubis.core.manager import Manager
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import events as virt_events
from nubis.core.virt import migration as lm
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.locks import KeyedLocks
from nubis.plugins.managers.compute.resource_tracker import (
    DEFAULT_LOCK_TIMEOUT,
    Claim,
    ResourceTracker,
    resources_of,
)
from nubis.plugins.managers.compute.tasks import ComputeTasks

LOG = logging.getLogger(__name__)

#: Seconds an operation waits for its instance's lock (held briefly by the sync and
#: the event listener, or by another operation that slipped past the task-state guard).
INSTANCE_LOCK_TIMEOUT = 30.0
#: Seconds between two requests to a guest to shut down during a clean stop.
SHUTDOWN_RETRY_INTERVAL = 10
#: Prefix of the disabled_reason this manager sets (and only then clears).
AUTO_DISABLED = "AUTO: "

ACTION_CREATE = InstanceActionName.CREATE
ACTION_START = InstanceActionName.START
ACTION_STOP = InstanceActionName.STOP
ACTION_REBOOT = InstanceActionName.REBOOT
ACTION_DELETE = InstanceActionName.DELETE
ACTION_LIVE_MIGRATION = InstanceActionName.LIVE_MIGRATION
ACTION_LIVE_MIGRATION_CANCEL = InstanceActionName.LIVE_MIGRATION_CANCEL

_REFUSALS = (exception.UnexpectedTaskStateError, exception.UnexpectedVMStateError)

# Task states a delete may interrupt (a live migration must end or be aborted first).
_DELETABLE = list(DELETABLE_TASK_STATES)


class _Reschedule(Exception):
    """A build failed on this host in a way another host may not fail (claim, spawn)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _Cancelled(Exception):
    """A live migration was aborted before the driver started copying."""


class LiveMigrationFailed(exception.NubisException):
    """Recorded as the fault and event error of a migration the driver gave up on."""

    msg_fmt = "live migration of instance %(instance_uuid)s to %(dest)s %(outcome)s: %(reason)s"


@dataclasses.dataclass
class _LiveMigration:
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


class ComputeManager(Manager):
    """Manages the guests of one compute host through its virt driver.

    *driver* may be given (an initialised-or-not ComputeDriver instance) instead of
    loading ``[compute] virt_driver``: tests and embedders that run several compute
    hosts with differently configured drivers in one process use it.
    """

    target = messaging.Target(version="1.2")
    service_name = "compute"

    def __init__(self, host: str, conf: Any = None, driver: Any = None) -> None:
        super().__init__(host, conf)
        self.driver: Any = driver
        self.compute_tasks = ComputeTasks(self)
        self.instance_locks = KeyedLocks("instance")
        self.hypervisor_available = True
        self._rpcapi: ComputeAPI | None = None
        self._trackers: dict[str, ResourceTracker] = {}
        self._trackers_lock = threading.Lock()
        self._live_migrations: dict[str, _LiveMigration] = {}
        self._incoming: dict[str, Claim] = {}
        self._lm_lock = threading.Lock()
        limit = int(self.conf.compute.max_concurrent_live_migrations)
        self._lm_slots = threading.BoundedSemaphore(limit) if limit > 0 else None
        self._stopping = threading.Event()

    # --- plumbing --------------------------------------------------------------------

    @property
    def compute_rpcapi(self) -> ComputeAPI:
        """The client this host uses to reach other compute hosts (made on first use)."""
        if self._rpcapi is None:
            self._rpcapi = ComputeAPI(conf=self.conf)
        return self._rpcapi

    @property
    def service_id(self) -> int | None:
        ref = getattr(self.service, "service_ref", None)
        return None if ref is None else int(ref.id)

    @property
    def rpc_timeout(self) -> float:
        return float(self.conf.rpc_response_timeout)

    def _tracker(self, nodename: str) -> ResourceTracker:
        """The resource tracker of node *nodename* (created on first use)."""
        with self._trackers_lock:
            rt = self._trackers.get(nodename)
            if rt is None:
                rt = ResourceTracker(self.host, self.driver, nodename, DEFAULT_LOCK_TIMEOUT)
                self._trackers[nodename] = rt
            return rt

    def _drop_tracker(self, nodename: str) -> None:
        with self._trackers_lock:
            self._trackers.pop(nodename, None)

    def _all_trackers(self) -> dict[str, ResourceTracker]:
        with self._trackers_lock:
            return dict(self._trackers)

    @property
    def resource_trackers(self) -> dict[str, ResourceTracker]:
        """The resource tracker of each node audited so far (a snapshot)."""
        return self._all_trackers()

    def _driver_power_state(self, instance: Any) -> int:
        """The guest's power state on the hypervisor; NOSTATE when it is missing."""
        try:
            return int(self.driver.get_info(instance).state)
        except exception.InstanceNotFound:
            return power_state.NOSTATE

    def _in_flight_instances(self) -> set[str]:
        """Instances a build, an incoming or an outgoing live migration holds right now."""
        result: set[str] = set()
        for rt in self._all_trackers().values():
            result |= rt.in_flight
        with self._lm_lock:
            result |= set(self._live_migrations) | set(self._incoming)
        return result

    def _forget_instance(self, context: Any, instance_uuid: str) -> None:
        """Stop counting *instance_uuid* on every node of this host."""
        for rt in self._all_trackers().values():
            if instance_uuid in rt.tracked:
                rt.remove_instance(context, instance_uuid)

    def _default_node(self) -> str:
        nodes = self.driver.get_available_nodes()
        if not nodes:
            raise exception.ComputeHostNotFound(host=self.host)
        return str(nodes[0])

    # --- lifecycle hooks -------------------------------------------------------------

    def init_host(self) -> None:
        """Load and start the virt driver, listen to its events, tidy stale task states."""
        objects.register_all()
        if self.driver is None:
            driver_cls = plugins.load_one(
                "nubis.virt", self.conf.compute.virt_driver, "[compute] virt_driver"
            )
            self.driver = driver_cls(self.conf)
        self.driver.init_host(self.host)
        self.driver.register_event_listener(self._handle_event)
        self._init_instances(get_admin_context())

    def pre_start_hook(self) -> None:
        """Audit resources once before RPC starts, so the ComputeNode exists for claims."""
        context = get_admin_context()
        if not self.driver.is_hypervisor_available():
            self._set_hypervisor_available(context, False, "unavailable at start")
        try:
            self.compute_tasks.update_available_resource(context)
        except Exception:
            LOG.exception(
                "the first resource audit of %s failed; the periodic task retries", self.host
            )

    def cleanup_host(self) -> None:
        """Cancel queued migrations, wait (bounded) for running ones, stop the driver."""
        self._stopping.set()
        with self._lm_lock:
            jobs = list(self._live_migrations.values())
        for job in jobs:
            if job.phase == MigrationStatus.QUEUED:
                job.cancelled.set()
        deadline = time.monotonic() + float(self.conf.graceful_shutdown_timeout or 60)
        for job in jobs:
            job.done.wait(max(0.0, deadline - time.monotonic()))
        if self.driver is not None:
            self.driver.register_event_listener(None)
            self.driver.cleanup_host(self.host)

    def reset(self) -> None:
        """SIGHUP: rebuild the RPC client (``[upgrade_levels] compute`` may have changed)."""
        self._rpcapi = None

    def _init_instances(self, context: Any) -> None:
        """After a restart: end the tasks the previous process left half done."""
        for instance in objects.InstanceList.get_by_host(context, self.host):
            if instance.task_state is None:
                continue
            previous = instance.task_state
            if instance.vm_state == VMState.BUILDING:
                instance.vm_state = VMState.ERROR
            instance.task_state = None
            instance.power_state = self._driver_power_state(instance)
            try:
                instance.save(expected_task_state=[previous])
            except _REFUSALS:
                continue
            LOG.warning(
                "instance %s was left in task %s by a previous run of this service; cleared",
                instance.uuid,
                previous,
            )
            if previous == TaskState.MIGRATING:
                for migration in objects.MigrationList.get_by_instance(context, instance.uuid):
                    if (
                        migration.source_compute == self.host
                        and migration.status in MigrationStatus.IN_PROGRESS
                    ):
                        migration.status = MigrationStatus.ERROR
                        migration.save()

    # --- events from the driver ------------------------------------------------------

    def _handle_event(self, event: virt_events.Event) -> None:
        context = get_admin_context()
        if isinstance(event, virt_events.HypervisorStatusEvent):
            self._set_hypervisor_available(context, event.available, event.reason)
            return
        if not isinstance(event, virt_events.LifecycleEvent):
            return
        if event.transition == virt_events.MIGRATION_COMPLETED:
            return  # the guest left by live migration: not a stop
        try:
            instance = objects.Instance.get_by_uuid(context, event.instance_uuid)
        except exception.InstanceNotFound:
            return
        if instance.host != self.host or instance.task_state is not None:
            return
        outcome = self.compute_tasks.sync_instance(context, instance)
        LOG.debug("lifecycle event %s of %s: %s", event.transition, instance.uuid, outcome)

    def _set_hypervisor_available(self, context: Any, available: bool, reason: str) -> None:
        self.hypervisor_available = available
        if self.service_id is None:
            return
        record = objects.Service.get_by_id(context, self.service_id)
        if available:
            if record.disabled and (record.disabled_reason or "").startswith(AUTO_DISABLED):
                record.disabled = False
                record.disabled_reason = None
                record.save()
                LOG.info("hypervisor of %s is back (%s): service enabled", self.host, reason)
        elif not record.disabled:
            record.disabled = True
            record.disabled_reason = f"{AUTO_DISABLED}hypervisor unavailable: {reason}"
            record.save()
            LOG.error("hypervisor of %s is unavailable (%s): service disabled", self.host, reason)

    # --- bookkeeping: actions, events, faults ----------------------------------------

    def _event_start(self, context: Any, instance_uuid: str, event: str, action: str) -> None:
        try:
            try:
                objects.InstanceActionEvent.event_start(
                    context, instance_uuid, event, host=self.host
                )
            except exception.InstanceActionNotFound:
                objects.InstanceAction.action_start(context, instance_uuid, action)
                objects.InstanceActionEvent.event_start(
                    context, instance_uuid, event, host=self.host
                )
        except Exception:
            LOG.exception("recording the start of %s on %s failed", event, instance_uuid)

    def _event_finish(
        self, context: Any, instance_uuid: str, event: str, exc: BaseException | None = None
    ) -> None:
        try:
            objects.InstanceActionEvent.event_end(context, instance_uuid, event, exc)
        except Exception:
            LOG.exception("recording the end of %s on %s failed", event, instance_uuid)

    def _action_finish(self, context: Any, instance_uuid: str) -> None:
        try:
            objects.InstanceAction.action_finish(context, instance_uuid)
        except Exception:
            LOG.exception("recording the end of the action on %s failed", instance_uuid)

    def _record_fault(self, context: Any, instance_uuid: str, exc: BaseException) -> None:
        try:
            objects.InstanceFault.from_exception(context, instance_uuid, exc, self.host).create()
        except Exception:
            LOG.exception("recording a fault on %s failed", instance_uuid)

    def _revert_task_state(self, context: Any, instance: Any, vm_state: str | None) -> None:
        try:
            instance.task_state = None
            if vm_state is not None:
                instance.vm_state = vm_state
            instance.save()
        except exception.InstanceNotFound:
            pass
        except Exception:
            LOG.exception("reverting the task state of %s failed", instance.uuid)

    @contextlib.contextmanager
    def _operation(
        self,
        context: Any,
        instance: Any,
        event: str,
        action: str,
        *,
        error_vm_state: str | None = None,
        call: bool = False,
        lock: bool = True,
        reraise: tuple[type[BaseException], ...] = (),
    ) -> Iterator[None]:
        """Bookkeeping around one operation on *instance* (see the module docstring).

        A cast operation (*call* False) records what went wrong and returns: there is
        no caller to raise to. A step of a call (*call* True, e.g. a live-migration
        check) re-raises to its caller (nubis exceptions as expected ones, so the
        server logs no traceback for them), records no fault, reverts nothing (the
        instance belongs to the caller's operation) and leaves the action open. An
        exception of a *reraise* type is recorded on the event and re-raised with the
        action left open, for the caller to carry on (a reschedule).
        """
        held = (
            self.instance_locks.hold(instance.uuid, event, INSTANCE_LOCK_TIMEOUT)
            if lock
            else contextlib.nullcontext()
        )
        with held:
            self._event_start(context, instance.uuid, event, action)
            try:
                yield
            except reraise as exc:
                self._event_finish(context, instance.uuid, event, exc)
                raise
            except _REFUSALS as exc:
                LOG.warning(
                    "%s of instance %s refused: %s", event, instance.uuid, exception.one_line(exc)
                )
                self._event_finish(context, instance.uuid, event, exc)
                if call:
                    raise messaging.ExpectedException() from exc
                self._action_finish(context, instance.uuid)
            except Exception as exc:
                expected = isinstance(exc, exception.NubisException)
                if call:
                    self._event_finish(context, instance.uuid, event, exc)
                    if expected:  # the caller handles it; no traceback in this log
                        raise messaging.ExpectedException() from exc
                    raise
                # A cast has no caller to raise to: the fault, the event and this log
                # line are the record (with the traceback when it is not one of ours).
                (LOG.error if expected else LOG.exception)(
                    "%s of instance %s failed: %s", event, instance.uuid, exception.one_line(exc)
                )
                self._record_fault(context, instance.uuid, exc)
                self._revert_task_state(context, instance, error_vm_state)
                self._event_finish(context, instance.uuid, event, exc)
                self._action_finish(context, instance.uuid)
            else:
                self._event_finish(context, instance.uuid, event)
                if not call:
                    self._action_finish(context, instance.uuid)

    # --- instance operations (RPC, casts) --------------------------------------------

    def build_and_run_instance(
        self, context: Any, instance: Any, node: str | None = None, request_spec: Any = None
    ) -> None:
        """Claim resources on *node*, spawn the guest, mark the instance active.

        When the claim or the spawn fails and the sender gave *request_spec* (1.2), the
        half-built guest is destroyed, the failure recorded as a fault and on the
        event, and the instance handed back to the conductor to be rescheduled without
        this host; without it, the instance goes to ERROR.
        """
        if request_spec is not None:
            try:
                self._build(context, instance, node, reschedule=True)
            except _Reschedule as failure:
                self._reschedule(context, instance, request_spec, failure.cause)
            return
        self._build(context, instance, node, reschedule=False)

    def _build(self, context: Any, instance: Any, node: str | None, reschedule: bool) -> None:
        with self._operation(
            context,
            instance,
            "compute_build_and_run_instance",
            ACTION_CREATE,
            error_vm_state=VMState.ERROR,
            reraise=(_Reschedule,),
        ):
            nodename = node or self._default_node()
            try:
                with self._tracker(nodename).instance_claim(context, instance):
                    instance.vm_state = VMState.BUILDING
                    instance.task_state = TaskState.SPAWNING
                    instance.host = self.host
                    instance.node = nodename
                    instance.save(
                        expected_task_state=[TaskState.SCHEDULING, None],
                        expected_vm_state=[VMState.BUILDING],
                    )
                    try:
                        self.driver.spawn(context, instance)
                    except Exception:
                        if reschedule:
                            self._destroy_quietly(context, instance)
                        raise
            except _REFUSALS:
                raise
            except Exception as exc:
                if not reschedule:
                    raise
                raise _Reschedule(exc) from exc
            instance.power_state = self._driver_power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.launched_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.SPAWNING])
            LOG.info("instance %s built on %s (node %s)", instance.uuid, self.host, nodename)

    def _destroy_quietly(self, context: Any, instance: Any) -> None:
        try:
            self.driver.destroy(context, instance)
        except exception.InstanceNotFound:
            pass
        except Exception:
            LOG.exception("removing the failed guest of %s failed", instance.uuid)

    def _reschedule(
        self, context: Any, instance: Any, request_spec: Any, cause: BaseException
    ) -> None:
        """Hand a failed build back to the conductor, without this host."""
        LOG.warning(
            "build of instance %s failed on %s, rescheduling: %s",
            instance.uuid,
            self.host,
            exception.one_line(cause),
        )
        self._record_fault(context, instance.uuid, cause)
        try:
            instance.host = None
            instance.node = None
            instance.vm_state = VMState.BUILDING
            instance.task_state = TaskState.SCHEDULING
            instance.save(expected_task_state=[TaskState.SPAWNING, TaskState.SCHEDULING, None])
        except exception.InstanceNotFound:
            LOG.info("instance %s was deleted during its build; not rescheduling", instance.uuid)
            return
        if self.host not in request_spec.ignore_hosts:
            request_spec.ignore_hosts = [*request_spec.ignore_hosts, self.host]
        conductor_rpcapi.ComputeTaskAPI(conf=self.conf).build_instances(
            context, [instance], request_spec
        )

    def start_instance(self, context: Any, instance: Any) -> None:
        """Power a stopped instance on."""
        with self._operation(context, instance, "compute_start_instance", ACTION_START):
            instance.task_state = TaskState.POWERING_ON
            instance.save(
                expected_task_state=[None, TaskState.POWERING_ON],
                expected_vm_state=[VMState.STOPPED],
            )
            self.driver.power_on(context, instance)
            instance.power_state = self._driver_power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[TaskState.POWERING_ON])

    def stop_instance(self, context: Any, instance: Any, clean_shutdown: bool = True) -> None:
        """Power an instance off (asking the guest first with *clean_shutdown*)."""
        with self._operation(context, instance, "compute_stop_instance", ACTION_STOP):
            self._power_off_instance(
                context,
                instance,
                clean_shutdown,
                [VMState.ACTIVE, VMState.ERROR, VMState.PAUSED, VMState.SUSPENDED],
            )

    def _stop_for_sync(self, context: Any, instance: Any) -> None:
        """The power-state sync's stop: force the guest off and record the instance stopped."""
        with self._operation(context, instance, "compute_stop_instance", ACTION_STOP):
            self._power_off_instance(
                context,
                instance,
                False,
                [VMState.ACTIVE, VMState.STOPPED, VMState.PAUSED, VMState.SUSPENDED],
            )

    def _power_off_instance(
        self, context: Any, instance: Any, clean_shutdown: bool, vm_states: list[str]
    ) -> None:
        instance.task_state = TaskState.POWERING_OFF
        instance.save(
            expected_task_state=[None, TaskState.POWERING_OFF], expected_vm_state=vm_states
        )
        timeout = int(self.conf.compute.shutdown_timeout) if clean_shutdown else 0
        self.driver.power_off(instance, timeout, SHUTDOWN_RETRY_INTERVAL)
        instance.power_state = self._driver_power_state(instance)
        instance.vm_state = VMState.STOPPED
        instance.task_state = None
        instance.save(expected_task_state=[TaskState.POWERING_OFF])

    def reboot_instance(
        self, context: Any, instance: Any, reboot_type: str = virt_driver.REBOOT_SOFT
    ) -> None:
        """Reboot an instance; a HARD reboot also starts a stopped one."""
        with self._operation(context, instance, "compute_reboot_instance", ACTION_REBOOT):
            if reboot_type not in virt_driver.REBOOT_TYPES:
                raise exception.InvalidRebootType(reboot_type=reboot_type)
            hard = reboot_type == virt_driver.REBOOT_HARD
            task = TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING
            instance.task_state = task
            instance.save(
                expected_task_state=[None, TaskState.REBOOTING, TaskState.REBOOTING_HARD],
                expected_vm_state=(
                    [VMState.ACTIVE, VMState.STOPPED, VMState.ERROR] if hard else [VMState.ACTIVE]
                ),
            )
            self.driver.reboot(context, instance, reboot_type=reboot_type)
            instance.power_state = self._driver_power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[task])

    def terminate_instance(self, context: Any, instance: Any) -> None:
        """Destroy the guest (and its disks) and delete the instance."""
        with self._operation(
            context,
            instance,
            "compute_terminate_instance",
            ACTION_DELETE,
            error_vm_state=VMState.ERROR,
        ):
            instance.task_state = TaskState.DELETING
            instance.save(expected_task_state=_DELETABLE)
            self.driver.destroy(context, instance, destroy_disks=True)
            instance.vm_state = VMState.DELETED
            instance.task_state = None
            instance.power_state = power_state.NOSTATE
            instance.terminated_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.DELETING])
            self._forget_instance(context, instance.uuid)
            instance.destroy()
            LOG.info("instance %s deleted on %s", instance.uuid, self.host)

    # --- live migration: the destination's side (RPC, calls) --------------------------

    def check_can_live_migrate_destination(
        self, context: Any, instance: Any, block_migration: bool = False
    ) -> dict[str, Any]:
        """On the destination: check with the driver, then ask the source; return migrate_data."""
        with self._operation(
            context,
            instance,
            "compute_check_can_live_migrate_destination",
            ACTION_LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            source = objects.ComputeNode.get_by_host_and_nodename(
                context, instance.host, instance.node
            )
            nodename = self._default_node()
            rt = self._tracker(nodename)
            dest = rt.compute_node or objects.ComputeNode.get_by_host_and_nodename(
                context, self.host, nodename
            )
            dest_check_data = self.driver.check_can_live_migrate_destination(
                context, instance, resources_of(source), resources_of(dest), block_migration
            )
            result: dict[str, Any] = self.compute_rpcapi.check_can_live_migrate_source(
                context, instance, lm.serialisable(dest_check_data), timeout=self.rpc_timeout
            )
            return result

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the source: can the guest leave? Returns migrate_data."""
        with self._operation(
            context,
            instance,
            "compute_check_can_live_migrate_source",
            ACTION_LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            data = self.driver.check_can_live_migrate_source(context, instance, dest_check_data)
            return lm.serialisable(data)

    def pre_live_migration(
        self, context: Any, instance: Any, migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the destination: claim the guest's resources and let the driver prepare."""
        with self._operation(
            context,
            instance,
            "compute_pre_live_migration",
            ACTION_LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            claim = self._tracker(self._default_node()).incoming_claim(context, instance)
            try:
                data = self.driver.pre_live_migration(
                    context, instance, None, None, None, dict(migrate_data)
                )
            except Exception:
                claim.abort()
                raise
            with self._lm_lock:
                self._incoming[instance.uuid] = claim
            return lm.serialisable(data)

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        block_migration: bool = False,
        node: str | None = None,
    ) -> None:
        """On the destination: take the arrived guest over; the instance is now here."""
        with self._operation(
            context,
            instance,
            "compute_post_live_migration_at_destination",
            ACTION_LIVE_MIGRATION,
            call=True,
        ):
            self.driver.post_live_migration_at_destination(
                context, instance, None, block_migration, None
            )
            with self._lm_lock:
                claim = self._incoming.pop(instance.uuid, None)
            nodes = self.driver.get_available_nodes()
            instance.host = self.host
            instance.node = (
                node
                if node in nodes
                else (claim.tracker.nodename if claim is not None else self._default_node())
            )
            instance.power_state = self._driver_power_state(instance)
            instance.task_state = None  # vm_state stays what it was (active or paused)
            instance.progress = 0
            instance.save(expected_task_state=[TaskState.MIGRATING])
            if claim is not None:
                claim.settle()

    def rollback_live_migration_at_destination(
        self, context: Any, instance: Any, migrate_data: dict[str, Any] | None = None
    ) -> None:
        """On the destination: remove what pre_live_migration prepared, release the claim."""
        with self._operation(
            context,
            instance,
            "compute_rollback_live_migration_at_destination",
            ACTION_LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            try:
                self.driver.rollback_live_migration_at_destination(
                    context, instance, None, None, destroy_disks=True, migrate_data=migrate_data
                )
            finally:
                with self._lm_lock:
                    claim = self._incoming.pop(instance.uuid, None)
                if claim is not None:
                    claim.abort()

    # --- live migration: the source's side ---------------------------------------------

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
        job = _LiveMigration(
            context=context,
            instance=instance,
            dest=dest,
            block_migration=bool(block_migration),
            migrate_data=dict(migrate_data or {}),
            migration=migration,
            vm_state=instance.vm_state or VMState.ACTIVE,
        )
        # Registered before "queued" is visible, so an abort that follows it finds the job.
        with self._lm_lock:
            previous = self._live_migrations.get(instance.uuid)
            self._live_migrations[instance.uuid] = job
        with self.instance_locks.hold(instance.uuid, "live_migration", INSTANCE_LOCK_TIMEOUT):
            migration.status = MigrationStatus.QUEUED
            migration.save()
            try:
                instance.task_state = TaskState.MIGRATING
                instance.save(
                    expected_task_state=[None, TaskState.MIGRATING],
                    expected_vm_state=[VMState.ACTIVE, VMState.PAUSED],
                )
            except _REFUSALS as exc:
                with self._lm_lock:
                    if previous is None:
                        self._live_migrations.pop(instance.uuid, None)
                    else:
                        self._live_migrations[instance.uuid] = previous
                LOG.warning(
                    "live migration of %s refused: %s", instance.uuid, exception.one_line(exc)
                )
                migration.status = MigrationStatus.ERROR
                migration.save()
                self._event_start(
                    context, instance.uuid, "compute_live_migration", ACTION_LIVE_MIGRATION
                )
                self._event_finish(context, instance.uuid, "compute_live_migration", exc)
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
            and m.source_compute == self.host
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
        migration.source_compute = self.host
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
        with self._lm_lock:
            job = self._live_migrations.get(instance.uuid)
        if job is None or job.migration.id != migration_id:
            LOG.warning(
                "live_migration_abort: migration %s of instance %s is not running on %s",
                migration_id,
                instance.uuid,
                self.host,
            )
            return
        with self._operation(
            context,
            instance,
            "compute_live_migration_abort",
            ACTION_LIVE_MIGRATION_CANCEL,
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
                    self.driver.live_migration_abort(instance)
                    return
                except exception.NoActiveMigrationForInstance:
                    if job.ended or job.done.is_set() or time.monotonic() > deadline:
                        return
                    time.sleep(0.05)

    def _set_status(self, job: _LiveMigration, status: str) -> None:
        job.phase = status
        job.migration.status = status
        job.migration.save()

    def _wait_for_slot(self, job: _LiveMigration) -> bool:
        if self._lm_slots is None:
            return True
        while not (job.cancelled.is_set() or self._stopping.is_set()):
            if self._lm_slots.acquire(timeout=0.1):
                return True
        return False

    def _run_live_migration(self, job: _LiveMigration) -> None:
        """The migration's own thread: wait for a slot, migrate, roll back on failure."""
        context, instance = job.context, job.instance
        self._event_start(context, instance.uuid, "compute_live_migration", ACTION_LIVE_MIGRATION)
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
            if slot and self._lm_slots is not None:
                self._lm_slots.release()
            with self._lm_lock:
                if self._live_migrations.get(instance.uuid) is job:
                    del self._live_migrations[instance.uuid]
            job.done.set()

    def _live_migrate(self, job: _LiveMigration) -> None:
        context, instance = job.context, job.instance
        self._set_status(job, MigrationStatus.PREPARING)
        data = self.compute_rpcapi.pre_live_migration(
            context,
            instance,
            job.dest,
            lm.serialisable(job.migrate_data),
            timeout=self.rpc_timeout,
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
        self.driver.live_migration(
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

    def _on_progress(self, job: _LiveMigration, progress: lm.MigrationProgress) -> None:
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
        job: _LiveMigration,
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
            self.compute_rpcapi.post_live_migration_at_destination(
                context,
                instance,
                dest,
                block_migration,
                node=migration.dest_node,
                timeout=self.rpc_timeout,
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
            self._record_fault(context, instance.uuid, exc)
            self._finish_migration(job, MigrationStatus.ERROR, exc)
            self._forget_instance(context, instance.uuid)
            return
        if source_node:
            rt = self._all_trackers().get(source_node)
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
        job: _LiveMigration,
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

    def _rollback(
        self, job: _LiveMigration, status: str, reason: str, exc: BaseException | None
    ) -> None:
        """Undo a live migration on both hosts; the instance stays active on the source."""
        job.ended = True
        context, instance = job.context, job.instance
        try:
            self.compute_rpcapi.rollback_live_migration_at_destination(
                context,
                instance,
                job.dest,
                lm.serialisable(job.migrate_data),
                timeout=self.rpc_timeout,
            )
        except Exception:
            LOG.exception("rolling back live migration of %s on %s failed", instance.uuid, job.dest)
            status = MigrationStatus.ERROR
        self._end_failed(job, status, reason, exc)

    def _end_failed(
        self, job: _LiveMigration, status: str, reason: str, exc: BaseException | None
    ) -> None:
        """End a migration that did not happen: the instance stays here, as it was, no task."""
        job.ended = True
        context, instance = job.context, job.instance
        try:
            instance.task_state = None
            instance.vm_state = job.vm_state
            instance.power_state = self._driver_power_state(instance)
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
            self._record_fault(context, instance.uuid, error)
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

    def _finish_migration(
        self, job: _LiveMigration, status: str, exc: BaseException | None
    ) -> None:
        context, instance = job.context, job.instance
        try:
            self._set_status(job, status)
        except Exception:
            LOG.exception("saving the status %s of migration %s failed", status, job.migration.uuid)
        self._event_finish(context, instance.uuid, "compute_live_migration", exc)
        self._action_finish(context, instance.uuid)
