"""The instance lifecycle operations of the compute manager: build (and reschedule),
start, stop, reboot, terminate, and the tidy-up of tasks a previous run left half done.

:class:`Lifecycle` carries them out for :class:`~.manager.ComputeManager`, whose RPC
methods of the same names hand them over; each runs inside
:meth:`.operations.Operations.operation` (the rules are in :mod:`.manager`'s docstring).
"""

from __future__ import annotations

import time
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, metrics, objects
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import (
    DELETABLE_TASK_STATES,
    HARD_REBOOT_TASK_STATES,
    HARD_REBOOT_VM_STATES,
    POWER_TASK_STATES,
    REBUILD_TASK_STATES,
    RESCUE_TASK_STATES,
    InstanceActionName,
    MigrationStatus,
    TaskState,
    VMState,
)
from nubis.core.conductor import rpcapi as conductor_rpcapi
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.nodes import NodeTrackers
from nubis.plugins.managers.compute.operations import LOG, REFUSALS, ManagerView, Operations
from nubis.plugins.managers.compute.power import settled_vm_state

#: Seconds between two requests to a guest to shut down during a clean stop.
SHUTDOWN_RETRY_INTERVAL = 10

# Task states a delete may interrupt (a live migration must end or be aborted first).
_DELETABLE = list(DELETABLE_TASK_STATES)


