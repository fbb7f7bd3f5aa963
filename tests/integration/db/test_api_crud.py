"""Create, read, update and delete every table through the DB API, on every backend."""

import datetime

import pytest
import sqlalchemy
from oslo_utils import timeutils, uuidutils

from nubis.core import exception
from nubis.core.db import api, models

pytestmark = pytest.mark.usefixtures("db_url")


def _instance(ctx, **values):
    values.setdefault("host", "host1")
    values.setdefault("node", "node1")
    values.setdefault("vm_state", "active")
    return api.instance_create(ctx, values)


def _compute_node(ctx, **values):
    values.setdefault("host", "host1")
    values.setdefault("hypervisor_hostname", "node1")
    values.setdefault("vcpus", 8)
    values.setdefault("memory_mb", 16384)
    values.setdefault("local_gb", 100)
    return api.compute_node_create(ctx, values)


# ----------------------------------------------------------------------------- services


def test_service_crud(admin_context):
    ctx = admin_context
    created = api.service_create(
        ctx, {"host": "h1", "binary": "nubis-conductor", "topic": "conductor", "version": 3}
    )
    assert isinstance(created, models.Service)
    assert created.id and uuidutils.is_uuid_like(created.uuid)
    assert (created.report_count, created.disabled, created.forced_down) == (0, False, False)
    assert created.created_at is not None and created.deleted == 0

    assert api.service_get(ctx, created.id).uuid == created.uuid
    assert api.service_get_by_host_and_binary(ctx, "h1", "nubis-conductor").id == created.id

    updated = api.service_update(ctx, created.id, {"disabled": True, "disabled_reason": "maint"})
    assert (updated.disabled, updated.disabled_reason) == (True, "maint")
    assert updated.updated_at is not None

    api.service_destroy(ctx, created.id)
    with pytest.raises(exception.ServiceNotFound):
        api.service_get(ctx, created.id)
    with pytest.raises(exception.HostBinaryNotFound, match="no nubis-conductor service on h"):
        api.service_get_by_host_and_binary(ctx, "h1", "nubis-conductor")
    with pytest.raises(exception.ServiceNotFound):
        api.service_update(ctx, created.id, {"disabled": False})
    with pytest.raises(exception.ServiceNotFound):
        api.service_destroy(ctx, created.id)


def test_service_duplicate_host_binary_is_refused_until_deleted(admin_context):
    ctx = admin_context
    first = api.service_create(ctx, {"host": "h1", "binary": "nubis-compute"})
    with pytest.raises(exception.ServiceBinaryExists, match="nubis-compute service already"):
        api.service_create(ctx, {"host": "h1", "binary": "nubis-compute"})
    api.service_destroy(ctx, first.id)
    again = api.service_create(ctx, {"host": "h1", "binary": "nubis-compute"})
    assert again.id != first.id


def test_service_listings(admin_context):
    ctx = admin_context
    a = api.service_create(ctx, {"host": "a", "binary": "nubis-compute", "topic": "compute"})
    b = api.service_create(
        ctx, {"host": "b", "binary": "nubis-compute", "topic": "compute", "disabled": True}
    )
    c = api.service_create(ctx, {"host": "a", "binary": "nubis-scheduler", "topic": "scheduler"})

    assert [s.id for s in api.service_get_all(ctx)] == [a.id, b.id, c.id]
    assert [s.id for s in api.service_get_all(ctx, disabled=True)] == [b.id]
    assert [s.id for s in api.service_get_all(ctx, disabled=False)] == [a.id, c.id]
    assert [s.id for s in api.service_get_all_by_binary(ctx, "nubis-compute")] == [a.id, b.id]
    assert [
        s.id for s in api.service_get_all_by_binary(ctx, "nubis-compute", include_disabled=False)
    ] == [a.id]
    assert [s.id for s in api.service_get_all_by_topic(ctx, "scheduler")] == [c.id]
    assert [s.id for s in api.service_get_all_by_topic(ctx, "compute", include_disabled=False)] == [
        a.id
    ]


