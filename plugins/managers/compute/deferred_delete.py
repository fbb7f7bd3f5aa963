"""Soft delete and restore: the compute manager's side.

:class:`DeferredDeletes` carries out ``soft_delete_instance`` and ``restore_instance``
for :class:`~.manager.ComputeManager`, whose RPC methods of the same names hand them
over. The periodic task that deletes soft-deleted instances for good is a plugin of its
own (``reclaim_queued_deletes``, :mod:`nubis.plugins.periodic_tasks.compute.reclaim`).

Soft delete (a cast; Nova's ``soft_delete_instance``)
    Inside :meth:`.operations.Operations.operation` (event
    ``compute_soft_delete_instance`` on the ``delete`` action the compute API started):
    claim the instance from task ``soft-deleting``, power its guest off at once (no
    guest shutdown, as Nova's fallback for drivers without a soft delete of their own)
    and mark it ``soft-delete`` with no task. A guest that no longer exists (a build
    that failed) has nothing to power off. A rescued instance first gets its own guest
    back (the driver's unrescue): a restore then starts the instance's own system, as
    Nova's does (its libvirt driver's power-on redefines the guest). The guest, its
    disks and the resources its node counts for it stay.

Restore (a cast; Nova's ``restore_instance``)
    Event ``compute_restore_instance`` on the ``restore`` action: claim from task
    ``restoring`` (vm_state soft-delete), power the guest on, and make the instance
    ``active``.

A failure of either records a fault and clears the task, the vm_state kept (Nova's
``reverts_task_state``): a soft delete that failed leaves the instance as it was, to
be deleted again; a restore that failed leaves it soft-deleted.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import InstanceActionName, TaskState, VMState
from nubis.plugins.managers.compute.operations import LOG, ManagerView, Operations
from nubis.plugins.managers.compute.rescue import CAPABILITY as RESCUE_CAPABILITY


class DeferredDeletes:
    """Soft-deletes and restores the instances of the manager in *view*."""

    def __init__(self, view: ManagerView, ops: Operations) -> None:
        self._view = view
        self._ops = ops

    def soft_delete_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.soft_delete_instance."""
        driver = self._view.driver
        with self._ops.operation(
            context, instance, "compute_soft_delete_instance", InstanceActionName.DELETE
        ):
            instance.task_state = TaskState.SOFT_DELETING
            instance.save(expected_task_state=[TaskState.SOFT_DELETING])
            if instance.vm_state == VMState.RESCUED and driver.has_capability(RESCUE_CAPABILITY):
                driver.unrescue(context, instance)
            try:
                driver.power_off(instance, 0, 0)
            except exception.InstanceNotFound:
                LOG.info(
                    "instance %s has no guest on %s to power off", instance.uuid, self._view.host
                )
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = VMState.SOFT_DELETED
            instance.task_state = None
            instance.save(expected_task_state=[TaskState.SOFT_DELETING])
            LOG.info("instance %s soft-deleted on %s", instance.uuid, self._view.host)

    def restore_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.restore_instance."""
        driver = self._view.driver
        with self._ops.operation(
            context, instance, "compute_restore_instance", InstanceActionName.RESTORE
        ):
            instance.task_state = TaskState.RESTORING
            instance.save(
                expected_task_state=[TaskState.RESTORING],
                expected_vm_state=[VMState.SOFT_DELETED],
            )
            driver.power_on(context, instance)
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = VMState.ACTIVE
            instance.task_state = None
            instance.save(expected_task_state=[TaskState.RESTORING])
            LOG.info("instance %s restored on %s", instance.uuid, self._view.host)
