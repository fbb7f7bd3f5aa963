"""The compute manager's pause, unpause, suspend, resume and diagnostics on the fake
driver: the vm_states they end in, a claim another task took first, the refusal of a
guest that is not running, and the states a restart settles half-done ones in."""

from __future__ import annotations

import oslo_messaging as messaging
import pytest

from nubis.core import exception, objects
from nubis.core.compute.states import TaskState, VMState
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.power import settled_vm_state
from tests.unit.plugins.managers.compute.conftest import new_instance

P, R, S, OFF = power_state.PAUSED, power_state.RUNNING, power_state.SUSPENDED, power_state.SHUTDOWN


@pytest.mark.parametrize(
    ("task", "vm_state", "power", "settled"),
    [
        (TaskState.PAUSING, VMState.ACTIVE, P, VMState.PAUSED),
        (TaskState.PAUSING, VMState.ACTIVE, R, VMState.ACTIVE),
        (TaskState.UNPAUSING, VMState.PAUSED, R, VMState.ACTIVE),
        (TaskState.UNPAUSING, VMState.PAUSED, P, VMState.PAUSED),
        (TaskState.SUSPENDING, VMState.ACTIVE, S, VMState.SUSPENDED),
        (TaskState.SUSPENDING, VMState.ACTIVE, OFF, VMState.SUSPENDED),  # libvirt's view
        (TaskState.SUSPENDING, VMState.ACTIVE, R, VMState.ACTIVE),
        (TaskState.RESUMING, VMState.SUSPENDED, R, VMState.ACTIVE),
        (TaskState.RESUMING, VMState.SUSPENDED, OFF, VMState.SUSPENDED),
        (TaskState.REBOOTING, VMState.ACTIVE, P, VMState.ACTIVE),  # not one of them
    ],
)
def test_settled_vm_state(task: str, vm_state: str, power: int, settled: str) -> None:
    assert settled_vm_state(task, vm_state, power) == settled


def _guest(ctx, manager, vm_state=VMState.ACTIVE, task_state=None):
    instance = new_instance(
        ctx, manager.host, manager.host, vm_state=vm_state, task_state=task_state
    )
    manager.driver.spawn(ctx, instance)
    return instance


def test_the_four_operations_end_in_nova_s_states(ctx, compute_manager) -> None:
    manager = compute_manager()
    instance = _guest(ctx, manager)
    steps = [
        ("pause_instance", TaskState.PAUSING, VMState.PAUSED, P),
        ("unpause_instance", TaskState.UNPAUSING, VMState.ACTIVE, R),
        ("suspend_instance", TaskState.SUSPENDING, VMState.SUSPENDED, S),
        ("resume_instance", TaskState.RESUMING, VMState.ACTIVE, R),
    ]
    for method, task, vm_state, power in steps:
        instance.task_state = task  # what the compute API claims
        instance.save()
        getattr(manager, method)(ctx, instance)
        found = objects.Instance.get_by_uuid(ctx, instance.uuid)
        assert (found.vm_state, found.task_state, found.power_state) == (vm_state, None, power)
        instance = found


def test_a_claim_another_task_took_first_changes_nothing(ctx, compute_manager) -> None:
    manager = compute_manager()
    instance = _guest(ctx, manager, task_state=TaskState.REBOOTING_HARD)
    manager.pause_instance(ctx, instance)  # e.g. a HARD reboot took it meanwhile
    found = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert (found.vm_state, found.task_state) == (VMState.ACTIVE, TaskState.REBOOTING_HARD)
    assert manager.driver.get_info(instance).state == R


def test_diagnostics_are_for_running_guests(ctx, compute_manager) -> None:
    manager = compute_manager()
    instance = _guest(ctx, manager)
    found = manager.get_instance_diagnostics(ctx, instance)
    assert found["state"] == "running" and len(found["cpu_details"]) == 1
    manager.driver.pause(instance)
    with pytest.raises(messaging.ExpectedException) as raised:
        manager.get_instance_diagnostics(ctx, instance)
    cause = raised.value.exc_info[1]
    assert isinstance(cause, exception.InstanceInvalidState)
    assert "in power state paused" in str(cause)


def test_a_restart_settles_what_the_guest_shows(ctx, compute_manager) -> None:
    manager = compute_manager()
    paused = _guest(ctx, manager, task_state=TaskState.PAUSING)
    manager.driver.pause(paused)  # the guest got paused, the record never said so
    unpausing = _guest(ctx, manager, vm_state=VMState.PAUSED, task_state=TaskState.UNPAUSING)
    manager.driver.pause(unpausing)  # ... the guest was never unpaused
    manager._lifecycle.init_instances(ctx)
    first = objects.Instance.get_by_uuid(ctx, paused.uuid)
    assert (first.vm_state, first.task_state, first.power_state) == (VMState.PAUSED, None, P)
    second = objects.Instance.get_by_uuid(ctx, unpausing.uuid)
    assert (second.vm_state, second.task_state) == (VMState.PAUSED, None)