def test_service_minimum_version(admin_context):
    ctx = admin_context
    api.service_create(ctx, {"host": "a", "binary": "nubis-compute", "version": 7})
    api.service_create(ctx, {"host": "b", "binary": "nubis-compute", "version": 5})
    api.service_create(
        ctx, {"host": "c", "binary": "nubis-compute", "version": 1, "forced_down": True}
    )
    gone = api.service_create(ctx, {"host": "d", "binary": "nubis-compute", "version": 2})
    api.service_destroy(ctx, gone.id)
    api.service_create(ctx, {"host": "a", "binary": "nubis-conductor", "version": 9})

    assert api.service_get_minimum_version(
        ctx, ["nubis-compute", "nubis-conductor", "nubis-scheduler"]
    ) == {"nubis-compute": 5, "nubis-conductor": 9}


def test_destroying_a_compute_service_deletes_its_compute_nodes(admin_context):
    ctx = admin_context
    service = api.service_create(ctx, {"host": "host1", "binary": "nubis-compute"})
    node = _compute_node(ctx, service_id=service.id)
    other = _compute_node(ctx, host="host2", hypervisor_hostname="node2")
    api.service_destroy(ctx, service.id)
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_get(ctx, node.id)
    assert api.compute_node_get(ctx, other.id).host == "host2"


# ------------------------------------------------------------------------ compute nodes


def test_compute_node_crud(admin_context):
    ctx = admin_context
    node = _compute_node(
        ctx, stats='{"num_instances": 0}', cpu_allocation_ratio=16.0, host_ip="192.0.2.1"
    )
    assert node.id and uuidutils.is_uuid_like(node.uuid)
    assert (node.vcpus_used, node.memory_mb_used, node.mapped) == (0, 0, 0)

    assert api.compute_node_get(ctx, node.id).hypervisor_hostname == "node1"
    assert api.compute_node_get_by_uuid(ctx, node.uuid).id == node.id
    assert api.compute_node_get_by_host_and_nodename(ctx, "host1", "node1").id == node.id
    second = _compute_node(ctx, hypervisor_hostname="node2")
    assert [n.id for n in api.compute_node_get_all(ctx)] == [node.id, second.id]
    assert [n.id for n in api.compute_node_get_all_by_host(ctx, "host1")] == [node.id, second.id]

    updated = api.compute_node_update(
        ctx,
        node.id,
        {
            "vcpus_used": 2,
            "memory_mb_used": 2048,
            "ram_allocation_ratio": 1.5,
            "stats": '{"num_instances": 1}',
        },
    )
    assert (updated.vcpus_used, updated.memory_mb_used) == (2, 2048)
    assert updated.ram_allocation_ratio == 1.5 and updated.cpu_allocation_ratio == 16.0
    assert updated.stats == '{"num_instances": 1}'

    api.compute_node_delete(ctx, node.id)
    with pytest.raises(exception.ComputeNodeNotFound, match=f"compute node {node.id} could"):
        api.compute_node_get(ctx, node.id)
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_get_by_uuid(ctx, node.uuid)
    with pytest.raises(exception.ComputeHostNodeNotFound, match="host1 has no node node1"):
        api.compute_node_get_by_host_and_nodename(ctx, "host1", "node1")
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_update(ctx, node.id, {"vcpus_used": 0})
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_delete(ctx, node.id)
    api.compute_node_delete(ctx, second.id)
    with pytest.raises(exception.ComputeHostNotFound, match="compute host host1 could not"):
        api.compute_node_get_all_by_host(ctx, "host1")


def test_compute_node_duplicates_and_revival(admin_context):
    ctx = admin_context
    node = _compute_node(ctx)
    with pytest.raises(exception.ComputeNodeExists):
        _compute_node(ctx)
    with pytest.raises(exception.ComputeNodeExists):
        _compute_node(ctx, hypervisor_hostname="other", uuid=node.uuid)

    api.compute_node_delete(ctx, node.id)
    revived = _compute_node(ctx, uuid=node.uuid, vcpus=4)
    assert (revived.id, revived.deleted, revived.deleted_at, revived.vcpus) == (node.id, 0, None, 4)
    assert api.compute_node_get_by_uuid(ctx, node.uuid).vcpus == 4


# ---------------------------------------------------------------------------- instances


