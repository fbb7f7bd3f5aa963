"""Power-state sync: who wins when the database and the hypervisor disagree (Nova's rules).

Part of the compute states contract (:mod:`.states`). The compute service's
lifecycle-event listener applies these rules to one instance when its guest changes
state, and the ``sync_power_states`` periodic task applies them to every instance of
its host; both call :func:`sync_instance`, written on the public
:class:`~nubis.core.compute.host.ComputeHost` contract. :func:`vm_state_action` is the
rule table itself, a pure function.

The rules
    An instance with a task in progress is skipped (the task will set its state), as is
    one that is not on this host or whose lock is held. Otherwise ``power_state`` takes
    the hypervisor's value (NOSTATE when the guest is missing), and then by ``vm_state``:

    ====================== =============================== ============================
    vm_state in the DB     hypervisor says                 action
    ====================== =============================== ============================
    active                 shutdown, crashed, suspended    stop it (vm_state stopped)
    active                 paused / nostate                log; the user decides
    stopped                running, paused, suspended      power the guest off
    paused                 shutdown, crashed               stop it
    deleted, soft-delete   anything but shutdown/nostate   log
    building, error        anything                        only power_state
    shelved                anything                        only power_state
    rescued                anything                        only power_state
    ====================== =============================== ============================

    "Stop it" and "power it off" go through the compute service's stop operation
    (:meth:`~nubis.core.compute.host.ComputeHost.force_stop_instance`), recorded as a
    ``stop`` action with a ``compute_stop_instance`` event.
"""

from __future__ import annotations

import logging
from typing import Any

from nubis.core import exception
from nubis.core.compute.host import ComputeHost
from nubis.core.compute.states import VMState
from nubis.core.virt import power_state

__all__ = [
    "IGNORED",
    "IN_SYNC",
    "POWERED_OFF",
    "POWER_STATE_UPDATED",
    "SKIPPED_BUSY",
    "SKIPPED_ELSEWHERE",
    "SKIPPED_TASK",
    "STOPPED",
    "hypervisor_power_state",
    "outcome_for",
    "sync_instance",
    "vm_state_action",
]

LOG = logging.getLogger(__name__)

# Outcomes of one instance's power-state sync (returned for logs and tests). The last
# four are also what vm_state_action returns.
SKIPPED_TASK = "skipped: task in progress"
SKIPPED_BUSY = "skipped: instance busy"
SKIPPED_ELSEWHERE = "skipped: not on this host"
POWER_STATE_UPDATED = "power_state updated"
IN_SYNC = "in sync"
STOPPED = "stopped"
POWERED_OFF = "powered off"
IGNORED = "left alone"  # logged; only power_state is updated

_OFF = (power_state.SHUTDOWN, power_state.CRASHED)


def vm_state_action(vm_state: str | None, vm_power: int) -> str:
    """Return what the rule table calls for when the database says *vm_state* and the
    hypervisor *vm_power*: :data:`STOPPED` (stop the instance), :data:`POWERED_OFF`
    (power the guest off; the instance stays stopped), :data:`IGNORED` (log it, leave
    it to the user) or :data:`IN_SYNC` (nothing beyond recording ``power_state``).

    Pure: reads nothing else, never raises.
    """
    if vm_state == VMState.ACTIVE:
        if vm_power in _OFF or vm_power == power_state.SUSPENDED:
            return STOPPED
        if vm_power in (power_state.PAUSED, power_state.NOSTATE):
            return IGNORED
    elif vm_state == VMState.STOPPED:
        if vm_power not in (*_OFF, power_state.NOSTATE):
            return POWERED_OFF
    elif vm_state == VMState.PAUSED:
        if vm_power in _OFF:
            return STOPPED
    elif vm_state in (VMState.DELETED, VMState.SOFT_DELETED):
        if vm_power not in (power_state.SHUTDOWN, power_state.NOSTATE):
            return IGNORED
    return IN_SYNC


