"""Archiving soft-deleted rows into the shadow tables and purging them, on SQLite,
PostgreSQL and MariaDB: which rows move, what they look like in the shadow tables,
--before and --max-rows, rows changed and deleted while the archive runs, purge."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.db import api, engine, models

pytestmark = pytest.mark.usefixtures("db_url")

INSTANCE_TABLES = (
    "instances",
    "instance_actions",
    "instance_actions_events",
    "instance_faults",
    "migrations",
)
"""An instance's table and those of its history."""
NOW = timeutils.utcnow()


def _rows(table_name: str) -> dict[int, dict]:
    """{id: row} of a main or shadow table (a shadow table must not hold an id twice)."""
    table = models.Base.metadata.tables[table_name]
    with engine.get_engine().connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(sqlalchemy.select(table))]
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows), f"{table_name} holds an id twice"
    return by_id


def _shadow(table_name: str) -> dict[int, dict]:
    return _rows(models.SHADOW_TABLES[table_name].name)


def _execute(statement: sqlalchemy.Executable) -> None:
    with engine.get_engine().begin() as connection:
        connection.execute(statement)


def _instance_with_history(
    ctx, actions: int = 2, events: int = 2, host: str = "h", fault_and_migration: bool = True
) -> dict:
    """An instance with *actions* actions of *events* events each, a fault and a migration
    (unless told not to); returns {table name: ids} of what it has, and its uuid."""
    instance = api.instance_create(ctx, {"host": host, "node": "n", "display_name": "vm"})
    ids: dict = {"uuid": instance.uuid, "instances": {instance.id}}
    ids["instance_actions"], ids["instance_actions_events"] = set(), set()
    for number in range(actions):
        request_id = f"req-{instance.uuid}-{number}"
        action = api.action_start(
            ctx, {"instance_uuid": instance.uuid, "request_id": request_id, "action": "reboot"}
        )
        ids["instance_actions"].add(action.id)
        for step in range(events):
            event = api.action_event_start(
                ctx,
                {"instance_uuid": instance.uuid, "request_id": request_id, "event": f"e{step}"},
            )
            ids["instance_actions_events"].add(event.id)
    ids["instance_faults"], ids["migrations"] = set(), set()
    if fault_and_migration:
        fault = api.instance_fault_create(ctx, {"instance_uuid": instance.uuid, "code": 500})
        migration = api.migration_create(ctx, {"instance_uuid": instance.uuid, "status": "done"})
        ids["instance_faults"].add(fault.id)
        ids["migrations"].add(migration.id)
    return ids


def _deleted_at(ids: dict, when: datetime.datetime) -> None:
    """Make the instance of *ids* and its soft-deleted rows look deleted at *when*."""
    for name in ("instances", "instance_faults", "migrations"):
        table = models.Base.metadata.tables[name]
        _execute(
            table.update()
            .where(table.c.id.in_(ids[name]), table.c.deleted != 0)
            .values(deleted_at=when)
        )


def _assert_archived(ids: dict) -> None:
    for name in INSTANCE_TABLES:
        assert not ids[name] & set(_rows(name)), f"{name} still holds rows"
        assert ids[name] <= set(_shadow(name)), f"shadow of {name} lacks rows"


def _assert_live(ids: dict) -> None:
    for name in INSTANCE_TABLES:
        assert ids[name] <= set(_rows(name)), f"{name} lost rows"
        assert not ids[name] & set(_shadow(name)), f"shadow of {name} holds live rows"


