"""Builds and live migrations through the compute API, the conductor's compute tasks and
the scheduler (DESIGN.md flows 2 and 3), in one process over inproc:// with SQLite: a
conductor, a scheduler and two fake compute hosts (``cmp1``, ``cmp2``), every object
call going through the conductor indirection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubis.core import exception, metrics, objects
from nubis.core.compute.api import API
from nubis.core.compute.states import MigrationStatus, TaskState, VMState
from nubis.core.conf import CONF
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.service import Service
from tests.fixtures.inproc_cloud import (
    actions_of,
    active,
    ended_actions_of,
    faults_of,
    inproc_services,
    instance_of,
    wait_for,
)

GiB = 1024


class Cloud:
    def __init__(self, services: dict[str, Service]) -> None:
        self.services = services
        self.api = API()

    def driver(self, host: str) -> Any:
        return self.services[host].manager.driver

    def flavor(self, memory_mb: int, vcpus: int = 1, root_gb: int = 1) -> Any:
        ctx = get_admin_context()
        flavor = objects.Flavor(ctx)
        flavor.flavorid = f"f-{uuid.uuid4().hex[:8]}"
        flavor.name = flavor.flavorid
        flavor.memory_mb = memory_mb
        flavor.vcpus = vcpus
        flavor.root_gb = root_gb
        flavor.ephemeral_gb = 0
        flavor.create()
        return flavor

    def boot(self, memory_mb: int = GiB, count: int = 1, host: str | None = None) -> list[Any]:
        ctx = user_context()
        created = self.api.create(
            ctx,
            flavor=self.flavor(memory_mb),
            image_ref=None,
            name="vm",
            min_count=count,
            max_count=count,
            requested_host=host,
        )
        return [
            wait_for(lambda i=i: active(i.uuid), what=f"{i.uuid} to become active") for i in created
        ]

    def delete_all(self) -> None:
        ctx = get_admin_context()
        wait_for(
            lambda: all(i.task_state is None for i in objects.InstanceList.get_all(ctx)),
            what="every operation to end",
        )
        for instance in objects.InstanceList.get_all(ctx):
            self.api.delete(ctx, instance)
        wait_for(lambda: not objects.InstanceList.get_all(ctx), what="every instance deleted")
        # A compute gives the claim back after it destroys the record: wait for that too,
        # or the next test's scheduler may still see the hosts full.
        wait_for(
            lambda: all(n.memory_mb_used == 0 for n in objects.ComputeNodeList.get_all(ctx)),
            what="every host's memory given back",
        )


def user_context() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", is_admin=True)


def errored(instance_uuid: str) -> Any:
    inst = instance_of(instance_uuid)
    return inst if inst.vm_state == VMState.ERROR and inst.task_state is None else None


@pytest.fixture(scope="module")
def cloud(_migrated_urls: Callable[[str], str], tmp_path_factory: Any) -> Iterator[Cloud]:
    options = {("rpc_response_timeout", None): 3, ("max_attempts", "scheduler"): 3}
    with inproc_services(
        _migrated_urls("sqlite"), tmp_path_factory.mktemp("tasks"), options=options
    ) as (services, override):
        override("live_migration_seconds", 0.1, group="fake_driver")
        yield Cloud(services)


@pytest.fixture
def clean(cloud: Cloud) -> Iterator[Cloud]:
    yield cloud
    cloud.delete_all()


# --- builds ------------------------------------------------------------------------------


def test_four_instances_spread_by_the_ram_weigher(clean: Cloud) -> None:
    instances = clean.boot(memory_mb=2 * GiB, count=4)
    hosts = sorted(i.host for i in instances)
    assert hosts == ["cmp1", "cmp1", "cmp2", "cmp2"]
    assert [i.display_name for i in instances] == ["vm-1", "vm-2", "vm-3", "vm-4"]
    expected = [
        (
            "create",
            [
                ("conductor_schedule_and_build_instances", "Success"),
                ("compute_build_and_run_instance", "Success"),
            ],
        )
    ]
    for inst in instances:
        assert inst.scheduled_at is not None and inst.launched_at is not None
        # The compute ends its event after the instance is ACTIVE (as Nova does).
        wait_for(lambda i=inst: actions_of(i.uuid) == expected, what=f"{inst.uuid}'s events")


def test_requested_host_is_honoured(clean: Cloud) -> None:
    (inst,) = clean.boot(host="cmp2")
    assert inst.host == "cmp2"


def test_a_failed_build_is_rescheduled_to_the_other_host(clean: Cloud) -> None:
    # cmp2 busier, so the RAM weigher sends the next build to cmp1, which fails it.
    clean.boot(memory_mb=8 * GiB, host="cmp2")
    clean.driver("cmp1").fail_next_spawns(1, "disk on fire")
    (inst,) = clean.boot(memory_mb=GiB)
    assert inst.host == "cmp2"
    (fault,) = faults_of(inst.uuid)
    assert "disk on fire" in fault.message and fault.host == "cmp1"
    expected = [
        (
            "create",
            [
                ("conductor_schedule_and_build_instances", "Success"),
                ("compute_build_and_run_instance", "Error"),
                ("conductor_schedule_and_build_instances", "Success"),
                ("compute_build_and_run_instance", "Success"),
            ],
        )
    ]
    wait_for(lambda: actions_of(inst.uuid) == expected, what="the build events to end")
    assert not clean.driver("cmp1").list_instance_uuids() or inst.uuid not in (
        clean.driver("cmp1").list_instance_uuids()
    )


def test_a_late_build_failure_does_not_hand_back_an_instance_built_elsewhere(
    clean: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A resent build request (the reconciler's) built the instance on cmp2 while cmp1's
    # copy of the same request was still waiting out a database outage in its claim;
    # when cmp1's failure finally comes, the instance must not go back for scheduling
    # (which would build it a second time).
    (inst,) = clean.boot(host="cmp2")
    stale = instance_of(inst.uuid)
    stale.vm_state, stale.task_state, stale.host = VMState.BUILDING, TaskState.SCHEDULING, None
    stale.obj_reset_changes()
    manager = clean.services["cmp1"].manager

    def database_away(context: Any, instance: Any) -> Any:
        raise exception.NubisException("the database went away")

    monkeypatch.setattr(manager._nodes.get("cmp1"), "instance_claim", database_away)
    spec = objects.RequestSpec(get_admin_context(), ignore_hosts=[], num_attempts=1)
    manager.build_and_run_instance(user_context(), stale, node="cmp1", request_spec=spec)

    built = instance_of(inst.uuid)
    assert (built.vm_state, built.task_state, built.host) == (VMState.ACTIVE, None, "cmp2")


def test_a_build_failing_everywhere_errors_the_instance(clean: Cloud) -> None:
    for host in ("cmp1", "cmp2"):
        clean.driver(host).fail_next_spawns(1, f"broken {host}")
    ctx = user_context()
    (inst,) = clean.api.create(ctx, flavor=clean.flavor(GiB), image_ref=None, name="doomed")
    wait_for(lambda: errored(inst.uuid), what="the instance to go to error")
    messages = [f.message for f in faults_of(inst.uuid)]
    assert any("no valid host" in m for m in messages), messages
    assert sum("broken" in m for m in messages) == 2

    # The conductor ends the build event after it saves ERROR: a moment behind.
    action, events = wait_for(lambda: ended_actions_of(inst.uuid), what="the events to end")[0]
    assert action == "create"
    assert events[-1] == ("conductor_schedule_and_build_instances", "Error")


def test_max_attempts_stops_rescheduling(clean: Cloud) -> None:
    CONF.set_override("max_attempts", 1, group="scheduler")
    try:
        clean.driver("cmp1").fail_next_spawns(1, "broken")
        clean.driver("cmp2").fail_next_spawns(1, "broken")
        ctx = user_context()
        (inst,) = clean.api.create(ctx, flavor=clean.flavor(GiB), image_ref=None, name="once")
        wait_for(lambda: errored(inst.uuid), what="the instance to go to error")
        messages = [f.message for f in faults_of(inst.uuid)]
        assert any("max_attempts = 1" in m for m in messages), messages
    finally:
        CONF.clear_override("max_attempts", group="scheduler")
        for host in ("cmp1", "cmp2"):  # the host that was not tried still holds its failure
            clean.driver(host).fail_next_spawns(0)


def test_no_valid_host_names_the_filter_and_errors_the_instance(clean: Cloud) -> None:
    def no_valid_host_failures() -> float:
        name, labels = "nubis_conductor_build_failures_total", {"exception": "NoValidHost"}
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = no_valid_host_failures()
    ctx = user_context()
    (inst,) = clean.api.create(ctx, flavor=clean.flavor(64 * GiB), image_ref=None, name="huge")
    wait_for(lambda: errored(inst.uuid), what="the instance to go to error")
    (fault,) = faults_of(inst.uuid)
    assert "no valid host" in fault.message and "Ram" in fault.message, fault.message
    assert no_valid_host_failures() == before + 1
    # An instance that never got a host is deleted by the API itself.
    clean.api.delete(ctx, instance_of(inst.uuid))
    with pytest.raises(exception.InstanceNotFound):
        instance_of(inst.uuid)


# --- operations ----------------------------------------------------------------------------


def test_stop_start_reboot_and_state_checks(clean: Cloud) -> None:
    (inst,) = clean.boot()
    ctx = user_context()
    with pytest.raises(exception.InstanceInvalidState, match="vm_state active"):
        clean.api.start(ctx, inst)
    clean.api.stop(ctx, inst)
    stopped = wait_for(
        lambda: (
            (i := instance_of(inst.uuid)).vm_state == VMState.STOPPED and i.task_state is None and i
        )
    )
    with pytest.raises(exception.InstanceInvalidState):
        clean.api.reboot(ctx, stopped, "SOFT")
    with pytest.raises(exception.Invalid, match="reboot type"):
        clean.api.reboot(ctx, stopped, "GENTLE")
    clean.api.start(ctx, stopped)
    started = wait_for(lambda: active(inst.uuid))
    clean.api.reboot(ctx, started, "SOFT")
    wait_for(lambda: any(a == "reboot" for a, _ in actions_of(inst.uuid)) and active(inst.uuid))
    assert [a for a, _ in actions_of(inst.uuid)] == ["create", "stop", "start", "reboot"]


def test_concurrent_operations_lose_with_a_clear_error(clean: Cloud) -> None:
    (inst,) = clean.boot()
    ctx = user_context()
    stale = instance_of(inst.uuid)
    clean.api.stop(ctx, inst)
    # A soft reboot needs an active instance with no task: whether the stop is still
    # running (task powering-off) or already done (vm_state stopped), the stale copy
    # loses. (A hard reboot of a stopped instance is allowed, so with HARD the outcome
    # depended on whether the fake driver had finished the stop.)
    with pytest.raises(exception.InstanceInvalidState):
        clean.api.reboot(ctx, stale, "SOFT")


# --- live migration ------------------------------------------------------------------------


def migrated(instance_uuid: str, host: str) -> Any:
    inst = instance_of(instance_uuid)
    return inst if inst.host == host and inst.task_state is None else None


def test_live_migration_scheduler_chosen_then_requested_host(clean: Cloud) -> None:
    (inst,) = clean.boot()
    other = "cmp2" if inst.host == "cmp1" else "cmp1"
    ctx = user_context()
    migration = clean.api.live_migrate(ctx, inst)
    assert migration.dest_compute == other and migration.source_compute == inst.host
    done = wait_for(lambda: completed(migration.id), what="the migration to complete")
    assert migrated(inst.uuid, other)
    assert done.memory_total and done.memory_processed == done.memory_total

    back = clean.api.live_migrate(ctx, instance_of(inst.uuid), host=inst.host)
    assert back.dest_compute == inst.host
    wait_for(lambda: completed(back.id), what="the migration back to complete")
    assert migrated(inst.uuid, inst.host)
    listed = clean.api.get_migrations(ctx, {"instance_uuid": inst.uuid})
    assert [m.status for m in listed] == [MigrationStatus.COMPLETED] * 2
    actions = actions_of(inst.uuid)
    assert [a for a, _ in actions] == ["create", "live-migration", "live-migration"]
    assert actions[1][1][0] == ("conductor_live_migrate_instance", "Success")


def completed(migration_id: int) -> Any:
    migration = objects.Migration.get_by_id(get_admin_context(), migration_id)
    return migration if migration.status == MigrationStatus.COMPLETED else None


def _assert_rolled_back(inst: Any, host: str) -> None:
    now = instance_of(inst.uuid)
    assert (now.host, now.vm_state, now.task_state) == (host, VMState.ACTIVE, None)
    (migration,) = objects.MigrationList.get_by_instance(get_admin_context(), inst.uuid)
    assert migration.status == MigrationStatus.ERROR


def test_live_migration_to_its_own_host_is_refused(clean: Cloud) -> None:
    (inst,) = clean.boot()
    with pytest.raises(exception.MigrationPreCheckError, match="own host"):
        clean.api.live_migrate(user_context(), inst, host=inst.host)
    _assert_rolled_back(inst, inst.host)


def test_live_migration_to_a_forced_down_host_is_refused(clean: Cloud) -> None:
    (inst,) = clean.boot()
    other = "cmp2" if inst.host == "cmp1" else "cmp1"
    ctx = get_admin_context()
    service = objects.Service.get_by_host_and_binary(ctx, other, "nubis-compute")
    service.forced_down = True
    service.save()
    try:
        with pytest.raises(exception.ComputeServiceUnavailable, match=other):
            clean.api.live_migrate(user_context(), inst, host=other)
        _assert_rolled_back(inst, inst.host)
        # Scheduler-chosen: the only other host is down, so nothing is valid.
        with pytest.raises(exception.NoValidHost):
            clean.api.live_migrate(user_context(), instance_of(inst.uuid))
    finally:
        service.forced_down = False
        service.save()


def test_live_migration_without_enough_memory_is_refused(clean: Cloud) -> None:
    (big,) = clean.boot(memory_mb=12 * GiB)
    other = "cmp2" if big.host == "cmp1" else "cmp1"
    clean.boot(memory_mb=8 * GiB, host=other)
    with pytest.raises(exception.MigrationPreCheckError, match="free memory"):
        clean.api.live_migrate(user_context(), big, host=other)


def test_destination_not_answering_rolls_back(clean: Cloud) -> None:
    (inst,) = clean.boot()
    other = "cmp2" if inst.host == "cmp1" else "cmp1"
    server = clean.services[other].rpcserver
    assert server is not None
    server.stop()  # the destination's compute stops answering, its record stays up
    try:
        with pytest.raises(exception.MigrationPreCheckError, match="did not answer"):
            clean.api.live_migrate(user_context(), inst, host=other)
        _assert_rolled_back(inst, inst.host)
    finally:
        server.start()


def test_live_migration_of_a_stopped_instance_is_refused(clean: Cloud) -> None:
    (inst,) = clean.boot()
    clean.api.stop(user_context(), inst)
    stopped = wait_for(
        lambda: (
            (i := instance_of(inst.uuid)).vm_state == VMState.STOPPED and i.task_state is None and i
        )
    )
    with pytest.raises(exception.InstanceInvalidState, match="vm_state stopped"):
        clean.api.live_migrate(user_context(), stopped)
    assert instance_of(inst.uuid).task_state is None
    assert TaskState.MIGRATING != instance_of(inst.uuid).task_state
