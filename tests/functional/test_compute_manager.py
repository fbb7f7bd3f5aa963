"""The compute manager in one process over inproc:// with SQLite: a conductor and two
fake compute hosts (``cmp1``, ``cmp2``), every object call of the computes going through
the conductor indirection (DESIGN.md flows 1-4).

The tests play the API and the conductor: they set the task state a request starts
with, create the Migration record, and send the casts and calls of ComputeAPI.
"""

from __future__ import annotations

import logging
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy

from nubis.core import exception, objects
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import LIVE_MIGRATION, MigrationStatus, TaskState, VMState
from nubis.core.context import get_admin_context
from nubis.core.service import Service
from nubis.core.virt import events as virt_events
from nubis.core.virt import power_state
from nubis.plugins.managers.compute.locks import KeyedLocks
from nubis.plugins.managers.compute.operations import Operations
from tests.fixtures.inproc_cloud import (
    actions_of,
    active,
    ended_actions_of,
    faults_of,
    inproc_services,
    instance_of,
    wait_for,
)

MiB = 1024**2


class Cloud:
    """The running services and a few helpers that play the API and the conductor."""

    def __init__(self, conductor: Service, computes: dict[str, Service]) -> None:
        self.conductor = conductor
        self.computes = computes

    def manager(self, host: str) -> Any:
        return self.computes[host].manager

    def driver(self, host: str) -> Any:
        return self.manager(host).driver

    def new_instance(self, ctx: Any, memory_mb: int = 512, vcpus: int = 1) -> Any:
        instance = objects.Instance(ctx)
        instance.uuid = str(uuid.uuid4())
        instance.display_name = "vm"
        instance.memory_mb = memory_mb
        instance.vcpus = vcpus
        instance.root_gb = 1
        instance.ephemeral_gb = 0
        instance.image_ref = ""
        instance.vm_state = VMState.BUILDING
        instance.task_state = TaskState.SCHEDULING
        instance.create()
        return instance

    def build(self, host: str = "cmp1", **kwargs: Any) -> Any:
        ctx = get_admin_context()
        instance = self.new_instance(ctx, **kwargs)
        objects.InstanceAction.action_start(ctx, instance.uuid, "create")  # as the API does
        ComputeAPI().build_and_run_instance(ctx, instance, host)
        built = wait_for(
            lambda: active(instance.uuid), what=f"instance {instance.uuid} to become active"
        )
        # The host ends the build's event after it saves ACTIVE: the build is over then.
        wait_for(lambda: ended_actions_of(instance.uuid), what="the build's event to end")
        return built

    def usage(self, host: str) -> int:
        """memory_mb_used of the host's node as the database has it."""
        return int(
            objects.ComputeNode.get_by_host_and_nodename(
                get_admin_context(), host, host
            ).memory_mb_used
        )


@pytest.fixture(scope="module")
def cloud(_migrated_urls: Callable[[str], str], tmp_path_factory: Any) -> Iterator[Cloud]:
    with inproc_services(
        _migrated_urls("sqlite"), tmp_path_factory.mktemp("compute"), scheduler=False
    ) as (services, override):
        override("live_migration_seconds", 0.2, group="fake_driver")
        computes = {host: services[host] for host in ("cmp1", "cmp2")}
        yield Cloud(services["cond"], computes)


# --- instance operations -----------------------------------------------------------------