def test_a_deleted_instance_goes_with_its_history_and_live_rows_stay(admin_context):
    ctx = admin_context
    live = _instance_with_history(ctx)
    gone = _instance_with_history(ctx)
    before = {name: _rows(name) for name in INSTANCE_TABLES}
    deleted = api.instance_destroy(ctx, gone["uuid"])

    moved = api.archive_deleted_rows(ctx)

    assert moved == {
        "instances": 1,
        "instance_actions": 2,
        "instance_actions_events": 4,
        "instance_faults": 1,
        "migrations": 1,
    }
    _assert_archived(gone)
    _assert_live(live)
    # The instance and its soft-deleted rows are copied as they are.
    assert _shadow("instances")[deleted.id] == {
        **before["instances"][deleted.id],
        "deleted": deleted.id,
        "deleted_at": deleted.deleted_at,
        "updated_at": deleted.updated_at,
    }
    (fault_id,) = gone["instance_faults"]
    assert _shadow("instance_faults")[fault_id]["deleted"] == fault_id
    # Actions and events were never deleted: stored deleted as of their instance.
    for name in ("instance_actions", "instance_actions_events"):
        for row_id in gone[name]:
            assert _shadow(name)[row_id] == {
                **before[name][row_id],
                "deleted": row_id,
                "deleted_at": deleted.deleted_at,
            }
    assert api.archive_deleted_rows(ctx) == {}


def test_a_soft_deleted_row_of_a_live_instance_goes_alone(admin_context):
    ctx = admin_context
    live = _instance_with_history(ctx, actions=1, events=1)
    (fault_id,) = live["instance_faults"]
    faults = models.Base.metadata.tables["instance_faults"]
    _execute(
        faults.update().where(faults.c.id == fault_id).values(deleted=faults.c.id, deleted_at=NOW)
    )

    assert api.archive_deleted_rows(ctx) == {"instance_faults": 1}
    assert set(_shadow("instance_faults")) == {fault_id}
    assert fault_id not in _rows("instance_faults")
    assert live["instances"] <= set(_rows("instances"))


def test_a_soft_deleted_action_takes_its_events(admin_context):
    ctx = admin_context
    live = _instance_with_history(ctx, actions=2, events=3)
    action_id = min(live["instance_actions"])
    actions = models.Base.metadata.tables["instance_actions"]
    when = NOW - datetime.timedelta(hours=1)
    _execute(
        actions.update().where(actions.c.id == action_id).values(deleted=action_id, deleted_at=when)
    )

    assert api.archive_deleted_rows(ctx) == {"instance_actions": 1, "instance_actions_events": 3}
    events = _shadow("instance_actions_events")
    assert {row["action_id"] for row in events.values()} == {action_id}
    assert {row["deleted_at"] for row in events.values()} == {when}
    assert len(_rows("instance_actions_events")) == 3


def test_services_and_compute_nodes(admin_context):
    ctx = admin_context
    kept = api.service_create(ctx, {"host": "a", "binary": "nubis-scheduler"})
    gone = api.service_create(ctx, {"host": "b", "binary": "nubis-compute"})
    node = api.compute_node_create(ctx, {"host": "b", "hypervisor_hostname": "n"})
    api.service_destroy(ctx, gone.id)

    assert api.archive_deleted_rows(ctx) == {"services": 1, "compute_nodes": 1}
    assert set(_rows("services")) == {kept.id}
    assert set(_shadow("services")) == {gone.id}
    assert set(_shadow("compute_nodes")) == {node.id}


def test_before_archives_only_rows_deleted_earlier(admin_context):
    ctx = admin_context
    old = _instance_with_history(ctx)
    recent = _instance_with_history(ctx)
    for ids, days in ((old, 10), (recent, 1)):
        api.instance_destroy(ctx, ids["uuid"])
        _deleted_at(ids, NOW - datetime.timedelta(days=days))

    moved = api.archive_deleted_rows(ctx, before=NOW - datetime.timedelta(days=5))

    assert moved["instances"] == 1 and moved["instance_actions"] == 2
    _assert_archived(old)
    assert recent["instances"] <= set(_rows("instances"))
    assert recent["instance_actions"] <= set(_rows("instance_actions"))
    # An aware date is the same instant.
    aware = (NOW - datetime.timedelta(hours=36)).replace(tzinfo=datetime.UTC)
    assert api.archive_deleted_rows(ctx, before=aware) == {}
    assert api.archive_deleted_rows(ctx, before=NOW)["instances"] == 1
    _assert_archived(recent)


