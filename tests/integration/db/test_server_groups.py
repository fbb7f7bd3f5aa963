"""Server groups through the DB API, on SQLite, PostgreSQL and MariaDB: create, read,
list with paging, delete with the memberships; members added and removed, one group
per server; the hosts and counts the scheduler and the quotas read; memberships go
with their server when it is deleted and archived; an add racing a delete leaves no
membership behind."""

from __future__ import annotations

import concurrent.futures
import json

import pytest
import sqlalchemy

from nubis.core import exception
from nubis.core.db import api, engine, models

pytestmark = pytest.mark.usefixtures("db_url")


def _instance(ctx, **values) -> str:
    values.setdefault("vm_state", "active")
    values.setdefault("display_name", "vm")
    values.setdefault("project_id", "p1")
    values.setdefault("user_id", "u1")
    return str(api.instance_create(ctx, values).uuid)


def _group(ctx, policy="anti-affinity", **values):
    values.setdefault("name", "web")
    values.setdefault("project_id", "p1")
    values.setdefault("user_id", "u1")
    return api.instance_group_create(ctx, {"policy": policy, **values})


def _member_rows() -> list[tuple[int, str]]:
    table = models.Base.metadata.tables["instance_group_members"]
    with engine.get_engine().connect() as connection:
        rows = connection.execute(sqlalchemy.select(table.c.group_id, table.c.instance_uuid))
        return sorted((int(group_id), str(uuid)) for group_id, uuid in rows)


def test_group_lifecycle(admin_context) -> None:
    ctx = admin_context
    group = _group(ctx, rules=json.dumps({"max_server_per_host": 2}))
    assert len(group.uuid) == 36 and group.created_at is not None
    read = api.instance_group_get(ctx, group.uuid)
    assert (read.name, read.project_id, read.user_id, read.policy) == (
        "web",
        "p1",
        "u1",
        "anti-affinity",
    )
    assert json.loads(read.rules) == {"max_server_per_host": 2}
    given = _group(ctx, "soft-affinity", uuid="6f1f5d8e-5c3e-4a52-9d44-0d1d3c6f4a11")
    assert given.uuid == "6f1f5d8e-5c3e-4a52-9d44-0d1d3c6f4a11"
    with pytest.raises(exception.InstanceGroupIdExists):
        _group(ctx, uuid=given.uuid)
    with pytest.raises(exception.Invalid, match="policy 'legacy' is not one of affinity"):
        _group(ctx, "legacy")

    api.instance_group_delete(ctx, group.uuid)
    with pytest.raises(exception.InstanceGroupNotFound, match=f"group {group.uuid} could not"):
        api.instance_group_get(ctx, group.uuid)
    with pytest.raises(exception.InstanceGroupNotFound):
        api.instance_group_delete(ctx, group.uuid)
    assert [g.uuid for g in api.instance_group_get_all(ctx)] == [given.uuid]


def test_lists_by_project_with_offset_and_limit(admin_context) -> None:
    ctx = admin_context
    mine = [_group(ctx, name=f"g{i}").uuid for i in range(5)]
    theirs = _group(ctx, project_id="p2", user_id="u2").uuid
    assert [g.uuid for g in api.instance_group_get_all(ctx, "p1")] == mine
    assert [g.uuid for g in api.instance_group_get_all(ctx, "p2")] == [theirs]
    assert [g.uuid for g in api.instance_group_get_all(ctx)] == [*mine, theirs]
    assert [g.uuid for g in api.instance_group_get_all(ctx, "p1", limit=2)] == mine[:2]
    assert [g.uuid for g in api.instance_group_get_all(ctx, "p1", limit=2, offset=3)] == mine[3:]
    assert api.instance_group_get_all(ctx, "p1", offset=9) == []
    assert api.instance_group_get_all(ctx, "p1", limit=0) == []
    assert api.instance_group_count(ctx, "p1", "u1") == {"project": 5, "user": 5}
    assert api.instance_group_count(ctx, "p1", "u2") == {"project": 5, "user": 0}
    assert api.instance_group_count(ctx, "p1") == {"project": 5, "user": 0}
    assert api.instance_group_count(ctx, "nobody", "u1") == {"project": 0, "user": 0}