def outcome_for(instance: Any, host: str, vm_power: int) -> str:
    """Return what syncing *instance* (as read) on compute host *host* would do, without
    doing it: a ``SKIPPED_*`` outcome, :data:`STOPPED`, :data:`POWERED_OFF`,
    :data:`POWER_STATE_UPDATED` or :data:`IN_SYNC`. Pure, like :func:`vm_state_action`.
    """
    if instance.host != host:
        return SKIPPED_ELSEWHERE
    if instance.task_state is not None:
        return SKIPPED_TASK
    action = vm_state_action(instance.vm_state, vm_power)
    if action in (STOPPED, POWERED_OFF):
        return action
    if instance.power_state != vm_power:
        return POWER_STATE_UPDATED
    return IN_SYNC


def hypervisor_power_state(driver: Any, instance: Any) -> int:
    """Return the power state of *instance*'s guest on *driver*'s hypervisor; NOSTATE
    when the guest is missing. Raises what ``driver.get_info`` raises otherwise
    (HypervisorUnavailable); blocks for that one driver call."""
    try:
        return int(driver.get_info(instance).state)
    except exception.InstanceNotFound:
        return power_state.NOSTATE


def sync_instance(host: ComputeHost, context: Any, instance: Any) -> str:
    """Sync one *instance* of compute host *host* with what the hypervisor says now.

    Takes the instance's lock only if it is free (:data:`SKIPPED_BUSY` otherwise) and
    asks the driver for the guest's power state. When there is something to do, acts
    on the record as it is now (refreshed), not as listed: saves ``power_state`` only
    while no task has started (:data:`SKIPPED_TASK` if one has), then stops the
    instance or powers its guest off through
    :meth:`~nubis.core.compute.host.ComputeHost.force_stop_instance` when the rule table
    says so. Returns the outcome. Raises what the driver or the indirection API raise
    (HypervisorUnavailable, a messaging timeout); blocks for one driver call and, when
    something changes, a refresh, a save and the stop operation.
    """
    try:
        with host.instance_lock(instance.uuid, "the power-state sync", timeout=0):
            vm_power = hypervisor_power_state(host.driver, instance)
            if outcome_for(instance, host.host, vm_power) == IN_SYNC:
                return IN_SYNC
            # Something to do: act on the record as it is now, not as listed.
            instance.refresh()
            return _apply(host, context, instance, vm_power)
    except exception.LockTimeout:
        return SKIPPED_BUSY
    except exception.InstanceNotFound:
        return SKIPPED_ELSEWHERE


def _apply(host: ComputeHost, context: Any, instance: Any, vm_power: int) -> str:
    outcome = outcome_for(instance, host.host, vm_power)
    if outcome in (IN_SYNC, SKIPPED_ELSEWHERE, SKIPPED_TASK):
        return outcome
    if instance.power_state != vm_power:
        LOG.info(
            "instance %s: power_state %s in the database, %s on the hypervisor; updating",
            instance.uuid,
            power_state.name(instance.power_state or 0),
            power_state.name(vm_power),
        )
        instance.power_state = vm_power
        try:
            instance.save(expected_task_state=[None])
        except exception.UnexpectedTaskStateError:
            return SKIPPED_TASK
    action = vm_state_action(instance.vm_state, vm_power)
    if action in (STOPPED, POWERED_OFF):
        LOG.warning(
            "instance %s is %s in the database but %s on the hypervisor: %s",
            instance.uuid,
            instance.vm_state,
            power_state.name(vm_power),
            "stopping it" if action == STOPPED else "powering the guest off",
        )
        host.force_stop_instance(context, instance)
        return action
    if action == IGNORED:
        LOG.warning(
            "instance %s is %s in the database but %s on the hypervisor; left alone",
            instance.uuid,
            instance.vm_state,
            power_state.name(vm_power),
        )
    return POWER_STATE_UPDATED