def test_build_stop_start_reboot_delete(cloud: Cloud) -> None:
    before = cloud.usage("cmp1")
    inst = cloud.build(memory_mb=512)
    assert (inst.host, inst.node, inst.launched_on) == ("cmp1", "cmp1", "cmp1")
    assert inst.power_state == power_state.RUNNING and inst.launched_at is not None
    assert cloud.driver("cmp1").get_info(inst).state == power_state.RUNNING
    assert cloud.usage("cmp1") == before + 512  # the claim saved the node at once

    api = ComputeAPI()
    ctx = get_admin_context()
    inst.task_state = TaskState.POWERING_OFF  # the API's half of the transition
    inst.save(expected_task_state=[None])
    api.stop_instance(ctx, inst)
    stopped = wait_for(
        lambda: (
            (i := instance_of(inst.uuid)).vm_state == VMState.STOPPED and i.task_state is None and i
        )
    )
    assert stopped.power_state == power_state.SHUTDOWN

    api.start_instance(get_admin_context(), stopped)  # no task set by the caller: fine too
    started = wait_for(lambda: active(inst.uuid))
    assert started.power_state == power_state.RUNNING

    api.reboot_instance(get_admin_context(), started, "HARD")
    wait_for(
        lambda: any(
            a == "reboot" and ev == [("compute_reboot_instance", "Success")]
            for a, ev in actions_of(inst.uuid)
        )
    )
    assert active(inst.uuid).power_state == power_state.RUNNING

    api.terminate_instance(get_admin_context(), started)

    wait_for(
        lambda: ("delete", [("compute_terminate_instance", "Success")]) in actions_of(inst.uuid),
        what="the delete to finish",
    )
    with pytest.raises(exception.InstanceNotFound):
        instance_of(inst.uuid)
    assert not cloud.driver("cmp1").instance_exists(inst)
    assert cloud.usage("cmp1") == before
    assert actions_of(inst.uuid) == [
        ("create", [("compute_build_and_run_instance", "Success")]),
        ("stop", [("compute_stop_instance", "Success")]),
        ("start", [("compute_start_instance", "Success")]),
        ("reboot", [("compute_reboot_instance", "Success")]),
        ("delete", [("compute_terminate_instance", "Success")]),
    ]
    assert faults_of(inst.uuid) == []


