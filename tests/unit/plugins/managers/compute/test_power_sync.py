"""Power-state sync (Nova's rules), the lifecycle-event listener, orphan reaping and the
periodic task plugins, on a ComputeManager with the fake driver."""

from __future__ import annotations

import logging
import threading
import time
import types
import uuid

import pytest

from nubis.core import exception, objects, periodic, plugins
from nubis.core.compute import power_sync
from nubis.core.compute.states import TaskState, VMState
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.compute import orphans, sync_power_states
from tests.unit.plugins.managers.compute.conftest import new_instance


@pytest.fixture
def manager(compute_manager):
    return compute_manager()


def running(ctx, manager, **fields):
    """An instance of the manager's host with its guest running.

    Tests of the rules themselves then unregister the manager's event listener, so that
    the listener (which applies the same rules) cannot race them.
    """
    inst = new_instance(ctx, manager.host, manager.host, **fields)
    manager.driver.spawn(ctx, inst)
    assert manager.driver.flush_events(5)  # the STARTED event is handled before we go on
    return inst


def reload(ctx, inst):
    return objects.Instance.get_by_uuid(ctx, inst.uuid)


def events_of(ctx, inst):
    actions = objects.InstanceActionList.get_by_instance_uuid(ctx, inst.uuid)
    return [
        (a.action, e.event, e.result)
        for a in actions
        for e in objects.InstanceActionEventList.get_by_action(ctx, a.id)
    ]


def quiet_sync(manager, ctx, inst):
    """Sync one instance without the driver's own events racing the test."""
    assert manager.driver.flush_events(5)
    return power_sync.sync_instance(manager, ctx, reload(ctx, inst))


def test_active_in_db_but_shut_down_on_the_hypervisor_is_stopped(ctx, manager):
    inst = running(ctx, manager)
    manager.driver.register_event_listener(None)  # rule under test, not the listener
    manager.driver.inject_power_state(inst.uuid, power_state.SHUTDOWN)
    assert quiet_sync(manager, ctx, inst) == power_sync.STOPPED
    after = reload(ctx, inst)
    assert (after.vm_state, after.task_state, after.power_state) == (
        VMState.STOPPED,
        None,
        power_state.SHUTDOWN,
    )
    assert events_of(ctx, inst) == [("stop", "compute_stop_instance", "Success")]


def test_stopped_in_db_but_running_is_powered_off(ctx, manager):
    manager.driver.register_event_listener(None)  # its STARTED event would apply the rule
    inst = running(ctx, manager, vm_state=VMState.STOPPED, power=power_state.SHUTDOWN)
    assert quiet_sync(manager, ctx, inst) == power_sync.POWERED_OFF
    assert manager.driver.get_info(inst).state == power_state.SHUTDOWN
    after = reload(ctx, inst)
    assert (after.vm_state, after.power_state) == (VMState.STOPPED, power_state.SHUTDOWN)


def test_missing_guest_gets_nostate_and_paused_is_left_alone(ctx, manager):
    missing = new_instance(ctx, manager.host, manager.host)  # no guest
    paused = running(ctx, manager)
    manager.driver.register_event_listener(None)
    manager.driver.inject_power_state(paused.uuid, power_state.PAUSED)
    outcomes = sync_power_states(manager, ctx)
    assert outcomes[missing.uuid] == power_sync.POWER_STATE_UPDATED
    assert outcomes[paused.uuid] == power_sync.POWER_STATE_UPDATED
    m, p = reload(ctx, missing), reload(ctx, paused)
    assert (m.vm_state, m.power_state) == (VMState.ACTIVE, power_state.NOSTATE)
    assert (p.vm_state, p.power_state) == (VMState.ACTIVE, power_state.PAUSED)
    assert manager.driver.get_info(paused).state == power_state.PAUSED  # not touched
    # Once recorded, nothing more happens: no saves, no actions.
    stamp = reload(ctx, missing).updated_at
    assert set(sync_power_states(manager, ctx).values()) == {power_sync.IN_SYNC}
    assert reload(ctx, missing).updated_at == stamp
    assert events_of(ctx, missing) == [] and events_of(ctx, paused) == []


def test_instances_with_a_task_in_progress_are_skipped(ctx, manager):
    inst = running(ctx, manager, task_state=TaskState.REBOOTING)
    manager.driver.register_event_listener(None)
    manager.driver.inject_power_state(inst.uuid, power_state.SHUTDOWN)
    assert sync_power_states(manager, ctx) == {inst.uuid: power_sync.SKIPPED_TASK}
    after = reload(ctx, inst)
    assert (after.vm_state, after.power_state) == (VMState.ACTIVE, power_state.RUNNING)


def test_an_instance_busy_with_an_operation_is_skipped(ctx, manager):
    inst = running(ctx, manager)
    manager.driver.register_event_listener(None)
    manager.driver.inject_power_state(inst.uuid, power_state.SHUTDOWN)
    held, release = threading.Event(), threading.Event()

    def operation() -> None:
        with manager.instance_locks.hold(inst.uuid, "a reboot", 5):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=operation)
    worker.start()
    try:
        assert held.wait(5)
        assert power_sync.sync_instance(manager, ctx, reload(ctx, inst)) == (
            power_sync.SKIPPED_BUSY
        )
    finally:
        release.set()
        worker.join(5)
    assert reload(ctx, inst).vm_state == VMState.ACTIVE


