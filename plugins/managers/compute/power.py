"""Pause, unpause, suspend, resume, diagnostics and the host's uptime: the compute
manager's side.

:class:`PowerActions` carries them out for :class:`~.manager.ComputeManager`, whose
RPC methods of the same names hand them over.

Pause, unpause, suspend, resume (casts; Nova's ``pause_instance`` ...)
    Inside :meth:`.operations.Operations.operation` (events ``compute_pause_instance``,
    ``compute_unpause_instance``, ``compute_suspend_instance``,
    ``compute_resume_instance`` on the action the compute API started): claim the
    instance from the task the API set (compare-and-swap, with the vm_state the
    operation starts from), ask the driver, then record the guest's power state and
    the new vm_state (paused, active, suspended, active) with a compare-and-swap on
    the task -- a HARD reboot or a delete that took the instance over meanwhile wins,
    and this operation's end is only logged. A driver without the capability
    (``supports_pause``, ``supports_suspend``) ends the task with a
    VirtOperationNotSupported fault and the vm_state as it was (Nova's
    NotImplementedError). Any other failure records a fault and clears the task; a
    failed suspend or resume also sets the instance to ERROR (the guest may be half
    saved or half restored), as Nova does, while a failed pause or unpause leaves the
    vm_state as it was.

Diagnostics and uptime (calls, reads: no lock, no action)
    Diagnostics are asked of running guests only (Nova's rule: InstanceInvalidState
    naming the power state otherwise) and answered as
    :meth:`~nubis.core.virt.diagnostics.Diagnostics.to_primitive`; the uptime is the
    driver's line.

After a restart
    :func:`settled_vm_state` tells :meth:`.lifecycle.Lifecycle.init_instances` which
    vm_state an instance left in one of these tasks has, from its guest's power state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nubis.core import exception
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import InstanceActionName, TaskState, VMState
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.operations import LOG, ManagerView, Operations


@dataclasses.dataclass(frozen=True)
class _Change:
    """One of the four operations: what it needs, starts from and ends in."""

    verb: str
    action: str
    task_state: str
    capability: str
    from_vm_state: str
    to_vm_state: str
    errors_out: bool  # a failure sets the instance to ERROR


PAUSE = _Change(
    "pause",
    InstanceActionName.PAUSE,
    TaskState.PAUSING,
    "supports_pause",
    VMState.ACTIVE,
    VMState.PAUSED,
    False,
)
UNPAUSE = _Change(
    "unpause",
    InstanceActionName.UNPAUSE,
    TaskState.UNPAUSING,
    "supports_pause",
    VMState.PAUSED,
    VMState.ACTIVE,
    False,
)
SUSPEND = _Change(
    "suspend",
    InstanceActionName.SUSPEND,
    TaskState.SUSPENDING,
    "supports_suspend",
    VMState.ACTIVE,
    VMState.SUSPENDED,
    True,
)
RESUME = _Change(
    "resume",
    InstanceActionName.RESUME,
    TaskState.RESUMING,
    "supports_suspend",
    VMState.SUSPENDED,
    VMState.ACTIVE,
    True,
)

#: The guest power states that show an operation of the task got through.
_DONE_WHEN = {
    TaskState.PAUSING: (power_state.PAUSED,),
    TaskState.UNPAUSING: (power_state.RUNNING,),
    # libvirt shows a managed-saved guest as shut off.
    TaskState.SUSPENDING: (power_state.SUSPENDED, power_state.SHUTDOWN),
    TaskState.RESUMING: (power_state.RUNNING,),
}
_ENDS_IN = {c.task_state: c.to_vm_state for c in (PAUSE, UNPAUSE, SUSPEND, RESUME)}


def settled_vm_state(task_state: str | None, vm_state: str, guest_power: int) -> str:
    """The vm_state of an instance found in *task_state* (one of pause, unpause,
    suspend, resume) after a restart, in *vm_state*, its guest in *guest_power*: the
    operation's end state when the guest shows it got through, *vm_state* otherwise
    (the power-state sync then handles a guest that disagrees). Pure."""
    done = _DONE_WHEN.get(task_state or "")
    if done is not None and guest_power in done:
        return _ENDS_IN[task_state or ""]
    return vm_state


class PowerActions:
    """Pauses, suspends and reads the guests of the manager in *view*."""

    def __init__(self, view: ManagerView, ops: Operations) -> None:
        self._view = view
        self._ops = ops

    def pause_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.pause_instance."""
        self._change(context, instance, PAUSE, lambda d: d.pause(instance))

    def unpause_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.unpause_instance."""
        self._change(context, instance, UNPAUSE, lambda d: d.unpause(instance))

    def suspend_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.suspend_instance."""
        self._change(context, instance, SUSPEND, lambda d: d.suspend(context, instance))

    def resume_instance(self, context: Any, instance: Any) -> None:
        """See ComputeManager.resume_instance."""
        self._change(context, instance, RESUME, lambda d: d.resume(context, instance))

    def _change(self, context: Any, instance: Any, change: _Change, act: Any) -> None:
        driver = self._view.driver
        supported = driver.has_capability(change.capability)
        with self._ops.operation(
            context,
            instance,
            f"compute_{change.verb}_instance",
            change.action,
            error_vm_state=VMState.ERROR if supported and change.errors_out else None,
        ):
            instance.task_state = change.task_state
            instance.save(
                expected_task_state=[change.task_state],
                expected_vm_state=[change.from_vm_state],
            )
            if not supported:
                raise exception.VirtOperationNotSupported(
                    operation=change.verb, driver=type(driver).__name__
                )
            act(driver)
            instance.power_state = hypervisor_power_state(driver, instance)
            instance.vm_state = change.to_vm_state
            instance.task_state = None
            instance.save(expected_task_state=[change.task_state])
            LOG.info("instance %s: %s done on %s", instance.uuid, change.verb, self._view.host)

    def get_instance_diagnostics(self, instance: Any) -> dict[str, Any]:
        """See ComputeManager.get_instance_diagnostics."""
        driver = self._view.driver
        if not driver.has_capability("supports_diagnostics"):
            raise exception.VirtOperationNotSupported(
                operation="get_diagnostics", driver=type(driver).__name__
            )
        state = int(driver.get_info(instance).state)
        if state != power_state.RUNNING:
            raise exception.InstanceInvalidState(
                action="get_diagnostics",
                instance_uuid=instance.uuid,
                state=f"in power state {power_state.name(state)}",
                expected="in power state running",
            )
        result: dict[str, Any] = driver.get_diagnostics(instance).to_primitive()
        return result

    def get_host_uptime(self) -> str:
        """See ComputeManager.get_host_uptime."""
        driver = self._view.driver
        if not driver.has_capability("supports_host_uptime"):
            raise exception.VirtOperationNotSupported(
                operation="get_host_uptime", driver=type(driver).__name__
            )
        uptime: str = driver.get_host_uptime()
        return uptime
