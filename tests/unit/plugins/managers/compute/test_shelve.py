"""The compute manager's shelving (:mod:`nubis.plugins.managers.compute.shelve`) in the
branches a whole cloud does not take on demand: a restart in the middle of an
unshelve's spawn, and an unshelve spawn that fails. A fake host with its image store in
a temporary directory, its records on SQLite through the ``local`` indirection."""

from __future__ import annotations

from typing import Any

from nubis.core import objects
from nubis.core.compute.states import TaskState, VMState
from tests.unit.plugins.managers.compute.conftest import new_instance


def test_a_restart_during_an_unshelve_leaves_the_instance_offloaded(
    ctx: Any, compute_manager: Any
) -> None:
    manager = compute_manager()
    node = manager.driver.get_available_nodes()[0]
    instance = new_instance(
        ctx, manager.host, node, vm_state=VMState.SHELVED_OFFLOADED, task_state=TaskState.SPAWNING
    )
    manager.driver.spawn(ctx, instance)  # the half-made guest
    manager._lifecycle.init_instances(ctx)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert (after.vm_state, after.task_state) == (VMState.SHELVED_OFFLOADED, None)
    assert after.host is None and after.node is None
    assert instance.uuid not in manager.driver.list_instance_uuids()


def test_a_failed_unshelve_spawn_gives_everything_back(ctx: Any, compute_manager: Any) -> None:
    manager = compute_manager()
    manager.pre_start_hook()  # the first audit: the node can take claims
    instance = new_instance(
        ctx, None, None, vm_state=VMState.SHELVED_OFFLOADED, task_state=TaskState.UNSHELVING
    )
    instance.image_ref = "original"
    instance.system_metadata = {"shelved_image_id": "shelved"}
    instance.save()
    manager.driver.fail_next_spawns(1, "no room for it after all")
    manager.unshelve_instance(ctx, instance)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert (after.vm_state, after.task_state) == (VMState.SHELVED_OFFLOADED, None)
    assert after.host is None and after.node is None and after.image_ref == "original"
    assert after.system_metadata == {"shelved_image_id": "shelved"}
    [fault] = objects.InstanceFaultList.get_by_instance_uuids(ctx, [instance.uuid])
    assert "no room for it after all" in fault.message
    tracked = {uuid for rt in manager.resource_trackers.values() for uuid in rt.tracked}
    assert instance.uuid not in tracked
