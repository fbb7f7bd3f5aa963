"""A conductor task whose request reached no host (a rebuild or an unshelve that could
not be sent) ends in this order: the fault, the task cleared, then the event and the
action ended. Whoever sees the task end, or the event's result, finds the fault.

A migrated SQLite database, the objects' remotable methods run in this process; the
statements are recorded as the engine sends them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from oslo_config import cfg
from sqlalchemy import event

from nubis.core import exception, objects
from nubis.core.compute.states import TaskState, VMState
from nubis.core.context import RequestContext
from nubis.core.db import engine
from nubis.plugins.managers.conductor.compute_task import EVENT_REBUILD, ComputeTaskManager

WRITES = ("INSERT INTO instance_faults", "UPDATE instances ", "UPDATE instance_actions_events")


@pytest.fixture
def ctx(sqlite_db_url: str) -> RequestContext:
    objects.register_all()
    return RequestContext(user_id="u1", project_id="p1", is_admin=True)


@pytest.fixture
def writes(ctx: RequestContext) -> Iterator[list[str]]:
    """The start of each write statement among WRITES, in the order they are sent."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.extend(w for w in WRITES if statement.startswith(w))

    bind = engine.get_engine()
    event.listen(bind, "before_cursor_execute", record)
    yield sent
    event.remove(bind, "before_cursor_execute", record)


def _rebuilding(ctx: RequestContext) -> Any:
    instance = objects.Instance(ctx)
    instance.uuid = str(uuid.uuid4())
    instance.display_name = "vm"
    instance.host = "cmp1"
    instance.vm_state = VMState.ACTIVE
    instance.task_state = TaskState.REBUILDING
    instance.create()
    objects.InstanceAction.action_start(ctx, instance.uuid, "rebuild")
    objects.InstanceActionEvent.event_start(ctx, instance.uuid, EVENT_REBUILD, host="cond1")
    return instance


def _conductor() -> ComputeTaskManager:
    return ComputeTaskManager(SimpleNamespace(conf=cfg.CONF, host="cond1"))


def test_the_fault_comes_before_the_task_and_the_event_end(ctx, writes) -> None:
    instance = _rebuilding(ctx)
    failure = exception.NoValidHost(reason="nowhere to go")
    _conductor()._not_sent("rebuild", ctx, instance, TaskState.REBUILDING, EVENT_REBUILD, failure)
    assert writes == list(WRITES)
    after = objects.Instance.get_by_uuid(ctx, instance.uuid)
    assert (after.vm_state, after.task_state) == (VMState.ACTIVE, None)
    [fault] = objects.InstanceFaultList.get_by_instance_uuids(ctx, [instance.uuid])
    assert "nowhere to go" in fault.message
    [action] = objects.InstanceActionList.get_by_instance_uuid(ctx, instance.uuid)
    assert action.finish_time is not None


def test_a_task_taken_over_meanwhile_is_left_alone(ctx, writes) -> None:
    instance = _rebuilding(ctx)
    taken = objects.Instance.get_by_uuid(ctx, instance.uuid)
    taken.task_state = TaskState.DELETING
    taken.save()
    failure = exception.NoValidHost(reason="nowhere to go")
    _conductor()._not_sent("rebuild", ctx, instance, TaskState.REBUILDING, EVENT_REBUILD, failure)
    assert objects.Instance.get_by_uuid(ctx, instance.uuid).task_state == TaskState.DELETING
    [action] = objects.InstanceActionList.get_by_instance_uuid(ctx, instance.uuid)
    assert action.finish_time is None  # the delete's to end
    [event_row] = objects.InstanceActionEventList.get_by_action(ctx, action.id)
    assert event_row.result == "Error"
    [fault] = objects.InstanceFaultList.get_by_instance_uuids(ctx, [instance.uuid])
    assert "nowhere to go" in fault.message  # written first: this request did fail
