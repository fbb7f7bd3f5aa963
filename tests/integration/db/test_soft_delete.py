"""Soft-deleted rows stay in the tables and are seen as ``context.read_deleted`` says."""

import pytest

from nubis.core import context as nubis_context
from nubis.core import exception
from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def _context(read_deleted):
    return nubis_context.get_admin_context(read_deleted=read_deleted)


def test_instances_by_read_deleted(admin_context):
    live = api.instance_create(admin_context, {"host": "h", "node": "n"})
    gone = api.instance_create(admin_context, {"host": "h", "node": "n"})
    api.instance_destroy(admin_context, gone.uuid)

    def uuids(read_deleted):
        ctx = _context(read_deleted)
        listed = {
            "all": [i.uuid for i in api.instance_get_all(ctx)],
            "host": [i.uuid for i in api.instance_get_all_by_host(ctx, "h")],
            "node": [i.uuid for i in api.instance_get_all_by_host_and_node(ctx, "h", "n")],
        }
        assert listed["all"] == listed["host"] == listed["node"]
        return listed["all"]

    assert uuids("no") == [live.uuid]
    assert uuids("yes") == [live.uuid, gone.uuid]
    assert uuids("only") == [gone.uuid]

    deleted = api.instance_get_by_uuid(_context("yes"), gone.uuid)
    assert deleted.deleted == deleted.id
    with pytest.raises(exception.InstanceNotFound):
        api.instance_get_by_uuid(_context("only"), live.uuid)
    assert [i.uuid for i in api.instance_get_all(_context("yes"), {"deleted": True})] == [gone.uuid]
    assert [i.uuid for i in api.instance_get_all(_context("yes"), {"deleted": False})] == [
        live.uuid
    ]


def test_soft_delete_keeps_updated_at(admin_context):
    instance = api.instance_create(admin_context, {"host": "h"})
    _, updated = api.instance_update_and_get_original(admin_context, instance.uuid, {"node": "n"})
    deleted = api.instance_destroy(admin_context, instance.uuid)
    assert deleted.updated_at == updated.updated_at
    assert deleted.deleted_at is not None


def test_destroying_an_instance_deletes_its_faults_and_migrations_not_actions(admin_context):
    ctx = admin_context
    instance = api.instance_create(ctx, {"host": "h"})
    fault = api.instance_fault_create(ctx, {"instance_uuid": instance.uuid, "code": 500})
    migration = api.migration_create(
        ctx,
        {
            "instance_uuid": instance.uuid,
            "status": "running",
            "source_compute": "h",
            "source_node": "n",
        },
    )
    action = api.action_start(
        ctx, {"instance_uuid": instance.uuid, "request_id": "r", "action": "delete"}
    )
    api.instance_destroy(ctx, instance.uuid)

    assert api.instance_fault_get_by_instance_uuids(ctx, [instance.uuid]) == {instance.uuid: []}
    assert api.migration_get_in_progress_by_host_and_node(ctx, "h", "n") == []
    with pytest.raises(exception.MigrationNotFound):
        api.migration_get(ctx, migration.id)
    assert api.migration_get(_context("yes"), migration.id).deleted == migration.id
    faults = api.instance_fault_get_by_instance_uuids(_context("only"), [instance.uuid])
    assert [f.id for f in faults[instance.uuid]] == [fault.id]
    assert [a.id for a in api.actions_get(ctx, instance.uuid)] == [action.id]


def test_services_and_compute_nodes_by_read_deleted(admin_context):
    ctx = admin_context
    kept = api.service_create(ctx, {"host": "a", "binary": "nubis-scheduler"})
    gone = api.service_create(ctx, {"host": "b", "binary": "nubis-scheduler"})
    api.service_destroy(ctx, gone.id)
    node = api.compute_node_create(ctx, {"host": "a", "hypervisor_hostname": "n"})
    api.compute_node_delete(ctx, node.id)

    assert [s.id for s in api.service_get_all(ctx)] == [kept.id]
    assert [s.id for s in api.service_get_all(_context("yes"))] == [kept.id, gone.id]
    assert [s.id for s in api.service_get_all(_context("only"))] == [gone.id]
    assert api.service_get(_context("yes"), gone.id).deleted == gone.id
    assert api.service_get_by_host_and_binary(_context("only"), "b", "nubis-scheduler").id == (
        gone.id
    )

    assert api.compute_node_get_all(ctx) == []
    assert [n.id for n in api.compute_node_get_all(_context("only"))] == [node.id]
    assert api.compute_node_get_by_uuid(_context("yes"), node.uuid).deleted == node.id

    replacement = api.compute_node_create(ctx, {"host": "a", "hypervisor_hostname": "n"})
    assert replacement.id != node.id