def test_an_operation_ends_its_event_and_its_action_in_one_conductor_call(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a cast operation, a success or a refusal, is one remotable call that
    records both the event's result and the action's finish time."""
    inst = cloud.build()
    manager = cloud.conductor.manager
    calls: list[tuple[str, str]] = []
    class_action = manager.object_class_action_versions

    def recorded(
        context: Any, objname: str, objmethod: str, object_versions: Any, args: Any, kwargs: Any
    ) -> Any:
        # This instance's records only: not the test's own reads, nor another instance's.
        if not objmethod.startswith("get_") and args and args[0] == inst.uuid:
            calls.append((objname, objmethod))
        return class_action(context, objname, objmethod, object_versions, args, kwargs)

    ctx = get_admin_context()
    inst.task_state = TaskState.POWERING_OFF
    inst.save(expected_task_state=[None])
    objects.InstanceAction.action_start(ctx, inst.uuid, "stop")  # as the API does
    monkeypatch.setattr(manager, "object_class_action_versions", recorded)
    ComputeAPI().stop_instance(ctx, inst)
    wait_for(lambda: ("stop", [("compute_stop_instance", "Success")]) in actions_of(inst.uuid))
    assert calls == [
        ("InstanceActionEvent", "event_start"),
        ("InstanceActionEvent", "event_finish_with_action"),
    ]
    stop = objects.InstanceAction.get_by_request_id(ctx, inst.uuid, ctx.request_id)
    [event] = objects.InstanceActionEventList.get_by_action(ctx, stop.id)
    assert stop.finish_time == event.finish_time is not None

    calls.clear()
    ctx = get_admin_context()
    objects.InstanceAction.action_start(ctx, inst.uuid, "stop")
    ComputeAPI().stop_instance(ctx, instance_of(inst.uuid))  # refused: it is stopped
    wait_for(lambda: ("stop", [("compute_stop_instance", "Error")]) in actions_of(inst.uuid))
    assert calls == [
        ("InstanceAction", "action_start"),
        ("InstanceActionEvent", "event_start"),
        ("InstanceActionEvent", "event_finish_with_action"),
    ]
    refused = objects.InstanceAction.get_by_request_id(ctx, inst.uuid, ctx.request_id)
    assert (refused.finish_time is not None, refused.message) == (True, "Error")


def test_an_event_whose_start_was_not_recorded_still_ends_its_action(
    cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    """The start of an event can be lost (the conductor was away then); its end then
    has no event to record, and the action is ended all the same, with a warning."""
    inst = cloud.build()
    ctx = get_admin_context()
    objects.InstanceAction.action_start(ctx, inst.uuid, "stop")
    ops = Operations("cmp1", KeyedLocks("instance"))
    with caplog.at_level(logging.WARNING, "nubis.plugins.managers.compute.manager"):
        ops.event_and_action_finish(ctx, inst.uuid, "compute_stop_instance")
    stop = objects.InstanceAction.get_by_request_id(ctx, inst.uuid, ctx.request_id)
    assert stop.finish_time is not None
    assert list(objects.InstanceActionEventList.get_by_action(ctx, stop.id)) == []
    assert f"the end of compute_stop_instance on {inst.uuid} was not recorded" in caplog.text


def test_the_spawn_is_logged_before_active_is_saved(cloud: Cloud) -> None:
    """A host that dies right after saving ACTIVE has still logged the guest's spawn:
    the fault tests count spawns from the logs of killed hosts."""
    seen: dict[str, str] = {}

    class AtSpawnLine(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if " spawned on cmp1 (node cmp1) in " in message:
                uuid_ = message.split()[1]
                seen[uuid_] = instance_of(uuid_).vm_state

    handler = AtSpawnLine(logging.INFO)
    logger = logging.getLogger("nubis.plugins.managers.compute.manager")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        inst = cloud.build()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == {inst.uuid: VMState.BUILDING}


def test_a_transition_from_the_wrong_task_state_is_refused(cloud: Cloud) -> None:
    inst = cloud.build()
    inst.task_state = TaskState.REBOOTING  # somebody else's operation is in progress
    inst.save(expected_task_state=[None])
    ComputeAPI().stop_instance(get_admin_context(), inst)
    wait_for(lambda: ("stop", [("compute_stop_instance", "Error")]) in actions_of(inst.uuid))
    after = instance_of(inst.uuid)
    assert (after.vm_state, after.task_state) == (VMState.ACTIVE, TaskState.REBOOTING)
    assert cloud.driver("cmp1").get_info(inst).state == power_state.RUNNING
    assert faults_of(inst.uuid) == []  # a refusal is not a fault


def test_a_driver_failure_reverts_the_task_and_records_a_fault(cloud: Cloud) -> None:
    inst = cloud.build()
    driver = cloud.driver("cmp1")
    service_id = cloud.computes["cmp1"].service_ref.id
    ctx = get_admin_context()
    driver.set_hypervisor_available(False, "injected by the test")
    try:
        record = wait_for(lambda: (s := objects.Service.get_by_id(ctx, service_id)).disabled and s)
        assert record.disabled_reason == "AUTO: hypervisor unavailable: injected by the test"
        inst.task_state = TaskState.POWERING_OFF
        inst.save(expected_task_state=[None])
        ComputeAPI().stop_instance(ctx, inst)
        wait_for(lambda: ("stop", [("compute_stop_instance", "Error")]) in actions_of(inst.uuid))
    finally:
        driver.set_hypervisor_available(True)
    after = instance_of(inst.uuid)
    assert (after.vm_state, after.task_state) == (VMState.ACTIVE, None)  # reverted
    [fault] = faults_of(inst.uuid)
    assert fault.message.startswith("HypervisorUnavailable: hypervisor fake://cmp1")
    assert fault.host == "cmp1" and "Traceback" in (fault.details or "")
    action = objects.InstanceAction.get_by_request_id(ctx, inst.uuid, ctx.request_id)
    [event] = objects.InstanceActionEventList.get_by_action(ctx, action.id)
    assert event.result == "Error" and "HypervisorUnavailable" in (event.traceback or "")
    assert action.message == "Error"
    wait_for(
        lambda: not objects.Service.get_by_id(ctx, service_id).disabled,
        what="the service to be enabled again",
    )


def test_a_failed_build_sets_error_and_gives_the_claim_back(cloud: Cloud) -> None:
    before = cloud.usage("cmp1")
    ctx = get_admin_context()
    inst = cloud.new_instance(ctx, memory_mb=1024)
    # A guest with this uuid already exists on cmp1: spawn must fail.
    squatter = types.SimpleNamespace(
        uuid=inst.uuid,
        name="squatter",
        memory_mb=64,
        vcpus=1,
        root_gb=0,
        image_ref="",
        host=None,
        node=None,
        power_state=0,
    )
    cloud.driver("cmp1").spawn(ctx, squatter)
    try:
        ComputeAPI().build_and_run_instance(ctx, inst, "cmp1")
        failed = wait_for(lambda: (i := instance_of(inst.uuid)).vm_state == VMState.ERROR and i)
    finally:
        cloud.driver("cmp1").destroy(ctx, squatter)
    assert (failed.task_state, failed.host, failed.node) == (None, None, None)
    [fault] = faults_of(inst.uuid)
    assert fault.message.startswith("InstanceExists") and fault.code == 409
    expected = [("create", [("compute_build_and_run_instance", "Error")])]
    # The event ends after the instance shows ERROR (as in Nova): wait for it.
    wait_for(lambda: actions_of(inst.uuid) == expected, what="the build event to end")
    assert cloud.usage("cmp1") == before
    assert inst.uuid not in cloud.manager("cmp1").resource_trackers["cmp1"].tracked


# --- live migration ------------------------------------------------------------------


def new_migration(ctx: Any, instance: Any, source: str = "cmp1", dest: str = "cmp2") -> Any:
    """What the conductor records before it casts live_migration."""
    migration = objects.Migration(ctx)
    migration.uuid = str(uuid.uuid4())
    migration.instance_uuid = instance.uuid
    migration.migration_type = LIVE_MIGRATION
    migration.source_compute, migration.source_node = source, source
    migration.dest_compute, migration.dest_node = dest, dest
    migration.status = MigrationStatus.ACCEPTED
    migration.create()
    return migration


class StatusWatcher:
    """Polls Migration records every few ms and remembers each status change.

    Each poll reads every record in one query: read one by one, the first could be
    seen running just before it completes and the next one seen starting after.
    """

    def __init__(self, *migrations: Any) -> None:
        self.ids = [m.id for m in migrations]
        self.seen: dict[int, list[str]] = {i: [] for i in self.ids}
        self.both_running = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        statuses = {m.id: m.status for m in objects.MigrationList.get_all(get_admin_context())}
        now = {}
        for migration_id in self.ids:
            status = statuses[migration_id]
            now[migration_id] = status
            if not self.seen[migration_id] or self.seen[migration_id][-1] != status:
                self.seen[migration_id].append(status)
        running = [
            s for s in now.values() if s in (MigrationStatus.PREPARING, MigrationStatus.RUNNING)
        ]
        self.both_running = self.both_running or len(running) > 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._poll()  # the final statuses


def ended(migration: Any) -> Callable[[], Any]:
    def check() -> Any:
        record = objects.Migration.get_by_id(get_admin_context(), migration.id)
        return record if record.status not in MigrationStatus.IN_PROGRESS else None

    return check


def live_migration_events(instance_uuid: str) -> list[tuple[str, str | None]]:
    """The events of the instance's one live-migration action, once all have ended (the
    source host ends its event after it saves the migration's status)."""
    actions = wait_for(lambda: ended_actions_of(instance_uuid), what="the events to end")
    [(_, events)] = [a for a in actions if a[0] == "live-migration"]
    return events


def live_migrate(ctx: Any, inst: Any, migration: Any, api: ComputeAPI | None = None) -> None:
    """The conductor's part: destination check (which asks the source), then the cast."""
    api = api or ComputeAPI()
    data = api.check_can_live_migrate_destination(ctx, inst, "cmp2", timeout=10)
    assert data["dest_host"] == "cmp2" and data["block_migration"] is False
    api.live_migration(ctx, inst, "cmp2", False, data, migration)


def test_live_migration_end_to_end_with_one_slot(cloud: Cloud) -> None:
    """Two migrations from cmp1 with max_concurrent_live_migrations = 1: the second
    waits queued while the first runs; both complete with their progress recorded."""
    first, second = cloud.build(memory_mb=512), cloud.build(memory_mb=256)
    src_before, dst_before = cloud.usage("cmp1"), cloud.usage("cmp2")
    ctx = get_admin_context()
    m1, m2 = new_migration(ctx, first), new_migration(ctx, second)
    watcher = StatusWatcher(m1, m2)
    try:
        began = time.monotonic()
        live_migrate(ctx, first, m1)
        live_migrate(ctx, second, m2)
        cast_returned = time.monotonic() - began
        done1, done2 = wait_for(ended(m1)), wait_for(ended(m2))
    finally:
        watcher.stop()
    assert cast_returned < 1.0  # two casts and two checks; the copies take 0.2 s each
    assert (done1.status, done2.status) == (MigrationStatus.COMPLETED, MigrationStatus.COMPLETED)
    assert not watcher.both_running, "one slot, yet two migrations ran at once"
    assert MigrationStatus.QUEUED in watcher.seen[m2.id]
    order = [
        MigrationStatus.ACCEPTED,
        MigrationStatus.QUEUED,
        MigrationStatus.PREPARING,
        MigrationStatus.RUNNING,
        MigrationStatus.COMPLETED,
    ]
    for seen in watcher.seen.values():
        assert seen == [s for s in order if s in seen], seen  # never out of order
        assert seen[-1] == MigrationStatus.COMPLETED
    assert (done1.memory_total, done1.memory_processed, done1.memory_remaining) == (
        512 * MiB,
        512 * MiB,
        0,
    )
    assert done2.memory_total == 256 * MiB

    for inst in (first, second):
        moved = instance_of(inst.uuid)
        assert (moved.host, moved.node, moved.vm_state, moved.task_state) == (
            "cmp2",
            "cmp2",
            VMState.ACTIVE,
            None,
        )
        assert cloud.driver("cmp2").get_info(moved).state == power_state.RUNNING
        assert not cloud.driver("cmp1").instance_exists(moved)
    assert cloud.usage("cmp1") == src_before - 768
    assert cloud.usage("cmp2") == dst_before + 768
    events = live_migration_events(first.uuid)
    assert sorted(events) == sorted(
        [
            ("compute_check_can_live_migrate_destination", "Success"),
            ("compute_check_can_live_migrate_source", "Success"),
            ("compute_live_migration", "Success"),
            ("compute_pre_live_migration", "Success"),
            ("compute_post_live_migration_at_destination", "Success"),
        ]
    )
    for inst in (first, second):  # back home, for the next tests' counts
        m = new_migration(ctx, instance_of(inst.uuid), source="cmp2", dest="cmp1")
        api = ComputeAPI()
        back = instance_of(inst.uuid)
        data = api.check_can_live_migrate_destination(ctx, back, "cmp1", timeout=10)
        api.live_migration(ctx, back, "cmp1", False, data, m)
        assert wait_for(ended(m)).status == MigrationStatus.COMPLETED


def test_live_migration_degrades_to_1_0(cloud: Cloud, flags: Any, caplog: Any) -> None:
    """[upgrade_levels] compute = 1.0: the cast carries no Migration; cmp1 finds it."""
    flags(group="upgrade_levels", compute="1.0")
    api = ComputeAPI()
    assert api.version_cap == "1.0" and not api.can_send_version("1.1")
    inst = cloud.build()
    ctx = get_admin_context()
    migration = new_migration(ctx, inst)
    with caplog.at_level(logging.INFO, logger="nubis.plugins.managers.compute.manager"):
        live_migrate(ctx, inst, migration, api)
        done = wait_for(ended(migration))
    assert done.status == MigrationStatus.COMPLETED and done.memory_processed == 512 * MiB
    assert f"live_migration from a 1.0 sender: found migration {migration.uuid}" in caplog.text
    assert instance_of(inst.uuid).host == "cmp2"


def test_failed_live_migration_rolls_back_on_both_hosts(cloud: Cloud, flags: Any) -> None:
    flags(group="fake_driver", live_migration_seconds=1.0)
    inst = cloud.build(memory_mb=384)
    src_before, dst_before = cloud.usage("cmp1"), cloud.usage("cmp2")
    ctx = get_admin_context()
    migration = new_migration(ctx, inst)
    live_migrate(ctx, inst, migration)
    wait_for(lambda: objects.Migration.get_by_id(ctx, migration.id).status == "running")
    assert cloud.usage("cmp2") == dst_before + 384  # claimed by pre_live_migration
    # While memory is copied, a guest with the same uuid appears on cmp2: the switch-over
    # fails and the driver calls recover_method.
    squatter = types.SimpleNamespace(
        uuid=inst.uuid,
        name="squatter",
        memory_mb=64,
        vcpus=1,
        root_gb=0,
        image_ref="",
        host=None,
        node=None,
        power_state=0,
    )
    cloud.driver("cmp2").spawn(ctx, squatter)
    try:
        done = wait_for(ended(migration))
    finally:
        cloud.driver("cmp2").destroy(ctx, squatter)
    assert done.status == MigrationStatus.FAILED
    back = instance_of(inst.uuid)
    assert (back.host, back.node, back.vm_state, back.task_state) == (
        "cmp1",
        "cmp1",
        VMState.ACTIVE,
        None,
    )
    assert cloud.driver("cmp1").get_info(inst).state == power_state.RUNNING
    assert cloud.usage("cmp1") == src_before and cloud.usage("cmp2") == dst_before
    [fault] = faults_of(inst.uuid)
    assert "guest already exists on cmp2" in fault.message
    events = live_migration_events(inst.uuid)
    assert ("compute_rollback_live_migration_at_destination", "Success") in events
    assert ("compute_live_migration", "Error") in events


def test_refused_pre_live_migration_rolls_back(cloud: Cloud) -> None:
    """cmp2 cannot take the guest (its memory is claimed away): failed in 'preparing'."""
    inst = cloud.build(memory_mb=256)
    ctx = get_admin_context()
    migration = new_migration(ctx, inst)
    api = ComputeAPI()
    data = api.check_can_live_migrate_destination(ctx, inst, "cmp2", timeout=10)
    rt = cloud.manager("cmp2").resource_trackers["cmp2"]
    hog = cloud.new_instance(ctx, memory_mb=24576 - rt.usage.memory_mb - 100)
    claim = rt.instance_claim(ctx, hog)
    try:
        api.live_migration(ctx, inst, "cmp2", False, data, migration)
        done = wait_for(ended(migration))
    finally:
        claim.abort()
    assert done.status == MigrationStatus.FAILED and done.memory_total is None
    assert active(inst.uuid).host == "cmp1"
    [fault] = faults_of(inst.uuid)
    assert fault.message.startswith("ComputeResourcesUnavailable: node cmp2 of host cmp2")
    assert "256 MiB memory requested, 100 MiB free" in fault.message
    assert "Traceback" not in fault.message and "Traceback" in fault.details


def test_aborted_live_migrations_stay_on_the_source(cloud: Cloud, flags: Any) -> None:
    """A running migration aborted part-way, and a queued one cancelled before it starts."""
    # Long enough that the aborts land mid-copy even on a loaded machine.
    flags(group="fake_driver", live_migration_seconds=20.0, live_migration_steps=200)
    inst, waiting = cloud.build(), cloud.build(memory_mb=128)
    ctx = get_admin_context()
    migration, queued = new_migration(ctx, inst), new_migration(ctx, waiting)
    live_migrate(ctx, inst, migration)
    wait_for(lambda: objects.Migration.get_by_id(ctx, migration.id).memory_processed)
    live_migrate(ctx, waiting, queued)  # one slot: it waits
    wait_for(lambda: objects.Migration.get_by_id(ctx, queued.id).status == "queued")

    api = ComputeAPI()
    api.live_migration_abort(ctx, waiting, queued.id)
    cancelled = wait_for(ended(queued), timeout=5)
    assert cancelled.status == MigrationStatus.CANCELLED and cancelled.memory_total is None
    assert objects.Migration.get_by_id(ctx, migration.id).status == "running"  # untouched
    api.live_migration_abort(ctx, inst, migration.id)
    done = wait_for(ended(migration), timeout=5)
    assert done.status == MigrationStatus.CANCELLED
    assert 0 < done.memory_processed < done.memory_total  # it was stopped part-way
    for instance in (inst, waiting):
        back = active(instance.uuid)
        assert (back.host, back.node) == ("cmp1", "cmp1")
        assert cloud.driver("cmp1").get_info(instance).state == power_state.RUNNING
        assert not cloud.driver("cmp2").instance_exists(instance)
        assert faults_of(instance.uuid) == []  # a cancellation is not a fault


def test_a_lifecycle_event_of_a_busy_instance_is_dropped_unread(cloud: Cloud) -> None:
    """An event that comes while the instance's lock is held (a build's own spawn, say)
    costs no read of the instance; once the lock is free, the next event is applied."""
    inst = cloud.build()
    manager = cloud.manager("cmp1")
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM instances" in statement and inst.uuid in str(params):
            reads.append(statement)

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", count)
    try:
        with manager.instance_lock(inst.uuid, "a test's operation", 5):
            manager._handle_event(virt_events.LifecycleEvent(inst.uuid, virt_events.STARTED))
        assert reads == []
        manager._handle_event(virt_events.LifecycleEvent(inst.uuid, virt_events.STARTED))
        assert reads, "the event of a free instance reads it, to apply the power-state rules"
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", count)