def test_instance_crud(admin_context):
    ctx = admin_context
    launched = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    instance = _instance(
        ctx,
        display_name="vm",
        project_id="p",
        user_id="u",
        memory_mb=512,
        vcpus=1,
        root_gb=1,
        launched_at=launched,
        system_metadata='{"image_os": "cirros"}',
    )
    assert uuidutils.is_uuid_like(instance.uuid) and instance.locked is False

    fetched = api.instance_get_by_uuid(ctx, instance.uuid)
    assert fetched.launched_at == launched
    assert fetched.system_metadata == '{"image_os": "cirros"}'

    original, updated = api.instance_update_and_get_original(
        ctx, instance.uuid, {"task_state": "spawning", "power_state": 1}
    )
    assert (original.task_state, updated.task_state) == (None, "spawning")
    assert original is not updated and updated.power_state == 1

    destroyed = api.instance_destroy(ctx, instance.uuid)
    assert destroyed.deleted == destroyed.id and destroyed.deleted_at is not None
    with pytest.raises(exception.InstanceNotFound, match=instance.uuid):
        api.instance_get_by_uuid(ctx, instance.uuid)
    with pytest.raises(exception.InstanceNotFound):
        api.instance_update_and_get_original(ctx, instance.uuid, {"task_state": None})
    with pytest.raises(exception.InstanceNotFound):
        api.instance_destroy(ctx, instance.uuid)


def test_instance_duplicate_uuid(admin_context):
    instance = _instance(admin_context)
    with pytest.raises(exception.InstanceExists, match=instance.uuid):
        _instance(admin_context, uuid=instance.uuid)


def test_instance_listings(admin_context):
    ctx = admin_context
    a = _instance(ctx, project_id="p1")
    b = _instance(ctx, node="node2", project_id="p1", task_state="migrating")
    c = _instance(ctx, host="host2", project_id="p2")

    assert [i.uuid for i in api.instance_get_all_by_host(ctx, "host1")] == [a.uuid, b.uuid]
    assert [i.uuid for i in api.instance_get_all_by_host_and_node(ctx, "host1", "node2")] == [
        b.uuid
    ]
    assert [i.uuid for i in api.instance_get_all(ctx)] == [a.uuid, b.uuid, c.uuid]
    assert [i.uuid for i in api.instance_get_all(ctx, {"project_id": "p1"})] == [a.uuid, b.uuid]
    assert [i.uuid for i in api.instance_get_all(ctx, {"host": ["host2", "x"]})] == [c.uuid]
    assert [i.uuid for i in api.instance_get_all(ctx, {"task_state": None})] == [a.uuid, c.uuid]
    assert [i.uuid for i in api.instance_get_all(ctx, limit=2)] == [a.uuid, b.uuid]
    assert [i.uuid for i in api.instance_get_all(ctx, marker=a.uuid, limit=1)] == [b.uuid]
    assert api.instance_get_all(ctx, marker=c.uuid) == []
    with pytest.raises(exception.MarkerNotFound):
        api.instance_get_all(ctx, marker="no-such-uuid")
    with pytest.raises(exception.InvalidFilter, match="instances cannot be filtered by colour"):
        api.instance_get_all(ctx, {"colour": "blue"})


# --------------------------------------------------------------------------- migrations


def test_migration_crud(admin_context):
    ctx = admin_context
    instance = _instance(ctx)
    migration = api.migration_create(
        ctx,
        {
            "instance_uuid": instance.uuid,
            "source_compute": "host1",
            "source_node": "node1",
            "dest_compute": "host2",
            "dest_node": "node2",
            "status": "accepted",
            "migration_type": "live-migration",
            "memory_total": 2**33,
        },
    )
    assert uuidutils.is_uuid_like(migration.uuid) and migration.hidden is False
    assert api.migration_get(ctx, migration.id).memory_total == 2**33
    assert api.migration_get_by_uuid(ctx, migration.uuid).id == migration.id

    updated = api.migration_update(
        ctx,
        migration.id,
        {"status": "running", "memory_processed": 2**32, "memory_remaining": 2**32},
    )
    assert (updated.status, updated.memory_remaining) == ("running", 2**32)
    assert [m.id for m in api.migration_get_all_by_instance(ctx, instance.uuid)] == [migration.id]

    with pytest.raises(exception.MigrationNotFound, match="migration 0 could not"):
        api.migration_get(ctx, 0)
    with pytest.raises(exception.MigrationNotFound):
        api.migration_get_by_uuid(ctx, "nope")
    with pytest.raises(exception.MigrationNotFound):
        api.migration_update(ctx, 0, {"status": "error"})