def test_max_rows_bounds_the_rows_moved(admin_context):
    ctx = admin_context
    instances = [api.instance_create(ctx, {"host": "h"}) for _ in range(7)]
    for instance in instances:
        api.instance_destroy(ctx, instance.uuid)
    ids = [instance.id for instance in instances]

    assert api.archive_deleted_rows(ctx, max_rows=2) == {"instances": 2}
    assert set(_shadow("instances")) == set(ids[:2])
    assert api.archive_deleted_rows(ctx, max_rows=3, batch_size=2) == {"instances": 3}
    assert set(_shadow("instances")) == set(ids[:5])
    assert api.archive_deleted_rows(ctx, max_rows=100, batch_size=1) == {"instances": 2}
    assert set(_rows("instances")) == set()


def test_an_instance_never_leaves_without_its_history(admin_context):
    ctx = admin_context
    first, second = (
        _instance_with_history(ctx, actions=3, events=1, fault_and_migration=False)
        for _ in range(2)
    )
    for ids in (first, second):
        api.instance_destroy(ctx, ids["uuid"])

    # One instance fits in max_rows=1; its 3 actions and their events come along.
    expected = {"instances": 1, "instance_actions": 3, "instance_actions_events": 3}
    assert api.archive_deleted_rows(ctx, max_rows=1) == expected
    _assert_archived(first)
    _assert_live({**second, "instances": set()})
    assert api.archive_deleted_rows(ctx, max_rows=1) == expected
    _assert_archived(second)


def test_invalid_arguments(admin_context):
    archive_arguments: list[dict[str, Any]] = [
        {"max_rows": 0},
        {"batch_size": -1},
        {"max_rows": "10"},
    ]
    for kwargs in archive_arguments:
        with pytest.raises(exception.Invalid, match="must be a positive integer"):
            api.archive_deleted_rows(admin_context, **kwargs)
    purge_arguments: list[dict[str, Any]] = [{}, {"before": NOW, "all": True}]
    for kwargs in purge_arguments:
        with pytest.raises(exception.Invalid, match="purge needs one of"):
            api.purge_shadow_tables(admin_context, **kwargs)


def test_purge_by_date_and_all(admin_context):
    ctx = admin_context
    old = _instance_with_history(ctx)
    recent = _instance_with_history(ctx)
    for ids, days in ((old, 10), (recent, 1)):
        api.instance_destroy(ctx, ids["uuid"])
        _deleted_at(ids, NOW - datetime.timedelta(days=days))
    api.archive_deleted_rows(ctx)

    purged = api.purge_shadow_tables(ctx, before=NOW - datetime.timedelta(days=5), batch_size=3)

    assert purged == {
        "shadow_instances": 1,
        "shadow_instance_actions": 2,
        "shadow_instance_actions_events": 4,
        "shadow_instance_faults": 1,
        "shadow_migrations": 1,
    }
    for name in INSTANCE_TABLES:
        assert set(_shadow(name)) == recent[name]
    assert api.purge_shadow_tables(ctx, before=NOW - datetime.timedelta(days=5)) == {}
    assert api.purge_shadow_tables(ctx, all=True, batch_size=2) == purged
    for name in INSTANCE_TABLES:
        assert _shadow(name) == {}


def test_an_id_archived_twice(admin_context, db_backend):
    """SQLite gives a new row the id of the highest row once that one is archived: the
    shadow table takes the second row with the same id, and purge removes both."""
    ctx = admin_context
    uuids = []
    for _ in range(2):
        instance = api.instance_create(ctx, {"host": "h"})
        api.instance_destroy(ctx, instance.uuid)
        assert api.archive_deleted_rows(ctx) == {"instances": 1}
        uuids.append((instance.id, instance.uuid))
    reused = uuids[0][0] == uuids[1][0]
    assert reused == (db_backend == "sqlite")
    shadow = models.SHADOW_TABLES["instances"]
    with engine.get_engine().connect() as connection:
        archived = connection.execute(sqlalchemy.select(shadow.c.id, shadow.c.uuid)).all()
    assert sorted(archived) == sorted(uuids)
    assert api.purge_shadow_tables(ctx, before=NOW + datetime.timedelta(days=1)) == {
        "shadow_instances": 2
    }