def test_members_hosts_and_counts(admin_context) -> None:
    ctx = admin_context
    group = _group(ctx)
    other = _group(ctx, name="db")
    a1 = _instance(ctx, host="cmp1")
    a2 = _instance(ctx, host="cmp1")
    b = _instance(ctx, host="cmp2", user_id="u2")
    pending = _instance(ctx)  # not scheduled yet: no host
    assert api.instance_group_members_add(ctx, group.uuid, [a1, a2, a1]) == [a1, a2]
    assert api.instance_group_members_add(ctx, group.uuid, [a2, b, pending]) == [b, pending]
    assert api.instance_group_members_get(ctx, [group.uuid, other.uuid, "unknown"]) == {
        group.uuid: [a1, a2, b, pending],
        other.uuid: [],
        "unknown": [],
    }
    assert api.instance_group_members_get(ctx, []) == {}
    # one entry per server placed, sorted; the servers excluded do not count
    assert api.instance_group_hosts(ctx, group.uuid) == ["cmp1", "cmp1", "cmp2"]
    assert api.instance_group_hosts(ctx, group.uuid, exclude=[a1]) == ["cmp1", "cmp2"]
    assert api.instance_group_member_count_by_user(ctx, group.uuid, "u1") == 3
    # being scheduled: building with no host yet (an active one without a host is not)
    waiting = _instance(ctx, vm_state="building")
    api.instance_group_members_add(ctx, group.uuid, [waiting])
    assert api.instance_group_unplaced_count(ctx, group.uuid) == 1
    assert api.instance_group_unplaced_count(ctx, group.uuid, exclude=[waiting]) == 0
    api.instance_group_members_remove(ctx, group.uuid, [waiting])
    assert api.instance_group_member_count_by_user(ctx, group.uuid, "u2") == 1
    assert api.instance_group_get_by_instance(ctx, b).uuid == group.uuid
    assert api.instance_group_get_by_instance(ctx, _instance(ctx)) is None

    # one group per server: nothing of a refused add is kept
    newcomer = _instance(ctx)
    with pytest.raises(exception.InstanceGroupMemberExists, match=f"instance {a1} is already"):
        api.instance_group_members_add(ctx, other.uuid, [newcomer, a1])
    assert api.instance_group_members_get(ctx, [other.uuid])[other.uuid] == []

    assert api.instance_group_members_remove(ctx, group.uuid, [a2, newcomer]) == 1
    assert api.instance_group_hosts(ctx, group.uuid) == ["cmp1", "cmp2"]
    for call in (
        lambda: api.instance_group_members_add(ctx, "unknown", [a2]),
        lambda: api.instance_group_members_remove(ctx, "unknown", [a2]),
        lambda: api.instance_group_hosts(ctx, "unknown"),
        lambda: api.instance_group_member_count_by_user(ctx, "unknown", "u1"),
        lambda: api.instance_group_unplaced_count(ctx, "unknown"),
    ):
        with pytest.raises(exception.InstanceGroupNotFound):
            call()

    # deleting the group deletes its memberships, not its servers
    api.instance_group_delete(ctx, group.uuid)
    assert _member_rows() == []
    assert api.instance_get_by_uuid(ctx, a1).uuid == a1


