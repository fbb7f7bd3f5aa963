"""The remote object model in one process: remotable methods through a conductor on
inproc:// against SQLite behave exactly like the same methods run locally."""

from __future__ import annotations

import datetime
import uuid

import oslo_messaging as messaging
import pytest

from nubis.core import exception, objects, rpc
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.objects import base
from nubis.core.plugins import load_one
from tests.fixtures import remote_objects


@pytest.fixture
def local(sqlite_db_url):
    objects.register_all()
    base.set_indirection_api(load_one("nubis.indirection", "local")())
    yield
    base.set_indirection_api(None)


@pytest.fixture
def through_conductor(sqlite_db_url, flags):
    """A conductor RPC server in this process; remotable calls go to it over inproc."""
    objects.register_all()
    topic = f"conductor-{uuid.uuid4().hex[:8]}"
    flags(transport_url=f"inproc:///{topic}")
    flags(group="conductor", topic=topic)
    conductor = load_one("nubis.managers", "conductor")(host="c1")
    server = rpc.get_server(messaging.Target(topic=topic, server="c1"), [conductor])
    server.start()
    base.set_indirection_api(load_one("nubis.indirection", "conductor")())
    yield
    base.set_indirection_api(None)
    server.stop()
    server.wait()


def test_remote_save_equals_local_save(local, through_conductor):
    # Both fixtures are active; the conductor one was installed last and wins.
    remote = remote_objects.save_scenario(get_admin_context())
    base.set_indirection_api(load_one("nubis.indirection", "local")())
    here = remote_objects.save_scenario(get_admin_context())
    for result in (remote, here):
        result.pop("uuid")
    assert remote == here
    assert remote["after_save_changes"] == []
    assert remote["vm_state"] == "active" and remote["task_state"] is None


def test_remote_create_refresh_list(through_conductor):
    ctx = get_admin_context()
    instance = remote_objects.new_instance(ctx, host="h9", node="n9")
    assert instance.id and instance.name == f"instance-{instance.id:08x}"
    listed = objects.InstanceList.get_by_host_and_node(ctx, "h9", "n9")
    assert [i.uuid for i in listed] == [instance.uuid]
    assert listed[0]._context is not None

    other = objects.Instance.get_by_uuid(ctx, instance.uuid)
    other.power_state = 1
    other.save()
    instance.refresh()
    assert instance.power_state == 1 and instance.obj_what_changed() == set()


def test_remote_exception_keeps_its_class(through_conductor):
    ctx = get_admin_context()
    with pytest.raises(exception.InstanceNotFound):
        objects.Instance.get_by_uuid(ctx, str(uuid.uuid4()))
    instance = remote_objects.new_instance(ctx)
    instance.task_state = "spawning"
    instance.save(expected_task_state=["scheduling"])
    stale = objects.Instance.get_by_uuid(ctx, instance.uuid)
    instance.task_state = None
    instance.save(expected_task_state=["spawning"])
    stale.task_state = "deleting"
    with pytest.raises(exception.UnexpectedTaskStateError) as err:
        stale.save(expected_task_state=["spawning"])
    assert exception.one_line(err.value).endswith("expected task_state ['spawning'] but found None")


def test_older_peer_gets_a_backported_object(through_conductor):
    ctx = RequestContext(is_admin=True)
    migration = objects.Migration(ctx)
    migration.uuid = str(uuid.uuid4())
    migration.status = "running"
    migration.memory_total = 64
    migration.create()
    # A peer that knows Migration only at 1.0 receives it without the 1.1 fields.
    primitive = migration.obj_to_primitive(target_version="1.0")
    assert primitive["nubis_object.version"] == "1.0"
    assert "memory_total" not in primitive["nubis_object.data"]
    assert "status" in primitive["nubis_object.data"]
    # Asking the conductor for the backport gives the same object, minus 1.1's fields.
    backported = base.NubisObject.indirection_api.object_backport_versions(
        ctx, migration, {"Migration": "1.0"}
    )
    assert isinstance(backported, objects.Migration)
    assert backported.status == "running" and not backported.obj_attr_is_set("memory_total")


def test_the_task_log_and_aggregates_through_the_conductor(through_conductor):
    """What a compute host's usage audit and the aggregate API do, through the bus."""
    ctx = get_admin_context()
    begin, end = datetime.datetime(2024, 2, 1), datetime.datetime(2024, 3, 1)
    assert objects.TaskLog.get(ctx, "audit", begin, end, "h1") is None
    log = objects.TaskLog(ctx)
    log.task_name = "audit"
    log.host = "h1"
    log.period_beginning = begin
    log.period_ending = end
    log.task_items = 3
    log.message = "started"
    log.begin_task()
    assert log.state == "RUNNING" and log.obj_what_changed() == set()
    with pytest.raises(exception.TaskAlreadyRunning):
        log.begin_task()
    log.errors = 1
    log.message = "ran"
    log.end_task()
    found = objects.TaskLog.get(ctx, "audit", begin, end, "h1")
    assert (found.state, found.task_items, found.errors, found.message) == ("DONE", 3, 1, "ran")
    assert found.period_beginning.replace(tzinfo=None) == begin
    listed = objects.TaskLogList.get_all(ctx, "audit", begin, end)
    assert [(run.host, run.state) for run in listed] == [("h1", "DONE")]

    aggregate = objects.Aggregate(ctx)
    aggregate.name = "rack"
    aggregate.metadata = {"availability_zone": "z1"}
    aggregate.create()
    assert aggregate.id and aggregate.availability_zone == "z1"
    aggregate.add_host("h1")
    assert aggregate.hosts == ["h1"] and aggregate.obj_what_changed() == set()
    with pytest.raises(exception.AggregateHostExists):
        aggregate.add_host("h1")
    aggregate.update_metadata({"k": "v", "availability_zone": None})
    assert aggregate.metadata == {"k": "v"} and aggregate.availability_zone is None
    aggregate.name = "rack2"
    aggregate.save()
    by_host = objects.AggregateList.get_by_host(ctx, "h1")
    assert [(a.id, a.name, a.hosts) for a in by_host] == [(aggregate.id, "rack2", ["h1"])]
    aggregate.delete_host("h1")
    aggregate.destroy()
    with pytest.raises(exception.AggregateNotFound):
        objects.Aggregate.get_by_id(ctx, aggregate.id)
