"""``engine.connection``: the Session-less transaction of the hot update path, on SQLite.

It must give what ``engine.transaction`` gives: the guard, the write lock taken at
BEGIN for a writer, commit or rollback as a whole, and retries of the whole
transaction on a locked database.
"""

import logging
import sqlite3
import threading

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from nubis.core import exception
from nubis.core.db import api, engine, models

RETRY_LOGGER = "nubis.core.db.retry"


def _node(ctx):
    return api.compute_node_create(
        ctx,
        {"host": "h", "hypervisor_hostname": "n", "vcpus": 4, "memory_mb": 512, "local_gb": 1},
    )


def _set_vcpus_used(connection, ctx, node_id, value):
    return api._update_one(
        connection, ctx, models.ComputeNode, {"id": node_id}, {"vcpus_used": value}
    )


@pytest.fixture
def node_then_lock(sqlite_db_url, admin_context, flags):
    """A compute node; then another connection takes the write lock (busy timeout 50 ms)
    and holds it until the returned release() is called."""
    node = _node(admin_context)
    flags(group="database", connection=f"{sqlite_db_url}?timeout=0.05")
    holder = sqlite3.connect(
        sqlite_db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            holder.execute("ROLLBACK")

    yield node, release
    release()
    holder.close()


def test_a_writer_takes_the_write_lock_at_begin(sqlite_db_url):
    path = sqlite_db_url.removeprefix("sqlite:///")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with engine.connection(writer=True) as connection:
            connection.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        with engine.connection(writer=False) as connection:
            connection.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_the_block_commits_or_rolls_back_as_a_whole(sqlite_db_url, admin_context):
    node = _node(admin_context)
    with pytest.raises(RuntimeError):
        with engine.connection() as connection:
            assert _set_vcpus_used(connection, admin_context, node.id, 3).vcpus_used == 3
            raise RuntimeError("boom")
    assert api.compute_node_get(admin_context, node.id).vcpus_used == 0
    with engine.connection() as connection:
        _set_vcpus_used(connection, admin_context, node.id, 3)
    assert api.compute_node_get(admin_context, node.id).vcpus_used == 3


def test_the_guard_covers_it(sqlite_db_url, admin_context):
    node = _node(admin_context)
    api.block_db_access("nubis-compute")
    try:
        with pytest.raises(exception.DBNotAllowed, match="compute_node_update"):
            api.compute_node_update(admin_context, node.id, {"vcpus_used": 1})
        with pytest.raises(exception.DBNotAllowed, match="nubis-compute"):
            with engine.connection():
                pass
    finally:
        api.unblock_db_access()


def test_a_locked_database_is_retried_until_the_lock_goes(node_then_lock, admin_context, caplog):
    node, release = node_then_lock
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    releaser = threading.Timer(0.3, release)
    releaser.start()
    try:
        updated = api.compute_node_update(admin_context, node.id, {"vcpus_used": 2})
    finally:
        releaser.cancel()
    assert updated.vcpus_used == 2
    assert api.compute_node_get(admin_context, node.id).vcpus_used == 2
    warnings = [r.getMessage() for r in caplog.records if r.name == RETRY_LOGGER]
    assert warnings, "the locked attempts were not logged"
    for number, message in enumerate(warnings, start=1):
        assert "nubis.core.db.api.compute_node_update" in message
        assert f"SQLite database is locked); retry {number} of 10" in message


def test_gives_up_after_max_retries_having_written_nothing(node_then_lock, admin_context, flags):
    node, release = node_then_lock
    flags(group="database", max_retries=2)
    with pytest.raises(sa_exc.OperationalError, match="database is locked"):
        api.compute_node_update(admin_context, node.id, {"vcpus_used": 2})
    release()
    assert api.compute_node_get(admin_context, node.id).vcpus_used == 0