def test_deleting_and_archiving_a_server_ends_its_membership(admin_context) -> None:
    ctx = admin_context
    group = _group(ctx)
    doomed = _instance(ctx, host="cmp1")
    kept = _instance(ctx, host="cmp2")
    api.instance_group_members_add(ctx, group.uuid, [doomed, kept])
    api.instance_destroy(ctx, doomed)
    assert _member_rows() == [(group.id, kept)]
    assert api.instance_group_hosts(ctx, group.uuid) == ["cmp2"]
    assert api.instance_group_member_count_by_user(ctx, group.uuid, "u1") == 1

    # a membership left behind by some other writer is never seen, and goes when its
    # server is archived
    straggler = _instance(ctx, host="cmp1")
    api.instance_destroy(ctx, straggler)
    with engine.get_engine().begin() as connection:
        connection.execute(
            models.Base.metadata.tables["instance_group_members"].insert(),
            [{"group_id": group.id, "instance_uuid": straggler}],
        )
    assert api.instance_group_members_get(ctx, [group.uuid])[group.uuid] == [kept]
    assert api.instance_group_hosts(ctx, group.uuid) == ["cmp2"]
    moved = api.archive_deleted_rows(ctx)
    assert moved["instances"] == 2 and moved["instance_group_members"] == 1
    assert _member_rows() == [(group.id, kept)]
    assert api.archive_deleted_rows(ctx) == {}


def test_an_add_racing_a_delete_leaves_no_membership(admin_context) -> None:
    ctx = admin_context
    servers = [_instance(ctx) for _ in range(8)]
    for _round in range(3):
        group = _group(ctx)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            added = pool.submit(api.instance_group_members_add, ctx, group.uuid, servers)
            deleted = pool.submit(api.instance_group_delete, ctx, group.uuid)
            deleted.result()
            try:
                assert added.result() == servers  # it came first: its rows went too
            except exception.InstanceGroupNotFound:
                pass  # it came second and found no group
        assert _member_rows() == []


def test_the_quota_counts_and_checks(admin_context, flags) -> None:
    from nubis.core import quota
    from nubis.core.conf import CONF

    ctx = admin_context
    flags(group="quota", server_groups=3, server_group_members=2)
    _group(ctx)
    mine = _group(ctx)
    _group(ctx, user_id="u2")
    assert quota.usage(ctx, "p1")["server_groups"] == 3
    assert quota.usage(ctx, "p1", "u1")["server_groups"] == 2
    assert quota.usage(ctx, "p1", "u1")["server_group_members"] == 0  # as Nova reports it
    with pytest.raises(exception.ServerGroupLimitExceeded, match="too many server groups"):
        quota.check_server_groups(ctx, CONF, "p1", "u1")
    quota.check_server_groups(ctx, CONF, "p1", "u1", delta=0)  # at the limit, not past it
    quota.check_server_groups(ctx, CONF, "p2", "u1")
    # a user's own limit within the project
    api.quota_set(ctx, "p1", {"server_groups": 10})
    api.quota_set(ctx, "p1", {"server_groups": 2}, user_id="u1")
    with pytest.raises(exception.ServerGroupLimitExceeded):
        quota.check_server_groups(ctx, CONF, "p1", "u1")
    quota.check_server_groups(ctx, CONF, "p1", "u2")

    # members: per user, per group
    api.instance_group_members_add(ctx, mine.uuid, [_instance(ctx), _instance(ctx)])
    api.instance_group_members_add(ctx, mine.uuid, [_instance(ctx, user_id="u2")])
    with pytest.raises(exception.GroupMemberLimitExceeded, match="too many servers in group"):
        quota.check_group_members(ctx, CONF, "p1", "u1", mine.uuid, 1)
    quota.check_group_members(ctx, CONF, "p1", "u1", mine.uuid, 0)
    quota.check_group_members(ctx, CONF, "p1", "u2", mine.uuid, 1)
    with pytest.raises(exception.GroupMemberLimitExceeded):
        quota.check_group_members(ctx, CONF, "p1", "u2", mine.uuid, 2)
    api.quota_set(ctx, "p1", {"server_group_members": -1}, user_id="u1")
    quota.check_group_members(ctx, CONF, "p1", "u1", mine.uuid, 100)
