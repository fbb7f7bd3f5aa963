"""Rebuild and console output: the compute manager's side.

:class:`Rebuilds` carries out ``rebuild_instance`` and answers ``get_console_output``
for :class:`~.manager.ComputeManager`, whose RPC methods of the same names hand them
over.

Rebuild (a cast; Nova's ``_do_rebuild_instance`` on the same host)
    Inside :meth:`.operations.Operations.operation` (event
    ``compute_rebuild_instance`` on the ``rebuild`` action the compute API started):
    claim the instance from task ``rebuilding`` (compare-and-swap; the API set it), then
    rebuild the guest from the instance's ``image_ref`` -- which the API already set to
    the new image -- in one of two ways:

    * the driver declares ``supports_rebuild`` and the guest exists: task
      ``rebuild_spawning`` and the driver's own ``rebuild()``;
    * otherwise the generic way: ``destroy()`` of the old guest (with its disks) in
      ``rebuilding``, then task ``rebuild_spawning`` and ``spawn()`` of the new one.

    Either way the instance stays on its node with the same flavor, so the resources
    the node's tracker counts for it are kept as they are: nothing is released or
    claimed again. A rebuild that started ``stopped`` powers the new guest off
    (forced, as Nova does) and ends ``stopped``; otherwise it ends ``active``. Any
    failure ends the instance in ERROR with a fault (the guest may be gone; rebuilding
    again spawns it afresh). A compute service that restarts during a rebuild ends it
    the same way (:meth:`.lifecycle.Lifecycle.init_instances`), and a rebuild that
    never reached a host is ended by the conductor's reconciler.

Console output (a call)
    The driver's output (at most :data:`~nubis.core.virt.driver.MAX_CONSOLE_BYTES`), cut
    to the last ``tail_length`` lines as Nova cuts it. A read: no lock, no action.
"""

from __future__ import annotations

from typing import Any

from oslo_utils import timeutils

from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import (
    REBUILDABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.core.virt import console
from nubis.plugins.managers.compute.operations import LOG, ManagerView, Operations

OWN_REBUILD = "supports_rebuild"


class Rebuilds:
    """Rebuilds the instances of the manager in *view* and reads their console output."""

    def __init__(self, view: ManagerView, ops: Operations) -> None:
        self._view = view
        self._ops = ops

    def rebuild_instance(self, context: Any, instance: Any, preserve_ephemeral: bool) -> None:
        """See ComputeManager.rebuild_instance."""
        driver = self._view.driver
        with self._ops.operation(
            context,
            instance,
            "compute_rebuild_instance",
            InstanceActionName.REBUILD,
            error_vm_state=VMState.ERROR,
        ):
            instance.task_state = TaskState.REBUILDING
            instance.save(
                expected_task_state=[TaskState.REBUILDING],
                expected_vm_state=list(REBUILDABLE_VM_STATES),
            )
            stopped = instance.vm_state == VMState.STOPPED
            own = driver.has_capability(OWN_REBUILD) and driver.instance_exists(instance)
            if not own:
                driver.destroy(context, instance, destroy_disks=True)
            instance.task_state = TaskState.REBUILD_SPAWNING
            instance.save(expected_task_state=[TaskState.REBUILDING])
            if own:
                driver.rebuild(context, instance, preserve_ephemeral=preserve_ephemeral)
            else:
                driver.spawn(context, instance)
            if stopped:
                driver.power_off(instance, 0, 0)
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = VMState.STOPPED if stopped else VMState.ACTIVE
            instance.task_state = None
            instance.launched_at = timeutils.utcnow()
            instance.save(expected_task_state=[TaskState.REBUILD_SPAWNING])
            LOG.info(
                "instance %s rebuilt on %s from image %s (%s)",
                instance.uuid,
                self._view.host,
                instance.image_ref or "none",
                "the driver's rebuild" if own else "destroy and spawn",
            )

    def get_console_output(self, instance: Any, tail_length: int | None) -> str:
        """See ComputeManager.get_console_output."""
        output: str = self._view.driver.get_console_output(instance)
        return console.tail_lines(output, tail_length)
