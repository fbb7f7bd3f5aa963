"""instance_update_and_get_original's compare-and-swap: one winner, a loser told why."""

import threading

import pytest

from nubis.core import exception
from nubis.core.db import api

pytestmark = pytest.mark.usefixtures("db_url")


def test_expected_task_state_matches(admin_context):
    instance = api.instance_create(admin_context, {"task_state": "migrating"})
    original, updated = api.instance_update_and_get_original(
        admin_context,
        instance.uuid,
        {"task_state": None, "host": "dest"},
        expected_task_state=["migrating", "rebooting"],
    )
    assert (original.task_state, original.host) == ("migrating", None)
    assert (updated.task_state, updated.host) == (None, "dest")


def test_expected_none_means_no_task_state(admin_context):
    instance = api.instance_create(admin_context, {})
    _, updated = api.instance_update_and_get_original(
        admin_context, instance.uuid, {"task_state": "migrating"}, expected_task_state=[None]
    )
    assert updated.task_state == "migrating"
    with pytest.raises(exception.UnexpectedTaskStateError) as raised:
        api.instance_update_and_get_original(
            admin_context, instance.uuid, {"task_state": "rebooting"}, expected_task_state=[None]
        )
    assert raised.value.kwargs == {
        "instance_uuid": instance.uuid,
        "expected": [None],
        "actual": "migrating",
    }


def test_mismatch_names_the_state_found_and_changes_nothing(admin_context):
    instance = api.instance_create(admin_context, {"task_state": "spawning", "host": "h"})
    with pytest.raises(exception.UnexpectedTaskStateError) as raised:
        api.instance_update_and_get_original(
            admin_context, instance.uuid, {"host": "other"}, expected_task_state="migrating"
        )
    assert type(raised.value) is exception.UnexpectedTaskStateError
    assert str(raised.value) == (
        f"instance {instance.uuid}: expected task_state ['migrating'] but found spawning"
    )
    assert api.instance_get_by_uuid(admin_context, instance.uuid).host == "h"


def test_deleting_instance_raises_the_deleting_variant(admin_context):
    instance = api.instance_create(admin_context, {"task_state": "deleting"})
    with pytest.raises(exception.UnexpectedDeletingTaskStateError) as raised:
        api.instance_update_and_get_original(
            admin_context, instance.uuid, {"task_state": "migrating"}, expected_task_state=[None]
        )
    assert raised.value.kwargs["actual"] == "deleting"


def test_vm_state_mismatch(admin_context):
    instance = api.instance_create(admin_context, {"vm_state": "stopped"})
    with pytest.raises(exception.UnexpectedVMStateError, match="found stopped"):
        api.instance_update_and_get_original(
            admin_context,
            instance.uuid,
            {"task_state": "migrating"},
            expected_task_state=[None],
            expected_vm_state=["active", "paused"],
        )
    _, updated = api.instance_update_and_get_original(
        admin_context, instance.uuid, {"vm_state": "active"}, expected_vm_state="stopped"
    )
    assert updated.vm_state == "active"


def test_two_actors_race_and_exactly_one_wins(admin_context):
    instance = api.instance_create(admin_context, {"vm_state": "active"})
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def act(task_state: str) -> None:
        start.wait(timeout=5)
        try:
            _, updated = api.instance_update_and_get_original(
                admin_context,
                instance.uuid,
                {"task_state": task_state},
                expected_task_state=[None],
            )
            outcomes[task_state] = updated.task_state
        except exception.UnexpectedTaskStateError as error:
            outcomes[task_state] = error

    actors = [threading.Thread(target=act, args=(s,)) for s in ("migrating", "rebooting")]
    for actor in actors:
        actor.start()
    for actor in actors:
        actor.join(timeout=20)

    winners = [state for state, outcome in outcomes.items() if outcome == state]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert losers[0].kwargs["actual"] == winners[0]
    assert f"but found {winners[0]}" in str(losers[0])
    assert api.instance_get_by_uuid(admin_context, instance.uuid).task_state == winners[0]