def test_lifecycle_event_syncs_the_instance(ctx, manager):
    inst = running(ctx, manager)
    assert manager.driver.flush_events(5)
    manager.driver.inject_power_state(inst.uuid, power_state.SHUTDOWN)  # emits STOPPED
    assert manager.driver.flush_events(5)
    after = reload(ctx, inst)
    assert (after.vm_state, after.power_state) == (VMState.STOPPED, power_state.SHUTDOWN)


def test_hypervisor_status_events_reach_the_manager(ctx, manager):
    manager.driver.set_hypervisor_available(False, "cable pulled")
    assert manager.driver.flush_events(5)
    assert manager.hypervisor_available is False
    assert sync_power_states(manager, ctx) == {}
    manager.driver.set_hypervisor_available(True)
    assert manager.driver.flush_events(5)
    assert manager.hypervisor_available is True


def stray_guest(manager, ctx):
    stray = types.SimpleNamespace(
        uuid=str(uuid.uuid4()),
        name="stray",
        memory_mb=64,
        vcpus=1,
        root_gb=0,
        image_ref="",
        host=None,
        node=None,
        power_state=0,
    )
    manager.driver.spawn(ctx, stray)
    return stray


def test_orphans_are_logged_or_reaped(ctx, manager, fake_host, caplog):
    mine = running(ctx, manager)
    deleted = running(ctx, manager)
    deleted.destroy()
    stray = stray_guest(manager, ctx)
    # A guest whose live instance another host owns is not judged here.
    elsewhere = new_instance(ctx, "other-host", "other-host")
    manager.driver.spawn(ctx, elsewhere)
    expected = sorted(
        [(deleted.uuid, "deleted in the database"), (stray.uuid, "unknown to the database")]
    )

    assert orphans.reap(manager, ctx, "noop") == []
    with caplog.at_level(logging.WARNING, logger="nubis.plugins.periodic_tasks.compute.orphans"):
        assert orphans.reap(manager, ctx, "log") == expected
    assert f"orphan guest {stray.uuid} (stray)" in caplog.text
    assert len(manager.driver.list_instance_uuids()) == 4

    assert orphans.reap(manager, ctx, "reap") == expected
    assert sorted(manager.driver.list_instance_uuids()) == sorted([mine.uuid, elsewhere.uuid])
    assert orphans.reap(manager, ctx, "reap") == []
    with pytest.raises(exception.ConfigurationError, match="orphan_action"):
        orphans.reap(manager, ctx, "burn")


def test_periodic_task_plugins_are_the_configured_defaults(ctx, manager, flags):
    specs = {spec.name: spec for spec, _run in manager.periodic_tasks()}
    assert list(specs) == [
        "update_available_resource",
        "sync_power_states",
        "reap_orphans",
        "build_timeout",
        "instance_usage_audit",
        "reclaim_queued_deletes",
        "offload_shelved_instances",
    ]
    assert [specs[n].spacing for n in specs] == [60, 600, 1800, 60, 60, 60, 60]
    flags(group="compute", periodic_tasks=["sync_power_states"])
    assert [spec.name for spec, _ in manager.periodic_tasks()] == ["sync_power_states"]

    # Each plugin drives the manager it is given, with a fresh admin context.
    inst = running(ctx, manager)
    manager.driver.register_event_listener(None)
    manager.driver.inject_power_state(inst.uuid, power_state.SHUTDOWN)
    [(_spec, run)] = manager.periodic_tasks()
    assert run() == {inst.uuid: power_sync.STOPPED}
    audit = plugins.load_one("nubis.periodic_tasks", "update_available_resource")
    assert periodic.spec_of(audit).spacing == 60
    assert sorted(audit(manager, ctx)) == [manager.host]
    flags(group="compute", orphan_action="reap")
    stray = stray_guest(manager, ctx)
    reap = plugins.load_one("nubis.periodic_tasks", "reap_orphans")
    assert reap(manager, ctx) == [(stray.uuid, "unknown to the database")]


def test_task_plugins_refuse_a_manager_that_is_not_compute(ctx):
    conductor = plugins.load_one("nubis.managers", "conductor")(host="c")
    sync = plugins.load_one("nubis.periodic_tasks", "sync_power_states")
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager"):
        sync(conductor, ctx)


def test_a_restart_clears_tasks_left_half_done(ctx, compute_manager):
    host = f"restart-{uuid.uuid4().hex[:6]}"
    stuck = new_instance(ctx, host, host, task_state=TaskState.POWERING_OFF)
    building = new_instance(
        ctx, host, host, vm_state=VMState.BUILDING, task_state=TaskState.SPAWNING
    )
    began = time.monotonic()
    compute_manager(host=host)  # runs init_host
    assert time.monotonic() - began < 5
    s, b = reload(ctx, stuck), reload(ctx, building)
    assert (s.vm_state, s.task_state, s.power_state) == (VMState.ACTIVE, None, power_state.NOSTATE)
    assert (b.vm_state, b.task_state) == (VMState.ERROR, None)
