"""The compute API's pause, unpause, suspend, resume, diagnostics and host uptime
(:class:`~.api.API` hands them over).

Pause, unpause, suspend and resume are claims and casts, as start and stop are
(Nova's ``os-pause-server`` / ``os-suspend-server``): each is refused with
InstanceIsLocked (409) on a locked instance unless the caller is an administrator,
with InstanceInvalidState (409) unless the instance is in the vm_state it starts from
with no task --

========== ============== =========== ===================
operation  from vm_state  task        ends (compute host)
========== ============== =========== ===================
pause      active         pausing     paused
unpause    paused         unpausing   active
suspend    active         suspending  suspended
resume     suspended      resuming    active
========== ============== =========== ===================

-- and with ServiceTooOld (409) when the instance's host could not take the message.
The claim (task state, compare-and-swap) and the instance action (``pause``,
``unpause``, ``suspend``, ``resume``) are recorded before the cast; when the bus does
not take it the claim is released and ServiceUnavailable (503) raised. The host's
driver may not have the ability (``supports_pause`` / ``supports_suspend``): the host
then ends the task with a fault saying so and leaves the vm_state as it was, as Nova's
compute manager does with NotImplementedError.

Diagnostics and the host's uptime are calls to the compute host, bounded by
``rpc_response_timeout`` and not made at all when its compute service is down
(ServiceUnavailable, 503).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import oslo_messaging as messaging

from nubis.core import binaries, exception, objects
from nubis.core.compute import instance_lock
from nubis.core.compute.api_actions import _require, _require_host_up
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import InstanceActionName, TaskState, VMState
from nubis.core.virt.diagnostics import Diagnostics

if TYPE_CHECKING:
    from nubis.core.compute.api import API

#: The vm_states diagnostics are refused in (no guest to ask, Nova's 409).
NO_GUEST_VM_STATES = (VMState.BUILDING, VMState.DELETED, VMState.SOFT_DELETED)


def _change(
    api: API,
    context: Any,
    instance: Any,
    verb: str,
    action: str,
    task_state: str,
    vm_state: str,
    version: str,
    cast: Callable[[], Any],
) -> None:
    """Check, claim *instance* for *task_state* (recording *action*) and send *cast*."""
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, verb, (vm_state,), (None,))
    if not instance.host:
        raise exception.InstanceNotReady(instance_id=instance.uuid, reason="it has no compute host")
    _require(api.compute_rpcapi, version, verb)
    api._claim(context, instance, verb, action, task_state, vm_states=(vm_state,))
    api._cast_or_release(context, instance, task_state, None, cast)


def pause(api: API, context: Any, instance: Any) -> None:
    """Pause an active *instance*; see the module docstring."""
    _change(
        api,
        context,
        instance,
        "pause",
        InstanceActionName.PAUSE,
        TaskState.PAUSING,
        VMState.ACTIVE,
        ComputeAPI.PAUSE_VERSION,
        lambda: api.compute_rpcapi.pause_instance(context, instance),
    )


def unpause(api: API, context: Any, instance: Any) -> None:
    """Unpause a paused *instance*; see the module docstring."""
    _change(
        api,
        context,
        instance,
        "unpause",
        InstanceActionName.UNPAUSE,
        TaskState.UNPAUSING,
        VMState.PAUSED,
        ComputeAPI.PAUSE_VERSION,
        lambda: api.compute_rpcapi.unpause_instance(context, instance),
    )


def suspend(api: API, context: Any, instance: Any) -> None:
    """Suspend an active *instance*; see the module docstring."""
    _change(
        api,
        context,
        instance,
        "suspend",
        InstanceActionName.SUSPEND,
        TaskState.SUSPENDING,
        VMState.ACTIVE,
        ComputeAPI.SUSPEND_VERSION,
        lambda: api.compute_rpcapi.suspend_instance(context, instance),
    )


def resume(api: API, context: Any, instance: Any) -> None:
    """Resume a suspended *instance*; see the module docstring."""
    _change(
        api,
        context,
        instance,
        "resume",
        InstanceActionName.RESUME,
        TaskState.RESUMING,
        VMState.SUSPENDED,
        ComputeAPI.SUSPEND_VERSION,
        lambda: api.compute_rpcapi.resume_instance(context, instance),
    )


def _unanswered(what: str, timeout: float) -> exception.ServiceUnavailable:
    return exception.ServiceUnavailable(
        what=what, reason=f"it did not answer within {timeout:g} s (rpc_response_timeout)"
    )


def get_diagnostics(api: API, context: Any, instance: Any) -> Diagnostics:
    """Return the diagnostics of *instance*'s guest, asked of its compute host.

    Raises InstanceNotReady (409) while it has no host; InstanceInvalidState (409)
    while it is building or deleted and, from the host, when its guest is not running
    (Nova asks only running guests); ServiceTooOld (409) when the host's RPC API is too
    old; ServiceUnavailable (503) when its compute service is down or does not answer
    within ``rpc_response_timeout``; from the host, VirtOperationNotSupported (501) and
    InstanceNotFound (404: no guest there).
    """
    if not instance.host:
        raise exception.InstanceNotReady(instance_id=instance.uuid, reason="it has no compute host")
    if instance.vm_state in NO_GUEST_VM_STATES:
        raise exception.InstanceInvalidState(
            action="get_diagnostics",
            instance_uuid=instance.uuid,
            state=f"in vm_state {instance.vm_state}",
            expected="a state with a guest (not " + ", ".join(NO_GUEST_VM_STATES) + ")",
        )
    _require(api.compute_rpcapi, ComputeAPI.DIAGNOSTICS_VERSION, "server diagnostics")
    _require_host_up(api, context, instance)
    timeout = float(api.conf.rpc_response_timeout)
    try:
        primitive = api.compute_rpcapi.get_instance_diagnostics(
            context, instance, timeout=timeout
        )
    except messaging.MessagingTimeout:
        raise _unanswered(f"the compute service of instance {instance.uuid}", timeout) from None
    return Diagnostics.from_primitive(primitive)


def get_host_uptime(api: API, context: Any, host: str) -> str:
    """Return compute host *host*'s uptime line (what ``uptime`` prints there).

    Raises ComputeHostNotFound (no compute service on *host*), ComputeServiceUnavailable
    (it is down; Nova's REST answer is 400), ServiceTooOld (409), ServiceUnavailable
    (503: it does not answer within ``rpc_response_timeout``) and, from the host,
    VirtOperationNotSupported (501).
    """
    service = objects.Service.get_by_host_and_binary(context, host, binaries.COMPUTE)
    if service is None:
        raise exception.ComputeHostNotFound(host=host)
    if not api.servicegroup_api.is_up(service):
        raise exception.ComputeServiceUnavailable(host=host)
    _require(api.compute_rpcapi, ComputeAPI.HOST_UPTIME_VERSION, "hypervisor uptime")
    timeout = float(api.conf.rpc_response_timeout)
    try:
        return api.compute_rpcapi.get_host_uptime(context, host, timeout=timeout)
    except messaging.MessagingTimeout:
        raise _unanswered(f"the compute service of host {host}", timeout) from None
