"""The scheduler manager and server groups, on real objects (a migrated SQLite database
through the ``local`` indirection, as in tests/functional/test_scheduler.py): the group's
hosts are read afresh, without the instance being scheduled; the scheduler's own recent
choices for a group count while their instances still wait for a host; a group read
that fails falls back on the hosts the request names."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.db import api as db
from nubis.plugins.managers.scheduler import manager as scheduler_manager
from tests.functional.test_scheduler import add_host, ctx, no_valid_host, scheduler, select, spec

__all__ = ["ctx", "scheduler"]  # fixtures used by name


def group(ctx: Any, policy: str = "anti-affinity") -> Any:
    return db.instance_group_create(
        ctx, {"name": "g", "policy": policy, "project_id": "p1", "user_id": "u1"}
    )


def member(ctx: Any, group_row: Any, host: str | None, vm_state: str = "active") -> str:
    instance = db.instance_create(
        ctx, {"vm_state": vm_state, "host": host, "project_id": "p1", "user_id": "u1"}
    )
    db.instance_group_members_add(ctx, group_row.uuid, [instance.uuid])
    return str(instance.uuid)


def group_spec(ctx: Any, group_row: Any, hosts: list[str], **values: Any) -> Any:
    """A request for the group that names *hosts* as its members' (maybe stale)."""
    request = spec(memory_mb=512, **values)
    request.instance_group = objects.InstanceGroup(
        uuid=group_row.uuid, policy=group_row.policy, rules={}, members=[], hosts=hosts
    )
    return request


def test_the_groups_hosts_are_read_afresh(ctx: Any, scheduler: Any) -> None:
    for name in ("a", "b", "c"):
        add_host(ctx, name)
    row = group(ctx)
    member(ctx, row, "a")
    member(ctx, row, "b")
    # the request says no member is placed; the database says a and b
    assert select(scheduler, group_spec(ctx, row, [])) == ["c"]


def test_the_instance_being_scheduled_does_not_count(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "a")
    add_host(ctx, "b")
    row = group(ctx, "affinity")
    moving = member(ctx, row, "a")  # e.g. a live migration away from a
    assert select(scheduler, group_spec(ctx, row, ["a"], instance_uuid=moving)) == ["a"]
    other = member(ctx, row, "b")
    message = no_valid_host(
        scheduler, group_spec(ctx, row, [], instance_uuid=moving), ignore_hosts=["b"]
    )
    assert "ServerGroupAffinityFilter eliminated the last 1 host" in message
    assert f"server group {row.uuid} (affinity; its hosts: b)" in message
    assert other


def test_recent_choices_count_while_their_instances_wait(ctx: Any, scheduler: Any) -> None:
    for name in ("a", "b"):
        add_host(ctx, name)
    row = group(ctx)
    # two creates for the group at once: both instances wait for a host
    p1, p2 = member(ctx, row, None, "building"), member(ctx, row, None, "building")
    [first] = select(scheduler, group_spec(ctx, row, []))
    # the conductor has not recorded the first choice yet: the scheduler remembers it
    [second] = select(scheduler, group_spec(ctx, row, []))
    assert sorted([first, second]) == ["a", "b"]
    db.instance_update_and_get_original(ctx, p1, {"host": first, "vm_state": "active"})
    db.instance_update_and_get_original(ctx, p2, {"host": second, "vm_state": "active"})
    member(ctx, row, None, "building")
    message = no_valid_host(scheduler, group_spec(ctx, row, []))
    assert "ServerGroupAntiAffinityFilter eliminated the last 2 hosts" in message
    # a member deleted a moment ago does not keep its host: nothing of the group waits
    # besides the request, so no remembered choice counts
    db.instance_destroy(ctx, p1)
    assert select(scheduler, group_spec(ctx, row, [])) == [first]


def test_a_rescheduled_instance_counts_once(ctx: Any, scheduler: Any) -> None:
    for name in ("a", "b", "c"):
        add_host(ctx, name)
    row = group(ctx)
    moving = member(ctx, row, None, "building")
    [first] = select(scheduler, group_spec(ctx, row, [], instance_uuid=moving))
    # its build failed there: rescheduled without that host, its own choice not in the way
    [second] = select(
        scheduler, group_spec(ctx, row, [], instance_uuid=moving), ignore_hosts=[first]
    )
    assert second != first
    # another member, while the first still waits, sees it where it went last
    member(ctx, row, None, "building")
    [third] = select(scheduler, group_spec(ctx, row, []))
    assert third != second
    remembered = [(host, instance) for _at, host, instance in scheduler._group_choices[row.uuid]]
    assert remembered == [(second, moving), (third, None)]


def test_the_memory_of_choices_is_swept(
    ctx: Any, scheduler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_host(ctx, "a")
    monkeypatch.setattr(scheduler_manager, "GROUP_MEMORY_SIZE", 2)
    monkeypatch.setattr(scheduler_manager, "GROUP_MEMORY_SECONDS", 0.5)
    rows = [group(ctx, "soft-affinity") for _ in range(3)]
    for row in rows:
        select(scheduler, group_spec(ctx, row, []))
    assert len(scheduler._group_choices) == 3  # past the size, but none expired yet
    time.sleep(0.6)
    last = group(ctx, "soft-affinity")
    select(scheduler, group_spec(ctx, last, []))
    assert list(scheduler._group_choices) == [last.uuid]


def test_a_failed_read_falls_back_on_the_requests_hosts(
    ctx: Any, scheduler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_host(ctx, "a")
    add_host(ctx, "b")
    row = group(ctx)
    member(ctx, row, "a")

    def unreachable(self: Any, exclude: Any = None) -> Any:
        raise exception.DatabaseUnavailable(connection="x", reason="gone")

    monkeypatch.setattr(objects.InstanceGroup, "get_placement", unreachable)
    # the request's hosts (stale: b) decide
    assert select(scheduler, group_spec(ctx, row, ["b"])) == ["a"]
    # a group deleted meanwhile: the request's hosts too
    monkeypatch.undo()
    deleted = group(ctx)
    member(ctx, deleted, "a")
    gone = group_spec(ctx, deleted, ["b"])
    db.instance_group_delete(ctx, deleted.uuid)
    assert select(scheduler, gone) == ["a"]


def test_requests_without_a_group_are_untouched(ctx: Any, scheduler: Any) -> None:
    add_host(ctx, "a", memory_mb=4096)
    add_host(ctx, "b", memory_mb=8192)
    request = spec(memory_mb=1024, instance_uuid=str(uuid.uuid4()))
    assert select(scheduler, request, num=2) == ["b", "b"]
    assert scheduler._group_choices == {}
