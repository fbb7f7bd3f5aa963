"""Host aggregates and the task log through the DB API, on SQLite, PostgreSQL and
MariaDB: an aggregate's life (unique names, hosts, metadata, updated_at on each change,
no delete while it has hosts, ids never given twice), the reads by host and metadata
key, a host added while the aggregate is deleted; a task's begin (once per host and
period) and end."""

from __future__ import annotations

import concurrent.futures
import datetime

import pytest
import sqlalchemy

from nubis.core import exception
from nubis.core.db import api, engine, models

pytestmark = pytest.mark.usefixtures("db_url")


def _rows(table_name: str) -> int:
    table = models.Base.metadata.tables[table_name]
    with engine.get_engine().connect() as connection:
        return int(
            connection.execute(
                sqlalchemy.select(sqlalchemy.func.count()).select_from(table)
            ).scalar_one()
        )


def test_aggregate_lifecycle(admin_context) -> None:
    ctx = admin_context
    made = api.aggregate_create(ctx, {"name": "rack1"}, {"availability_zone": "az1"})
    assert len(made.row.uuid) == 36 and made.row.created_at is not None
    assert made.row.updated_at is None
    assert (made.hosts, made.metadata) == ([], {"availability_zone": "az1"})
    with pytest.raises(exception.AggregateNameExists):
        api.aggregate_create(ctx, {"name": "rack1"})

    hosted = api.aggregate_host_add(ctx, made.row.id, "h2")
    hosted = api.aggregate_host_add(ctx, made.row.id, "h1")
    assert hosted.hosts == ["h1", "h2"] and hosted.row.updated_at is not None
    with pytest.raises(exception.AggregateHostExists):
        api.aggregate_host_add(ctx, made.row.id, "h1")

    changed = api.aggregate_metadata_update(
        ctx, made.row.id, {"a": "1", "availability_zone": "az2"}
    )
    assert changed.metadata == {"a": "1", "availability_zone": "az2"}
    changed = api.aggregate_metadata_update(
        ctx, made.row.id, {"a": None, "missing": None, "b": "2"}
    )
    assert changed.metadata == {"availability_zone": "az2", "b": "2"}

    other = api.aggregate_create(ctx, {"name": "rack2"})
    with pytest.raises(exception.AggregateNameExists):
        api.aggregate_update(ctx, other.row.id, {"name": "rack1"})
    renamed = api.aggregate_update(ctx, other.row.id, {"name": "rack3"})
    assert renamed.row.name == "rack3" and renamed.row.updated_at is not None

    read = api.aggregate_get(ctx, made.row.id)
    assert (read.row.name, read.hosts, read.metadata) == ("rack1", ["h1", "h2"], changed.metadata)
    assert [d.row.name for d in api.aggregate_get_all(ctx)] == ["rack1", "rack3"]
    assert [d.row.name for d in api.aggregate_get_all(ctx, host="h1")] == ["rack1"]
    assert [d.row.name for d in api.aggregate_get_all(ctx, key="b")] == ["rack1"]
    assert api.aggregate_get_all(ctx, host="h1", key="a") == []

    with pytest.raises(exception.InvalidAggregateAction, match="still has hosts"):
        api.aggregate_delete(ctx, made.row.id)
    api.aggregate_host_delete(ctx, made.row.id, "h1")
    with pytest.raises(exception.AggregateHostNotFound):
        api.aggregate_host_delete(ctx, made.row.id, "h1")
    api.aggregate_host_delete(ctx, made.row.id, "h2")
    api.aggregate_delete(ctx, made.row.id)
    assert _rows("aggregate_metadata") == 0
    for call in (api.aggregate_get, api.aggregate_delete):
        with pytest.raises(exception.AggregateNotFound):
            call(ctx, made.row.id)
    with pytest.raises(exception.AggregateNotFound):
        api.aggregate_host_add(ctx, made.row.id, "h1")

    # The last aggregate deleted, the next one gets a new id all the same.
    api.aggregate_delete(ctx, other.row.id)
    again = api.aggregate_create(ctx, {"name": "rack1"})
    assert again.row.id > other.row.id


def test_a_host_added_while_the_aggregate_is_deleted(admin_context) -> None:
    ctx = admin_context
    for _ in range(5):
        made = api.aggregate_create(ctx, {"name": "racing"})
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            added = pool.submit(api.aggregate_host_add, ctx, made.row.id, "h1")
            deleted = pool.submit(api.aggregate_delete, ctx, made.row.id)
            try:
                added.result()  # it came first: the delete must refuse
                with pytest.raises(exception.InvalidAggregateAction):
                    deleted.result()
                api.aggregate_host_delete(ctx, made.row.id, "h1")
                api.aggregate_delete(ctx, made.row.id)
            except exception.AggregateNotFound:
                deleted.result()  # the delete came first
        assert _rows("aggregate_hosts") == 0 and _rows("aggregates") == 0


def test_the_task_log(admin_context) -> None:
    ctx = admin_context
    begin, end = datetime.datetime(2024, 2, 1), datetime.datetime(2024, 3, 1)
    assert api.task_log_get(ctx, "audit", begin, end, "h1") is None
    with pytest.raises(exception.TaskNotRunning):
        api.task_log_end_task(ctx, "audit", begin, end, "h1", errors=0)
    row = api.task_log_begin_task(ctx, "audit", begin, end, "h1", task_items=3, message="go")
    assert (row.state, row.task_items, row.errors, row.message) == ("RUNNING", 3, 0, "go")
    with pytest.raises(exception.TaskAlreadyRunning):
        api.task_log_begin_task(ctx, "audit", begin, end, "h1")
    api.task_log_begin_task(ctx, "audit", begin, end, "h2", task_items=1)
    api.task_log_begin_task(ctx, "audit", end, datetime.datetime(2024, 4, 1), "h1")
    api.task_log_end_task(ctx, "audit", begin, end, "h1", errors=1, message="x" * 300)
    done = api.task_log_get(ctx, "audit", begin, end, "h1")
    assert (done.state, done.errors, done.message) == ("DONE", 1, "x" * 255)
    assert done.updated_at is not None
    assert api.task_log_get(ctx, "audit", begin, end, "h1", state="RUNNING") is None
    aware = begin.replace(tzinfo=datetime.UTC)
    found = api.task_log_get_all(ctx, "audit", aware, end)
    assert [(r.host, r.state) for r in found] == [("h1", "DONE"), ("h2", "RUNNING")]
    assert [r.host for r in api.task_log_get_all(ctx, "audit", begin, end, state="DONE")] == ["h1"]
    assert api.task_log_get_all(ctx, "other", begin, end) == []