class _Reschedule(Exception):
    """A build failed on this host in a way another host may not fail (claim, spawn)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _build_outcome(instance: Any) -> str:
    """What a build that returned did: ``active`` (saved active), ``error`` (the
    operation recorded a failure) or ``refused`` (another task took the instance)."""
    if instance.vm_state == VMState.ACTIVE and "vm_state" not in instance.obj_what_changed():
        return "active"
    if instance.vm_state == VMState.ERROR:
        return "error"
    return "refused"


class Lifecycle:
    """Builds, starts, stops, reboots and deletes the instances of the manager in *view*."""

    def __init__(self, view: ManagerView, ops: Operations, nodes: NodeTrackers) -> None:
        self._view = view
        self._ops = ops
        self._nodes = nodes

    @property
    def _driver(self) -> Any:
        return self._view.driver

    def _power_state(self, instance: Any) -> int:
        return hypervisor_power_state(self._view.driver, instance)

    # --- after a restart -----------------------------------------------------------------

    def init_instances(self, context: Any) -> None:
        """After a restart: end the tasks the previous process left half done (a build,
        a rebuild, a rescue or an unrescue in ERROR with a fault: none can be resumed)."""
        host = self._view.host
        for instance in objects.InstanceList.get_by_host(context, host):
            if instance.task_state is None:
                continue
            previous = instance.task_state
            failed_build = instance.vm_state == VMState.BUILDING
            failed_rebuild = previous in REBUILD_TASK_STATES
            failed_rescue = previous in RESCUE_TASK_STATES
            if failed_build or failed_rebuild or failed_rescue:
                instance.vm_state = VMState.ERROR
            if instance.vm_state == VMState.SHELVED_OFFLOADED:
                # An unshelve cut short in its spawn: the instance stays offloaded.
                self._destroy_quietly(context, instance)
                instance.host = None
                instance.node = None
            instance.task_state = None
            instance.power_state = self._power_state(instance)
            if previous in POWER_TASK_STATES:
                instance.vm_state = settled_vm_state(
                    previous, instance.vm_state, instance.power_state
                )
            try:
                instance.save(expected_task_state=[previous])
            except REFUSALS:
                continue
            LOG.warning(
                "instance %s was left in task %s by a previous run of this service; cleared",
                instance.uuid,
                previous,
            )
            if failed_build:
                # Every ERROR says why (the build did not survive the restart).
                self._ops.record_fault(
                    context,
                    instance.uuid,
                    exception.InstanceBuildTimeout(
                        instance_uuid=instance.uuid,
                        reason=f"the compute service on {host} restarted during the build "
                        f"(task {previous}); it cannot be resumed",
                    ),
                )
            elif failed_rebuild:
                self._ops.record_fault(
                    context,
                    instance.uuid,
                    exception.InstanceRebuildFailure(
                        instance_uuid=instance.uuid,
                        reason=f"the compute service on {host} restarted during the rebuild "
                        f"(task {previous}); rebuild it again",
                    ),
                )
            elif failed_rescue:
                failure = (
                    exception.InstanceRescueFailure
                    if previous == TaskState.RESCUING
                    else exception.InstanceUnRescueFailure
                )
                self._ops.record_fault(
                    context,
                    instance.uuid,
                    failure(
                        instance_uuid=instance.uuid,
                        reason=f"the compute service on {host} restarted during it (task "
                        f"{previous}); rescue it again, then unrescue it",
                    ),
                )
            if previous == TaskState.MIGRATING:
                for migration in objects.MigrationList.get_by_instance(context, instance.uuid):
                    if (
                        migration.source_compute == host
                        and migration.status in MigrationStatus.IN_PROGRESS
                    ):
                        migration.status = MigrationStatus.ERROR
                        migration.save()

    # --- build ---------------------------------------------------------------------------

    def build_and_run_instance(
        self, context: Any, instance: Any, node: str | None, request_spec: Any
    ) -> None:
        """See ComputeManager.build_and_run_instance. The build's outcome and duration
        are recorded in :mod:`nubis.core.metrics`."""
        began = time.monotonic()
        outcome = "error"  # unless the build returns one
        try:
            outcome = self._build_here(context, instance, node, request_spec)
        finally:
            metrics.build_finished(outcome, time.monotonic() - began)

    def _build_here(self, context: Any, instance: Any, node: str | None, request_spec: Any) -> str:
        """Build on this host, handing a failed build back for a reschedule when there
        is a RequestSpec; return the outcome (:data:`nubis.core.metrics.BUILD_OUTCOMES`)."""
        if request_spec is not None:
            try:
                self._build(context, instance, node, reschedule=True)
            except _Reschedule as failure:
                self._reschedule(context, instance, request_spec, failure.cause)
                return "rescheduled"
        else:
            self._build(context, instance, node, reschedule=False)
        return _build_outcome(instance)

    def _build(self, context: Any, instance: Any, node: str | None, reschedule: bool) -> None:
        with self._ops.operation(
            context,
            instance,
            "compute_build_and_run_instance",
            InstanceActionName.CREATE,
            error_vm_state=VMState.ERROR,
            reraise=(_Reschedule,),
        ):
            nodename = node or self._nodes.default_node()
            try:
                with self._nodes.get(nodename).instance_claim(context, instance):
                    instance.vm_state = VMState.BUILDING
                    instance.task_state = TaskState.SPAWNING
                    instance.host = self._view.host
                    instance.node = nodename
                    instance.save(
                        expected_task_state=[TaskState.SCHEDULING, None],
                        expected_vm_state=[VMState.BUILDING],
                    )
                    started = time.monotonic()
                    try:
                        self._driver.spawn(context, instance)
                    except Exception:
                        if reschedule:
                            self._destroy_quietly(context, instance)
                        raise
                    # Logged before ACTIVE is saved: whoever sees ACTIVE finds the guest's
                    # spawn in the log, even if this process dies before the next line.
                    LOG.info(
                        "instance %s spawned on %s (node %s) in %.2f s",
                        instance.uuid,
                        self._view.host,
                        nodename,
                        time.monotonic() - started,
                    )
            except REFUSALS:
                raise
            except Exception as exc:
                if not reschedule:
                    raise
                raise _Reschedule(exc) from exc
            instance.power_state = self._power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.launched_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.SPAWNING])
            LOG.info("instance %s built on %s (node %s)", instance.uuid, self._view.host, nodename)

    def _destroy_quietly(self, context: Any, instance: Any) -> None:
        try:
            self._driver.destroy(context, instance)
        except exception.InstanceNotFound:
            pass
        except Exception:
            LOG.exception("removing the failed guest of %s failed", instance.uuid)

    def _reschedule(
        self, context: Any, instance: Any, request_spec: Any, cause: BaseException
    ) -> None:
        """Hand a failed build back to the conductor, without this host."""
        host = self._view.host
        LOG.warning(
            "build of instance %s failed on %s, rescheduling: %s",
            instance.uuid,
            host,
            exception.one_line(cause),
        )
        self._ops.record_fault(context, instance.uuid, cause)
        try:
            instance.host = None
            instance.node = None
            instance.vm_state = VMState.BUILDING
            instance.task_state = TaskState.SCHEDULING
            # Only a build still in progress goes back: when this host's failure comes
            # late (a claim that waited out a database outage), another copy of the
            # build request -- resent by the reconciler -- may have built it already.
            instance.save(
                expected_task_state=[TaskState.SPAWNING, TaskState.SCHEDULING],
                expected_vm_state=[VMState.BUILDING],
            )
        except exception.InstanceNotFound:
            LOG.info("instance %s was deleted during its build; not rescheduling", instance.uuid)
            return
        except REFUSALS as exc:
            LOG.info("not rescheduling instance %s: %s", instance.uuid, exception.one_line(exc))
            return
        except Exception as exc:
            # The database or the conductor is away: the build ends in ERROR (its fault
            # is the cause above) once the records can be written.
            LOG.error(
                "cannot hand instance %s back for rescheduling: %s",
                instance.uuid,
                exception.one_line(exc),
            )
            self._ops.revert_task_state(context, instance, VMState.ERROR)
            return
        if host not in request_spec.ignore_hosts:
            request_spec.ignore_hosts = [*request_spec.ignore_hosts, host]
        try:
            conductor_rpcapi.ComputeTaskAPI(conf=self._view.conf).build_instances(
                context, [instance], request_spec
            )
        except Exception as exc:
            # The instance waits in 'scheduling' with no host: the conductor's
            # reconcile_builds task sends it again ([conductor] build_request_timeout).
            LOG.error(
                "sending instance %s back to the conductor failed (%s); the conductor's "
                "reconciler will resend it",
                instance.uuid,
                exception.one_line(exc),
            )

    # --- power -----------------------------------------------------------------------------

    def start_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.start_instance."""
        with self._ops.operation(
            context, instance, "compute_start_instance", InstanceActionName.START
        ):
            instance.task_state = TaskState.POWERING_ON
            instance.save(
                expected_task_state=[None, TaskState.POWERING_ON],
                expected_vm_state=[VMState.STOPPED],
            )
            self._driver.power_on(context, instance)
            instance.power_state = self._power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[TaskState.POWERING_ON])

    def stop_instance(self, context: Any, instance: Any, clean_shutdown: bool) -> None:
        """See ComputeManager.stop_instance."""
        with self._ops.operation(
            context, instance, "compute_stop_instance", InstanceActionName.STOP
        ):
            self._power_off(
                instance,
                clean_shutdown,
                [VMState.ACTIVE, VMState.ERROR, VMState.PAUSED, VMState.SUSPENDED],
            )

    def force_stop_instance(self, context: Any, instance: Any) -> None:
        """The power-state sync's stop: force the guest off and record the instance stopped."""
        with self._ops.operation(
            context, instance, "compute_stop_instance", InstanceActionName.STOP
        ):
            self._power_off(
                instance,
                False,
                [VMState.ACTIVE, VMState.STOPPED, VMState.PAUSED, VMState.SUSPENDED],
            )

    def _power_off(self, instance: Any, clean_shutdown: bool, vm_states: list[str]) -> None:
        instance.task_state = TaskState.POWERING_OFF
        instance.save(
            expected_task_state=[None, TaskState.POWERING_OFF], expected_vm_state=vm_states
        )
        timeout = int(self._view.conf.compute.shutdown_timeout) if clean_shutdown else 0
        self._driver.power_off(instance, timeout, SHUTDOWN_RETRY_INTERVAL)
        instance.power_state = self._power_state(instance)
        instance.vm_state = VMState.STOPPED
        instance.task_state = None
        instance.save(expected_task_state=[TaskState.POWERING_OFF])

    def reboot_instance(self, context: Any, instance: Any, reboot_type: str) -> None:
        """See ComputeManager.reboot_instance."""
        with self._ops.operation(
            context, instance, "compute_reboot_instance", InstanceActionName.REBOOT
        ):
            if reboot_type not in virt_driver.REBOOT_TYPES:
                raise exception.InvalidRebootType(reboot_type=reboot_type)
            hard = reboot_type == virt_driver.REBOOT_HARD
            task = TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING
            instance.task_state = task
            instance.save(
                expected_task_state=list(HARD_REBOOT_TASK_STATES),
                expected_vm_state=list(HARD_REBOOT_VM_STATES) if hard else [VMState.ACTIVE],
            )
            self._driver.reboot(context, instance, reboot_type=reboot_type)
            instance.power_state = self._power_state(instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[task])

    # --- delete ----------------------------------------------------------------------------

    def terminate_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.terminate_instance."""
        with self._ops.operation(
            context,
            instance,
            "compute_terminate_instance",
            InstanceActionName.DELETE,
            error_vm_state=VMState.ERROR,
        ):
            instance.task_state = TaskState.DELETING
            instance.save(expected_task_state=_DELETABLE)
            self._driver.destroy(context, instance, destroy_disks=True)
            instance.vm_state = VMState.DELETED
            instance.task_state = None
            instance.power_state = power_state.NOSTATE
            instance.terminated_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.DELETING])
            self._nodes.forget_instance(context, instance.uuid)
            instance.destroy()
            LOG.info("instance %s deleted on %s", instance.uuid, self._view.host)