def test_migrations_in_progress_on_a_node(admin_context):
    ctx = admin_context
    instance = _instance(ctx)

    def migration(status, **where):
        values = {"instance_uuid": instance.uuid, "status": status, **where}
        return api.migration_create(ctx, values).id

    outgoing = migration(
        "running",
        source_compute="host1",
        source_node="node1",
        dest_compute="host2",
        dest_node="node2",
    )
    incoming = migration(
        "pre-migrating",
        source_compute="host3",
        source_node="node3",
        dest_compute="host1",
        dest_node="node1",
    )
    migration("completed", source_compute="host1", source_node="node1")
    migration("accepted", dest_compute="host1", dest_node="node1")
    migration("running", source_compute="host1", source_node="other-node")
    migration("running", source_compute="host2", source_node="node1")

    found = api.migration_get_in_progress_by_host_and_node(ctx, "host1", "node1")
    assert [m.id for m in found] == [outgoing, incoming]
    assert [
        m.id for m in api.migration_get_in_progress_by_host_and_node(ctx, "host2", "node2")
    ] == [outgoing]


# ------------------------------------------------------------------------------ flavors


def test_flavor_crud(admin_context):
    ctx = admin_context
    tiny = api.flavor_create(
        ctx, {"flavorid": "1", "name": "m1.tiny", "memory_mb": 512, "vcpus": 1, "root_gb": 1}
    )
    assert (tiny.swap, tiny.rxtx_factor, tiny.is_public, tiny.disabled) == (0, 1.0, True, False)
    private = api.flavor_create(
        ctx,
        {
            "flavorid": "2",
            "name": "secret",
            "memory_mb": 1024,
            "vcpus": 2,
            "is_public": False,
            "description": "not for everyone",
        },
    )
    assert api.flavor_get(ctx, tiny.id).name == "m1.tiny"
    assert api.flavor_get_by_flavor_id(ctx, "2").description == "not for everyone"
    assert api.flavor_get_by_name(ctx, "m1.tiny").flavorid == "1"
    assert [f.flavorid for f in api.flavor_get_all(ctx)] == ["1", "2"]
    assert [f.id for f in api.flavor_get_all(ctx, {"is_public": False})] == [private.id]

    with pytest.raises(exception.FlavorIdExists, match="flavor with ID 1 already"):
        api.flavor_create(ctx, {"flavorid": "1", "name": "x", "memory_mb": 1, "vcpus": 1})
    with pytest.raises(exception.FlavorExists, match="name m1.tiny already"):
        api.flavor_create(ctx, {"flavorid": "3", "name": "m1.tiny", "memory_mb": 1, "vcpus": 1})

    api.flavor_destroy(ctx, "1")
    with pytest.raises(exception.FlavorNotFound, match="flavor 1 could not"):
        api.flavor_get_by_flavor_id(ctx, "1")
    with pytest.raises(exception.FlavorNotFoundByName):
        api.flavor_get_by_name(ctx, "m1.tiny")
    with pytest.raises(exception.FlavorNotFound):
        api.flavor_get(ctx, tiny.id)
    with pytest.raises(exception.FlavorNotFound):
        api.flavor_destroy(ctx, "1")


# --------------------------------------------------------------- instance actions, faults


