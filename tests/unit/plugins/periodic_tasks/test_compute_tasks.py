"""The default compute periodic tasks (nubis.plugins.periodic_tasks.compute): their
entry points and schedules, that they refuse a manager that is not a ComputeHost, and
the audit's summary line. Their rules on a real manager are tested in
tests/unit/plugins/managers/compute (test_power_sync, test_resource_tracker)."""

from __future__ import annotations

import logging
import time

import pytest

from nubis.core import exception, objects, periodic, plugins
from nubis.core.compute.states import TaskState, VMState
from nubis.core.manager import Manager
from nubis.plugins.periodic_tasks import compute
from tests.unit.plugins.managers.compute.conftest import new_instance

TASKS = {"update_available_resource": 60, "sync_power_states": 600, "reap_orphans": 1800}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_entry_points_and_schedules(name):
    task = plugins.load_one("nubis.periodic_tasks", name)
    assert task is getattr(compute, name)
    assert periodic.spec_of(task).spacing == TASKS[name]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_manager_that_is_not_a_compute_host_is_refused(name):
    task = plugins.load_one("nubis.periodic_tasks", name)
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager"):
        task(Manager("not-compute"), None)


def test_the_audit_says_first_once_and_then_only_changes(ctx, compute_manager, caplog):
    manager = compute_manager()
    logger = "nubis.plugins.periodic_tasks.compute.audit"
    with caplog.at_level(logging.INFO, logger=logger):
        compute.update_available_resource(manager, ctx)
        compute.update_available_resource(manager, ctx)
    lines = [r.getMessage() for r in caplog.records if r.name == logger]
    assert lines == [
        f"resource audit of {manager.host} completed (first): "
        f"{manager.host}: 0 instances, 0 migrations, 0 orphans, created"
    ]
    other = compute_manager()  # counted per host
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logger):
        compute.update_available_resource(other, ctx)
    assert "completed (first)" in caplog.text


# --- what the tasks read, per run (bench/fleet.py: their cost is paid per host) ----------

LISTED_NODES = ("ComputeNodeList", "get_all_by_host")


def test_an_audit_lists_the_hosts_nodes_only_when_the_reported_nodes_change(
    ctx, compute_manager, indirection
):
    manager = compute_manager(nodes=["n1", "n2"])
    compute.update_available_resource(manager, ctx)
    assert indirection.calls[LISTED_NODES] == 1  # the first audit looks for stale nodes
    compute.update_available_resource(manager, ctx)
    compute.update_available_resource(manager, ctx)
    assert indirection.calls[LISTED_NODES] == 1  # the same nodes: nothing can be stale

    manager.driver.conf.set_override("nodes", ["n1"], group="fake_driver")
    assert sorted(compute.update_available_resource(manager, ctx)) == ["n1"]
    assert indirection.calls[LISTED_NODES] == 2
    listed = objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    assert [n.hypervisor_hostname for n in listed] == ["n1"]

    # A node record that outlived the previous process (a restart) is still found: the
    # first audit of a host in a process always looks.
    manager.cleanup_host()
    restarted = compute_manager(host=manager.host, nodes=["n2"])
    compute.update_available_resource(restarted, ctx)
    listed = objects.ComputeNodeList.get_all_by_host(ctx, manager.host)
    assert [n.hypervisor_hostname for n in listed] == ["n2"]


def test_build_timeout_reads_only_the_building_instances_of_its_host(
    ctx, compute_manager, indirection, flags
):
    manager = compute_manager()
    for _ in range(3):
        new_instance(ctx, manager.host, manager.host)
    stuck = new_instance(
        ctx, manager.host, manager.host, vm_state=VMState.BUILDING, task_state=TaskState.SPAWNING
    )
    elsewhere = new_instance(
        ctx, "other-host", "other-host", vm_state=VMState.BUILDING, task_state=TaskState.SPAWNING
    )
    flags(group="compute", instance_build_timeout=1)
    assert compute.build_timeout(manager, ctx) == []
    time.sleep(1.1)
    indirection.calls.clear()
    assert compute.build_timeout(manager, ctx) == [stuck.uuid]
    # The host's active instances are not read every minute to find none building.
    assert indirection.calls[("InstanceList", "get_by_host")] == 0
    assert objects.Instance.get_by_uuid(ctx, stuck.uuid).vm_state == VMState.ERROR
    assert objects.Instance.get_by_uuid(ctx, elsewhere.uuid).vm_state == VMState.BUILDING
