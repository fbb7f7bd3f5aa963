"""The compute manager as a ComputeHost (nubis.core.compute.host): what each contract
method does on a real ComputeManager with the fake driver, and the start-up audit."""

from __future__ import annotations

import inspect
import threading
import uuid

import pytest

from nubis.core import exception, objects
from nubis.core.compute import rpcapi
from nubis.core.compute.host import ComputeHost
from nubis.core.compute.states import VMState
from nubis.core.virt import power_state
from tests.unit.plugins.managers.compute.conftest import new_instance


@pytest.fixture
def manager(compute_manager):
    return compute_manager()


def test_the_manager_is_a_compute_host_and_keeps_its_rpc_surface(manager):
    assert isinstance(manager, ComputeHost)
    rpc = {
        name
        for name, _ in inspect.getmembers(rpcapi.ComputeAPI, inspect.isfunction)
        if not name.startswith("_") and name in vars(rpcapi.ComputeAPI)
    }
    assert rpc and all(callable(getattr(manager, name)) for name in rpc)
    for name in ComputeHost.__abstractmethods__:
        assert not name.startswith("_") and name not in rpc


def test_audit_node_and_delete_compute_node(ctx, compute_manager):
    manager = compute_manager(nodes=["n1", "n2"])
    first = manager.audit_node(ctx, "n1")
    assert first.created and first.node.hypervisor_hostname == "n1"
    assert not manager.audit_node(ctx, "n1").saved
    manager.audit_node(ctx, "n2", count_orphans=False)
    assert sorted(manager.resource_trackers) == ["n1", "n2"]

    [n2] = [
        n
        for n in objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
        if n.hypervisor_hostname == "n2"
    ]
    manager.delete_compute_node(ctx, n2)
    manager.delete_compute_node(ctx, n2)  # already gone: not an error
    assert sorted(manager.resource_trackers) == ["n1"]
    assert [
        n.hypervisor_hostname for n in objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    ] == ["n1"]

    other = compute_manager()
    theirs = other.audit_node(ctx, other.host).node
    with pytest.raises(ValueError, match=f"is of host {other.host}"):
        manager.delete_compute_node(ctx, theirs)


def test_in_flight_instances_and_forget_instance(ctx, manager):
    node = manager.host
    manager.audit_node(ctx, node)
    rt = manager.resource_trackers[node]
    building = new_instance(ctx, None, None, memory_mb=256)
    assert manager.in_flight_instances() == set()
    with rt.instance_claim(ctx, building):
        assert manager.in_flight_instances() == {building.uuid}
    assert manager.in_flight_instances() == set()
    assert building.uuid in rt.tracked and rt.compute_node.memory_mb_used == 256

    manager.forget_instance(ctx, building.uuid)
    manager.forget_instance(ctx, str(uuid.uuid4()))  # never counted: ignored
    assert building.uuid not in rt.tracked and rt.compute_node.memory_mb_used == 0


def test_instance_lock_is_the_operations_lock(ctx, manager):
    inst = new_instance(ctx, manager.host, manager.host)
    with manager.instance_lock(inst.uuid, "a test", 1):
        with manager.instance_lock(inst.uuid, "the same thread again", 0):
            pass  # re-entrant
        seen = []

        def other_thread() -> None:
            try:
                with manager.instance_lock(inst.uuid, "another thread", 0):
                    seen.append("had it")
            except exception.LockTimeout as exc:
                seen.append(str(exc))

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(5)
    assert len(seen) == 1 and "a test holds it" in seen[0]
    with manager.instance_locks.hold(inst.uuid, "free again", 0):
        pass


def test_force_stop_instance_is_the_stop_operation(ctx, manager):
    manager.driver.register_event_listener(None)  # no event-driven sync racing the test
    inst = new_instance(ctx, manager.host, manager.host, vm_state=VMState.STOPPED)
    manager.driver.spawn(ctx, inst)  # stopped in the database, running on the hypervisor
    with manager.instance_lock(inst.uuid, "the caller", 0):
        manager.force_stop_instance(ctx, inst)  # takes the lock again without waiting
    after = objects.Instance.get_by_uuid(ctx, inst.uuid)
    assert (after.vm_state, after.task_state, after.power_state) == (
        VMState.STOPPED,
        None,
        power_state.SHUTDOWN,
    )
    [action] = objects.InstanceActionList.get_by_instance_uuid(ctx, inst.uuid)
    [event] = objects.InstanceActionEventList.get_by_action(ctx, action.id)
    assert (action.action, event.event, event.result) == (
        "stop",
        "compute_stop_instance",
        "Success",
    )

    # Refused (an error instance is not the sync's to stop): recorded, nothing changes.
    broken = new_instance(ctx, manager.host, manager.host, vm_state=VMState.ERROR)
    manager.force_stop_instance(ctx, broken)
    assert objects.Instance.get_by_uuid(ctx, broken.uuid).vm_state == VMState.ERROR
    [action] = objects.InstanceActionList.get_by_instance_uuid(ctx, broken.uuid)
    [event] = objects.InstanceActionEventList.get_by_action(ctx, action.id)
    assert event.result == "Error"


def test_the_start_up_audit_runs_even_when_the_task_is_not_listed(ctx, manager, flags, caplog):
    flags(group="compute", periodic_tasks=[])
    with caplog.at_level("INFO", logger="nubis.plugins.periodic_tasks.compute.audit"):
        manager.pre_start_hook()
    assert f"resource audit of {manager.host} completed (first)" in caplog.text
    assert [
        n.hypervisor_hostname for n in objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    ] == [manager.host]
