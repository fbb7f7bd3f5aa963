"""No accepted request is lost or stranded (in one process over inproc:// with SQLite: a
conductor, a scheduler and two fake compute hosts, object calls through the conductor).

* a build request whose message was lost is sent again by the conductor's reconciler
  and built once; one that is lost twice ends in ERROR with a fault;
* a build request delivered twice is built once;
* a cast the bus does not take makes the API answer ServiceUnavailable (503) and leaves
  no instance (create) or gives the instance back (other operations);
* builds older than ``[compute] instance_build_timeout`` end in ERROR with a fault (the
  compute's ``build_timeout`` task and the reconciler);
* a build left half done by a restart ends in ERROR with a fault;
* the records of a build that failed while the conductor was away are written when it
  returns;
* a resent build of a server group's member is placed by the group's policy.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import oslo_messaging as messaging
import pytest

from nubis.core import exception, objects
from nubis.core.compute.api import API
from nubis.core.compute.states import InstanceActionName, TaskState, VMState
from nubis.core.conductor.rpcapi import ComputeTaskAPI
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.objects.request_spec import RequestSpec
from nubis.core.service import Service
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.compute.build_timeout import build_timeout
from nubis.plugins.periodic_tasks.conductor.reconcile import RESENDS_KEY, Reconciler
from tests.fixtures.inproc_cloud import active, faults_of, inproc_services, instance_of, wait_for


def user_context() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", is_admin=True)


class Cloud:
    def __init__(self, services: dict[str, Service], override: Any) -> None:
        self.services = services
        self.override = override
        self.api = API()

    def flavor(self, memory_mb: int = 512) -> Any:
        flavor = objects.Flavor(get_admin_context())
        flavor.flavorid = f"f-{uuid.uuid4().hex[:8]}"
        flavor.name = flavor.flavorid
        flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb = memory_mb, 1, 1, 0
        flavor.create()
        return flavor

    def accepted_but_lost(self) -> Any:
        """An instance recorded as the API records a create, whose cast never left."""
        ctx = user_context()
        inst = objects.Instance(ctx)
        inst.uuid = str(uuid.uuid4())
        inst.display_name = inst.hostname = "lost"
        inst.project_id, inst.user_id = ctx.project_id, ctx.user_id
        flavor = self.flavor()
        inst.flavor_id, inst.memory_mb, inst.vcpus = flavor.id, 512, 1
        inst.root_gb, inst.ephemeral_gb = 1, 0
        inst.vm_state, inst.task_state = VMState.BUILDING, TaskState.SCHEDULING
        inst.power_state = power_state.NOSTATE
        inst.system_metadata = {}
        inst.create()
        objects.InstanceAction.action_start(ctx, inst.uuid, InstanceActionName.CREATE)
        return inst

    def reconcile(self) -> dict[str, list[str]]:
        manager = self.services["cond"].manager
        return Reconciler(manager.conf, manager.host).run(get_admin_context())

    def spawned(self, instance_uuid: str) -> list[str]:
        return [
            h
            for h in ("cmp1", "cmp2")
            if instance_uuid in self.services[h].manager.driver.list_instance_uuids()
        ]


@pytest.fixture(scope="module")
def cloud(_migrated_urls: Callable[[str], str], tmp_path_factory: Any) -> Iterator[Cloud]:
    options = {("rpc_response_timeout", None): 3}
    with inproc_services(
        _migrated_urls("sqlite"), tmp_path_factory.mktemp("recovery"), options=options
    ) as (services, override):
        yield Cloud(services, override)


@pytest.fixture
def clean(cloud: Cloud) -> Iterator[Cloud]:
    yield cloud
    ctx = get_admin_context()
    wait_for(
        lambda: all(i.task_state is None for i in objects.InstanceList.get_all(ctx)),
        what="every operation to end",
    )
    for instance in objects.InstanceList.get_all(ctx):
        cloud.api.delete(ctx, instance)
    wait_for(lambda: not objects.InstanceList.get_all(ctx), what="every instance deleted")


def errored_with_fault(instance_uuid: str) -> list[Any] | None:
    inst = instance_of(instance_uuid)
    if inst.vm_state != VMState.ERROR or inst.task_state is not None:
        return None
    return faults_of(instance_uuid) or None


# --- the reconciler ------------------------------------------------------------------------


def test_a_lost_build_request_is_sent_again_and_built_once(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    flags(group="conductor", build_request_timeout=1)
    assert not any(clean.reconcile().values())  # not yet
    time.sleep(1.1)
    assert clean.reconcile()["resent"] == [inst.uuid]
    built = wait_for(lambda: active(inst.uuid), what="the resent build")
    assert built.system_metadata[RESENDS_KEY] == "1"
    assert len(clean.spawned(inst.uuid)) == 1
    assert faults_of(inst.uuid) == []


def test_a_build_request_lost_twice_ends_in_error_with_a_fault(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    inst.system_metadata = {RESENDS_KEY: "1"}  # sent again once already, lost again
    inst.save()
    flags(group="conductor", build_request_timeout=1)
    time.sleep(1.1)
    assert clean.reconcile()["ended"] == [inst.uuid]
    (fault,) = errored_with_fault(inst.uuid)
    assert fault.message.startswith("InstanceBuildTimeout: ")
    assert "no conductor or compute host took the build request" in fault.message


def test_a_create_recorded_in_part_is_deleted_not_built(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    # As if the API failed between the instance and its create action.
    from nubis.core.db import engine

    with engine.get_engine().begin() as conn:
        conn.exec_driver_sql("DELETE FROM instance_actions WHERE instance_uuid = ?", (inst.uuid,))
    flags(group="conductor", build_request_timeout=1)
    time.sleep(1.1)
    assert clean.reconcile()["unacknowledged"] == [inst.uuid]
    with pytest.raises(exception.InstanceNotFound):
        instance_of(inst.uuid)
    assert clean.spawned(inst.uuid) == []


def test_a_build_request_delivered_twice_is_built_once(clean: Cloud) -> None:
    inst = clean.accepted_but_lost()
    spec = RequestSpec.from_instance(inst, num_instances=1)
    spec.instance_uuid = None
    tasks = ComputeTaskAPI()
    tasks.build_instances(user_context(), [inst], spec)
    tasks.build_instances(user_context(), [inst], spec.obj_clone())
    wait_for(lambda: active(inst.uuid), what="the build")
    time.sleep(0.3)  # a second build would have claimed by now
    assert len(clean.spawned(inst.uuid)) == 1
    assert instance_of(inst.uuid).vm_state == VMState.ACTIVE


def test_builds_older_than_instance_build_timeout_end_in_error(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    inst.host, inst.node = "cmp1", "cmp1"
    inst.task_state = TaskState.SPAWNING
    inst.save()
    flags(group="compute", instance_build_timeout=1)
    manager = clean.services["cmp1"].manager
    assert build_timeout(manager, get_admin_context()) == []
    time.sleep(1.1)
    assert build_timeout(manager, get_admin_context()) == [inst.uuid]
    (fault,) = errored_with_fault(inst.uuid)
    assert "still building (task spawning) on cmp1" in fault.message
    # and the conductor's pass finds nothing left to do for it
    assert clean.reconcile()["ended"] == []


def test_the_reconciler_ends_builds_past_the_build_timeout_on_any_host(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    inst.host, inst.task_state = "gone-host", TaskState.SPAWNING
    inst.save()
    flags(group="compute", instance_build_timeout=1)
    time.sleep(1.1)
    assert clean.reconcile()["ended"] == [inst.uuid]
    (fault,) = errored_with_fault(inst.uuid)
    assert "host gone-host" in fault.message


def test_a_task_that_never_progresses_is_cleared_with_a_fault(clean: Cloud, flags) -> None:
    inst = clean.accepted_but_lost()
    inst.vm_state, inst.task_state, inst.host = VMState.ACTIVE, TaskState.POWERING_OFF, "cmp1"
    inst.save()
    flags(group="conductor", task_timeout=1)
    time.sleep(1.1)
    assert clean.reconcile()["cleared"] == [inst.uuid]
    after = instance_of(inst.uuid)
    assert (after.vm_state, after.task_state) == (VMState.ACTIVE, None)
    assert "task powering-off made no progress" in faults_of(inst.uuid)[0].message


# --- the API and the bus -------------------------------------------------------------------


def test_a_create_the_bus_does_not_take_is_refused_and_leaves_nothing(
    clean: Cloud, flags, monkeypatch
) -> None:
    flags(group="compute", cast_timeout=0.3)
    api = API()
    hang = __import__("threading").Event()
    monkeypatch.setattr(
        api.compute_task_api, "build_instances", lambda *a, **k: hang.wait(5), raising=True
    )
    before = {i.uuid for i in objects.InstanceList.get_all(get_admin_context())}
    started = time.monotonic()
    with pytest.raises(exception.ServiceUnavailable) as caught:
        api.create(user_context(), flavor=clean.flavor(), image_ref=None, name="x")
    hang.set()
    assert time.monotonic() - started < 2
    assert caught.value.code == 503
    assert "cast_timeout" in str(caught.value)
    after = {i.uuid for i in objects.InstanceList.get_all(get_admin_context())}
    assert after == before
    api.cleanup()


def test_a_create_failing_at_its_quota_recheck_leaves_no_build_request(
    clean: Cloud, flags, monkeypatch
) -> None:
    """The database goes away between recording a create's instances and recounting
    the quota: the request fails, and an instance that could not be deleted then has no
    create action, so the reconciler deletes it instead of building it."""
    flags(group="quota", instances=10, cores=20, ram=51200)
    api = API()

    def database_gone(*args: Any, **kwargs: Any) -> None:
        raise exception.ServiceUnavailable(what="the database", reason="connection refused")

    def cannot_delete(self: Any) -> None:
        raise exception.ServiceUnavailable(what="the database", reason="connection refused")

    monkeypatch.setattr(objects.Quotas, "recheck_instances", database_gone)
    monkeypatch.setattr(objects.Instance, "destroy", cannot_delete)
    before = {i.uuid for i in objects.InstanceList.get_all(get_admin_context())}
    with pytest.raises(exception.ServiceUnavailable):
        api.create(user_context(), flavor=clean.flavor(), image_ref=None, name="z", max_count=2)
    monkeypatch.undo()
    left = {i.uuid for i in objects.InstanceList.get_all(get_admin_context())} - before
    assert len(left) == 2
    for instance_uuid in left:
        assert objects.InstanceActionList.get_by_instance_uuid(
            get_admin_context(), instance_uuid
        ).objects == []
    flags(group="conductor", build_request_timeout=1)
    time.sleep(1.1)
    assert sorted(clean.reconcile()["unacknowledged"]) == sorted(left)
    assert not {i.uuid for i in objects.InstanceList.get_all(get_admin_context())} & left
    assert not any(clean.spawned(u) for u in left)
    api.cleanup()


def test_a_failed_cast_gives_the_instance_back(clean: Cloud, monkeypatch) -> None:
    (inst,) = clean.api.create(user_context(), flavor=clean.flavor(), image_ref=None, name="y")
    inst = wait_for(lambda: active(inst.uuid), what="the build")
    api = API()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise messaging.MessageDeliveryFailure("broker unreachable")

    monkeypatch.setattr(api.compute_rpcapi, "stop_instance", refuse)
    with pytest.raises(exception.ServiceUnavailable, match="broker unreachable"):
        api.stop(user_context(), inst)
    after = instance_of(inst.uuid)
    assert (after.vm_state, after.task_state) == (VMState.ACTIVE, None)
    api.cleanup()


# --- the compute host ----------------------------------------------------------------------


def test_a_build_left_half_done_by_a_restart_ends_in_error_with_a_fault(clean: Cloud) -> None:
    inst = clean.accepted_but_lost()
    inst.host, inst.node, inst.task_state = "cmp2", "cmp2", TaskState.SPAWNING
    inst.save()
    manager = clean.services["cmp2"].manager
    manager._lifecycle.init_instances(get_admin_context())
    (fault,) = errored_with_fault(inst.uuid)
    assert "restarted during the build" in fault.message


def test_records_of_a_failure_wait_for_the_conductor(clean: Cloud, monkeypatch) -> None:
    """The build fails on its last save and so does writing the fault and the revert
    (the conductor is away); they are written once it answers again."""
    manager = clean.services["cmp1"].manager
    pending = manager.pending_records
    away = {"on": True}
    real_save = objects.Instance.save
    real_create = objects.InstanceFault.create

    def save(self: Any, *args: Any, **kwargs: Any) -> None:
        if away["on"] and self.task_state is None and self.host == "cmp1":
            raise messaging.MessagingTimeout("the conductor does not answer")
        real_save(self, *args, **kwargs)

    def create(self: Any) -> None:
        if away["on"]:
            raise messaging.MessagingTimeout("the conductor does not answer")
        real_create(self)

    # The conductor runs the undecorated methods (original_fn): only the compute's side
    # of each call fails.
    save.original_fn = real_save.original_fn  # type: ignore[attr-defined]
    create.original_fn = real_create.original_fn  # type: ignore[attr-defined]
    monkeypatch.setattr(objects.Instance, "save", save)
    monkeypatch.setattr(objects.InstanceFault, "create", create)
    (inst,) = clean.api.create(
        user_context(), flavor=clean.flavor(), image_ref=None, name="z", requested_host="cmp1"
    )
    wait_for(lambda: len(pending) >= 2, what="the records to be kept")
    assert instance_of(inst.uuid).task_state == TaskState.SPAWNING  # not written yet
    away["on"] = False
    assert pending.flush() == 0
    (fault,) = errored_with_fault(inst.uuid)
    assert "MessagingTimeout" in fault.message


def test_a_resent_build_keeps_to_its_server_group(clean: Cloud, flags) -> None:
    from nubis.core.db import api as db

    ctx = user_context()
    group = db.instance_group_create(
        ctx, {"name": "g", "policy": "anti-affinity", "project_id": "p1", "user_id": "u1"}
    )
    try:
        for _ in range(2):  # the lost one first, then a member placed somewhere
            lost = clean.accepted_but_lost()
            db.instance_group_members_add(ctx, group.uuid, [lost.uuid])
        placed = lost
        inst = instance_of(db.instance_group_members_get(ctx, [group.uuid])[group.uuid][0])
        db.instance_update_and_get_original(
            ctx, placed.uuid, {"host": "cmp1", "vm_state": VMState.ACTIVE, "task_state": None}
        )
        flags(group="conductor", build_request_timeout=1)
        time.sleep(1.1)
        assert clean.reconcile()["resent"] == [inst.uuid]
        assert wait_for(lambda: active(inst.uuid), what="the resent build").host == "cmp2"
    finally:
        db.instance_update_and_get_original(ctx, placed.uuid, {"host": None})
        db.instance_group_delete(ctx, group.uuid)
