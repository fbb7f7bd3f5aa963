"""The compute API's rescue and unrescue (:class:`~.api.API` hands them over).

Nova's ``os-rescue``: a rescue boots the instance's guest from a rescue disk -- of the
image the user names, else of the instance's own image -- with the guest's own disks
attached after it, so that a broken system can be repaired from a working one;
unrescue gives the guest its own definition back. Both are claims and casts to the
instance's compute host:

========== ======================= =========== ===================
operation  from vm_state           task        ends (compute host)
========== ======================= =========== ===================
rescue     active, stopped, error  rescuing    rescued
unrescue   rescued                 unrescuing  active
========== ======================= =========== ===================

Each is refused with InstanceIsLocked (409) on a locked instance unless the caller is
an administrator; InstanceInvalidState (409) outside the vm_states above or while a
task runs; InstanceNotReady (409) when the instance has no host; ServiceTooOld (409)
when its host's RPC API predates them; ServiceUnavailable (503) when its compute
service is down (an interrupted rescue ends in ERROR, so none is sent to a host that
would not answer) or the bus does not take the cast -- the claim is then released.
The claim and the instance action (``rescue`` / ``unrescue``) are recorded before the
cast.

On the host: a driver without ``supports_rescue`` ends the task with a fault saying
so and leaves the vm_state as it was (Nova's NotImplementedError); a rescue or
unrescue that fails or is interrupted ends the instance in ERROR with a fault, as in
Nova. While an instance is rescued, Nova's rules refuse what would change its guest
(reboot, rebuild, stop, pause, suspend, live migration: 409); delete works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nubis.core import exception
from nubis.core.compute import instance_lock
from nubis.core.compute.api_actions import _require, _require_host_up
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    RESCUABLE_VM_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)

if TYPE_CHECKING:
    from nubis.core.compute.api import API


def _check(api: API, context: Any, instance: Any, verb: str, vm_states: tuple[str, ...]) -> None:
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, verb, vm_states, (None,))
    if not instance.host:
        raise exception.InstanceNotReady(instance_id=instance.uuid, reason="it has no compute host")
    _require(api.compute_rpcapi, ComputeAPI.RESCUE_VERSION, verb)
    _require_host_up(api, context, instance)


def rescue(api: API, context: Any, instance: Any, rescue_image_ref: str | None = None) -> None:
    """Rescue *instance* from image *rescue_image_ref* (None: its own image; the caller
    checked that the image exists and may be used); see the module docstring."""
    _check(api, context, instance, "rescue", RESCUABLE_VM_STATES)
    api._claim(
        context,
        instance,
        "rescue",
        InstanceActionName.RESCUE,
        TaskState.RESCUING,
        vm_states=RESCUABLE_VM_STATES,
    )
    api._cast_or_release(
        context,
        instance,
        TaskState.RESCUING,
        None,
        lambda: api.compute_rpcapi.rescue_instance(
            context, instance, rescue_image_ref=rescue_image_ref, clean_shutdown=True
        ),
    )


def unrescue(api: API, context: Any, instance: Any) -> None:
    """Give a rescued *instance* its own guest back; see the module docstring."""
    _check(api, context, instance, "unrescue", (VMState.RESCUED,))
    api._claim(
        context,
        instance,
        "unrescue",
        InstanceActionName.UNRESCUE,
        TaskState.UNRESCUING,
        vm_states=(VMState.RESCUED,),
    )
    api._cast_or_release(
        context,
        instance,
        TaskState.UNRESCUING,
        None,
        lambda: api.compute_rpcapi.unrescue_instance(context, instance),
    )