def test_instance_actions_and_events(admin_context):
    ctx = admin_context
    instance = _instance(ctx)
    start = timeutils.utcnow()
    action = api.action_start(
        ctx,
        {
            "action": "live-migration",
            "instance_uuid": instance.uuid,
            "request_id": "req-1",
            "user_id": "u",
            "project_id": "p",
            "start_time": start,
        },
    )
    later = api.action_start(
        ctx, {"action": "reboot", "instance_uuid": instance.uuid, "request_id": "req-2"}
    )
    assert api.action_get_by_request_id(ctx, instance.uuid, "req-1").id == action.id
    assert [a.id for a in api.actions_get(ctx, instance.uuid)] == [later.id, action.id]

    event = api.action_event_start(
        ctx,
        {
            "instance_uuid": instance.uuid,
            "request_id": "req-1",
            "event": "compute_live_migration",
            "start_time": start,
            "host": "host1",
        },
    )
    assert (event.action_id, event.host, event.finish_time) == (action.id, "host1", None)
    finished = api.action_event_finish(
        ctx,
        {
            "instance_uuid": instance.uuid,
            "request_id": "req-1",
            "event": "compute_live_migration",
            "finish_time": timeutils.utcnow(),
            "result": "Error",
            "traceback": "Traceback ...",
        },
    )
    assert (finished.id, finished.result) == (event.id, "Error")
    assert [e.id for e in api.action_events_get(ctx, action.id)] == [event.id]

    done = api.action_finish(
        ctx,
        {"instance_uuid": instance.uuid, "request_id": "req-1", "finish_time": timeutils.utcnow()},
    )
    assert done.finish_time is not None and done.message == "Error"
    assert api.action_get_by_request_id(ctx, instance.uuid, "req-1").message == "Error"

    with pytest.raises(exception.InstanceActionNotFound, match="no action for request req-9"):
        api.action_get_by_request_id(ctx, instance.uuid, "req-9")
    with pytest.raises(exception.InstanceActionNotFound):
        api.action_event_start(
            ctx, {"instance_uuid": instance.uuid, "request_id": "req-9", "event": "e"}
        )
    with pytest.raises(exception.InstanceActionEventNotFound, match="has no event nope"):
        api.action_event_finish(
            ctx, {"instance_uuid": instance.uuid, "request_id": "req-1", "event": "nope"}
        )


def test_an_event_and_its_action_end_in_one_transaction(admin_context):
    ctx = admin_context
    instance = _instance(ctx)
    keys = {"instance_uuid": instance.uuid, "request_id": "req-1"}
    api.action_start(ctx, {**keys, "action": "stop"})
    event = api.action_event_start(ctx, {**keys, "event": "compute_stop_instance"})
    began: list[object] = []

    def count(connection: object) -> None:
        began.append(connection)

    sqlalchemy.event.listen(sqlalchemy.Engine, "begin", count)
    try:
        ended = api.action_event_finish(
            ctx,
            {
                **keys,
                "event": "compute_stop_instance",
                "finish_time": timeutils.utcnow(),
                "result": "Error",
            },
            finish_action=True,
        )
    finally:
        sqlalchemy.event.remove(sqlalchemy.Engine, "begin", count)
    assert len(began) == 1
    assert (ended.id, ended.result) == (event.id, "Error")
    action = api.action_get_by_request_id(ctx, instance.uuid, "req-1")
    assert (action.finish_time, action.message) == (ended.finish_time, "Error")

    # An event whose start was never recorded does not keep its action from ending.
    api.action_start(ctx, {**keys, "request_id": "req-2", "action": "reboot"})
    never = {**keys, "request_id": "req-2", "event": "never", "finish_time": timeutils.utcnow()}
    assert api.action_event_finish(ctx, never, finish_action=True) is None
    assert api.action_get_by_request_id(ctx, instance.uuid, "req-2").finish_time is not None
    assert api.action_get_by_request_id(ctx, instance.uuid, "req-2").message is None
    with pytest.raises(exception.InstanceActionEventNotFound):
        api.action_event_finish(ctx, never)
    with pytest.raises(exception.InstanceActionNotFound):
        api.action_event_finish(ctx, {**never, "request_id": "req-9"}, finish_action=True)


def test_instance_faults(admin_context):
    ctx = admin_context
    one, two, three = _instance(ctx), _instance(ctx), _instance(ctx)
    first = api.instance_fault_create(
        ctx,
        {
            "instance_uuid": one.uuid,
            "code": 500,
            "message": "boom",
            "details": "tb",
            "host": "host1",
        },
    )
    second = api.instance_fault_create(
        ctx, {"instance_uuid": one.uuid, "code": 404, "message": "gone"}
    )
    other = api.instance_fault_create(ctx, {"instance_uuid": two.uuid, "code": 400})

    faults = api.instance_fault_get_by_instance_uuids(ctx, [one.uuid, two.uuid, three.uuid])
    assert {uuid: [f.id for f in found] for uuid, found in faults.items()} == {
        one.uuid: [second.id, first.id],
        two.uuid: [other.id],
        three.uuid: [],
    }
    latest = api.instance_fault_get_by_instance_uuids(ctx, [one.uuid], latest=True)
    assert [f.id for f in latest[one.uuid]] == [second.id]
    assert api.instance_fault_get_by_instance_uuids(ctx, []) == {}