def test_rows_changed_and_deleted_while_archiving_are_not_lost(admin_context):
    """Two writers run while the archive does, in batches of two instances:

    * a deleter destroys instances (each with actions, events, a fault, a migration);
    * an updater keeps changing ``progress`` of the deleted instances, as a late writer
      would, and notes the last value each UPDATE really wrote.

    Afterwards every row is in exactly one place, every deleted instance is archived
    with all its history, and each archived instance holds the last value written.
    """
    ctx = admin_context
    doomed = [_instance_with_history(ctx, actions=2, events=1, host="d") for _ in range(30)]
    survivors = [_instance_with_history(ctx, actions=1, events=1, host="s") for _ in range(3)]
    instances = models.Base.metadata.tables["instances"]
    written: dict[int, int] = {}
    deleting_done = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def deleter() -> None:
        try:
            for ids in doomed:
                api.instance_destroy(ctx, ids["uuid"])
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            deleting_done.set()

    def updater() -> None:
        value = 0
        try:
            while not stop.is_set():
                value += 1
                for ids in doomed:
                    (instance_id,) = ids["instances"]
                    with engine.get_engine().begin() as connection:
                        changed = connection.execute(
                            instances.update()
                            .where(instances.c.id == instance_id, instances.c.deleted != 0)
                            .values(progress=value)
                        ).rowcount
                    if changed:
                        written[instance_id] = value
                stop.wait(0.001)  # leave SQLite's write lock to the others now and then
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deleter), threading.Thread(target=updater)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while not deleting_done.is_set() and time.monotonic() < deadline:
            api.archive_deleted_rows(ctx, max_rows=20, batch_size=2)
        assert deleting_done.wait(max(0.0, deadline - time.monotonic()))
        while api.archive_deleted_rows(ctx, batch_size=2):
            pass
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []

    for ids in doomed:
        _assert_archived(ids)
    for ids in survivors:
        _assert_live(ids)
    archived = _shadow("instances")
    for instance_id, value in written.items():
        assert archived[instance_id]["progress"] == value
    for name in INSTANCE_TABLES:
        assert not set(_rows(name)) & set(_shadow(name))


def test_the_commands(db_url, admin_context, tmp_path: Path):
    ctx = admin_context
    ids = [_instance_with_history(ctx, actions=1, events=1) for _ in range(3)]
    for each in ids:
        api.instance_destroy(ctx, each["uuid"])
    config = tmp_path / "nubis.conf"
    config.write_text(f"[database]\nconnection = {db_url}\n")

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "nubis-manage"), "--config-file", str(config)]
            + ["db", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    # Tables go children first: the 3 soft-deleted migrations, then 2 of 3 faults.
    first = manage("archive-deleted-rows", "--max-rows", "5", "--verbose")
    assert first.returncode == 1, first.stderr
    assert first.stdout.splitlines() == [
        "instance_faults  2",
        "migrations       3",
        "archived 5 rows from 2 tables",
    ]
    rest = manage("archive-deleted-rows", "--max-rows", "2", "--until-complete")
    assert rest.returncode == 1, rest.stderr
    assert rest.stdout == "archived 10 rows from 4 tables\n"
    for each in ids:
        _assert_archived(each)
    nothing = manage("archive-deleted-rows", "--before", "2001-01-01T00:00:00+02:00")
    assert (nothing.returncode, nothing.stdout) == (0, "nothing to archive\n")

    old = manage("purge", "--before", "2001-01-01")
    assert (old.returncode, old.stdout) == (3, "nothing to purge\n")
    purged = manage("purge", "--all")
    assert (purged.returncode, purged.stdout) == (0, "purged 15 rows from 5 tables\n")
    assert _shadow("instances") == {}
