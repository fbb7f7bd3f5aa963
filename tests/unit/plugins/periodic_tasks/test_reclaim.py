"""``reclaim_queued_deletes`` on a real compute manager (fake driver, SQLite behind the
``local`` indirection): its entry point and schedule, the interval that turns it on, the
instances it deletes and those it leaves, and a failure that gives the instance back.
"""

from __future__ import annotations

import datetime
import logging
import threading
from typing import Any

import pytest
from oslo_utils import timeutils

from nubis.core import exception, objects, periodic, plugins
from nubis.core.compute.states import TaskState, VMState
from nubis.core.context import get_admin_context
from nubis.core.manager import Manager
from nubis.plugins.periodic_tasks.compute import reclaim
from tests.unit.plugins.managers.compute.conftest import new_instance

HOUR = datetime.timedelta(hours=1)


def soft_deleted(ctx: Any, manager: Any, deleted_ago: datetime.timedelta | None, **kw: Any) -> Any:
    """A soft-deleted instance of *manager*'s host with a guest (off), deleted that long ago."""
    node = manager.driver.get_available_nodes()[0]
    instance = new_instance(ctx, manager.host, node, vm_state=VMState.SOFT_DELETED, **kw)
    manager.driver.spawn(ctx, instance)
    manager.driver.power_off(instance)
    # The guest's STOPPED event takes the instance's lock in the event thread; the
    # reclaim skips a locked instance, so let the event be handled first.
    assert manager.driver.flush_events()
    instance.deleted_at = None if deleted_ago is None else timeutils.utcnow() - deleted_ago
    instance.save()
    return instance


def exists(ctx: Any, uuid: str) -> bool:
    try:
        objects.Instance.get_by_uuid(ctx, uuid)
    except exception.InstanceNotFound:
        return False
    return True


def test_entry_point_schedule_and_compute_hosts_only() -> None:
    task = plugins.load_one("nubis.periodic_tasks", "reclaim_queued_deletes")
    assert task is reclaim.reclaim_queued_deletes
    assert periodic.spec_of(task).spacing == 60
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager"):
        task(Manager("not-compute"), None)


def test_nothing_is_reclaimed_while_the_interval_is_0(ctx: Any, compute_manager: Any, flags: Any):
    manager = compute_manager()
    old = soft_deleted(ctx, manager, 2 * HOUR)
    for interval in (0, -5):
        flags(reclaim_instance_interval=interval)
        assert reclaim.reclaim_queued_deletes(manager, ctx) == []
    assert exists(ctx, old.uuid) and manager.driver.instance_exists(old)


def test_old_enough_soft_deleted_instances_are_deleted_for_good(
    ctx: Any, compute_manager: Any, flags: Any
) -> None:
    flags(reclaim_instance_interval=3600)
    manager = compute_manager()
    other_host = compute_manager()
    old = soft_deleted(ctx, manager, 2 * HOUR)
    unknown_age = soft_deleted(ctx, manager, None)  # Nova reclaims it too
    young = soft_deleted(ctx, manager, datetime.timedelta(minutes=5))
    busy = soft_deleted(ctx, manager, 2 * HOUR, task_state=TaskState.RESTORING)
    elsewhere = soft_deleted(ctx, other_host, 2 * HOUR)
    active = new_instance(ctx, manager.host, manager.driver.get_available_nodes()[0])

    reclaimed = reclaim.reclaim_queued_deletes(manager, ctx)
    assert sorted(reclaimed) == sorted([old.uuid, unknown_age.uuid])
    for gone in (old, unknown_age):
        assert not exists(ctx, gone.uuid) and not manager.driver.instance_exists(gone)
    for kept in (young, busy, active):
        assert exists(ctx, kept.uuid)
    assert exists(ctx, elsewhere.uuid) and other_host.driver.instance_exists(elsewhere)
    deleted = objects.Instance.get_by_uuid(get_admin_context(read_deleted="yes"), old.uuid)
    assert (deleted.vm_state, deleted.task_state) == (VMState.DELETED, None)
    assert deleted.terminated_at is not None


def test_a_locked_instance_waits_and_a_failure_gives_it_back(
    ctx: Any, compute_manager: Any, flags: Any, caplog: pytest.LogCaptureFixture
) -> None:
    flags(reclaim_instance_interval=60)
    manager = compute_manager()
    instance = soft_deleted(ctx, manager, HOUR)
    with manager.instance_lock(instance.uuid, "a restore", 5):
        # held by another thread (this thread's hold would be re-entered)
        result: list[list[str]] = []
        runner = threading.Thread(
            target=lambda: result.append(reclaim.reclaim_queued_deletes(manager, ctx))
        )
        runner.start()
        runner.join(10)
    assert result == [[]] and exists(ctx, instance.uuid)

    manager.driver.set_hypervisor_available(False)
    try:
        with caplog.at_level(logging.WARNING, logger=reclaim.__name__):
            assert reclaim.reclaim_queued_deletes(manager, ctx) == []
    finally:
        manager.driver.set_hypervisor_available(True)
    assert f"reclaiming soft-deleted instance {instance.uuid} failed" in caplog.text
    back = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert (back.vm_state, back.task_state) == (VMState.SOFT_DELETED, None)
    assert reclaim.reclaim_queued_deletes(manager, ctx) == [instance.uuid]  # next run
