"""The hot-path read of one row by key (``_first_by``) on every backend.

Its statement is built once per model, key columns, visibility, order and locking and
reused with new parameters; these tests check that the reused statement still finds
what the callers' contracts say: the newest action and event of a name, soft-deleted
rows hidden or shown as each call's context asks, and a row updated in the same
transaction read back as it is now.
"""

import pytest
from oslo_utils import timeutils

from nubis.core import context as nubis_context
from nubis.core import exception
from nubis.core.db import api, models
from nubis.core.db.api import _rows

pytestmark = pytest.mark.usefixtures("db_url")


def _instance(ctx, task_state=None):
    return api.instance_create(ctx, {"vm_state": "active", "task_state": task_state})


def test_the_statement_of_a_shape_is_built_once():
    first = _rows._keyed_select(models.Instance, ("uuid",), "no", (), False)
    again = _rows._keyed_select(models.Instance, ("uuid",), "no", (), False)
    other = _rows._keyed_select(models.Instance, ("uuid",), "yes", (), False)
    assert first is again
    assert other is not first


def test_a_request_id_used_twice_finds_its_newest_action_and_event(admin_context):
    ctx = admin_context
    instance = _instance(ctx)
    actions = [
        api.action_start(
            ctx, {"action": name, "instance_uuid": instance.uuid, "request_id": "req-1"}
        )
        for name in ("reboot", "stop")
    ]
    assert api.action_get_by_request_id(ctx, instance.uuid, "req-1").id == actions[1].id

    event_values = {"instance_uuid": instance.uuid, "request_id": "req-1", "event": "e"}
    first = api.action_event_start(ctx, {**event_values, "start_time": timeutils.utcnow()})
    second = api.action_event_start(ctx, {**event_values, "start_time": timeutils.utcnow()})
    assert first.action_id == second.action_id == actions[1].id
    finished = api.action_event_finish(ctx, {**event_values, "result": "Success"})
    assert finished.id == second.id
    assert {e.id: e.result for e in api.action_events_get(ctx, actions[1].id)} == {
        first.id: None,
        second.id: "Success",
    }
    with pytest.raises(exception.InstanceActionEventNotFound):
        api.action_event_finish(ctx, {**event_values, "event": "other", "result": "Success"})


def test_each_call_sees_deleted_rows_as_its_own_context_asks(admin_context):
    live = _instance(admin_context)
    gone = _instance(admin_context)
    api.instance_destroy(admin_context, gone.uuid)
    shows_deleted = nubis_context.get_admin_context(read_deleted="yes")
    only_deleted = nubis_context.get_admin_context(read_deleted="only")
    for _ in range(2):  # the second round runs on cached statements
        assert api.instance_get_by_uuid(admin_context, live.uuid).id == live.id
        with pytest.raises(exception.InstanceNotFound):
            api.instance_get_by_uuid(admin_context, gone.uuid)
        assert api.instance_get_by_uuid(shows_deleted, gone.uuid).deleted
        assert api.instance_get_by_uuid(only_deleted, gone.uuid).id == gone.id
        with pytest.raises(exception.InstanceNotFound):
            api.instance_get_by_uuid(only_deleted, live.uuid)


def test_a_compare_and_swap_returns_the_row_before_and_after(admin_context):
    instance = _instance(admin_context, task_state="spawning")
    for found, state in (("spawning", "deleting"), ("deleting", None)):
        before, after = api.instance_update_and_get_original(
            admin_context, instance.uuid, {"task_state": state}, expected_task_state=[found]
        )
        assert (before.task_state, after.task_state) == (found, state)
        assert api.instance_get_by_uuid(admin_context, instance.uuid).task_state == state
