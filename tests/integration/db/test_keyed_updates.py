"""The hot-path UPDATE (``api._update_one`` with a column key) on every backend.

Its statement is built once per table, key, set of columns and ``read_deleted`` and
reused with new parameters; these tests check that the reused statement writes and
returns exactly what a fresh read sees, whichever columns change from one call to the
next, and that the other ways into ``_update_one`` (a SQL key, SQL values, a Session)
still agree with it.
"""

import datetime

import pytest
from oslo_utils import timeutils
from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from nubis.core import context as nubis_context
from nubis.core import exception
from nubis.core.db import api, engine, models

pytestmark = pytest.mark.usefixtures("db_url")


def _node(ctx, **values):
    values.setdefault("host", "host1")
    values.setdefault("hypervisor_hostname", "node1")
    values.setdefault("vcpus", 8)
    values.setdefault("memory_mb", 16384)
    values.setdefault("local_gb", 100)
    return api.compute_node_create(ctx, values)


def _row(model, row_id):
    """Every column of the row as the database has it, read outside the DB API."""
    with engine.connection(writer=False) as connection:
        row = connection.execute(select(model.__table__).where(model.id == row_id)).one()
    return dict(row._mapping)


def _columns(instance):
    """Every column attribute of a model instance the DB API returned."""
    return {column.key: getattr(instance, column.key) for column in instance.__table__.columns}


def test_updates_of_changing_column_sets_return_and_store_the_same_row(admin_context):
    node = _node(admin_context)
    other = _node(admin_context, hypervisor_hostname="node2", vcpus=2)
    other_before = _row(models.ComputeNode, other.id)
    steps = [
        {"vcpus_used": 1},
        {"memory_mb_used": 512, "stats": '{"a": "1"}'},
        {"vcpus_used": 2},
        {"vcpus_used": 3, "host_ip": "192.0.2.1", "cpu_allocation_ratio": 4.0},
        {"memory_mb_used": 1024},
        {"stats": "{}", "free_ram_mb": None},
        {"vcpus_used": 4},
    ]
    expected = _row(models.ComputeNode, node.id)
    for values in steps:
        returned = api.compute_node_update(admin_context, node.id, values)
        expected.update(values)
        stored = _row(models.ComputeNode, node.id)
        assert stored["updated_at"] is not None
        expected["updated_at"] = stored["updated_at"]
        assert stored == expected, values
        assert _columns(returned) == stored, values
        assert _columns(api.compute_node_get(admin_context, node.id)) == stored
    assert _row(models.ComputeNode, other.id) == other_before


def test_the_statement_is_built_once_per_set_of_columns(admin_context):
    node = _node(admin_context)
    api._keyed_update.cache_clear()
    api.compute_node_update(admin_context, node.id, {"vcpus_used": 1})
    built = api._keyed_update.cache_info().currsize
    assert built == 1
    hits = api._keyed_update.cache_info().hits
    api.compute_node_update(admin_context, node.id, {"vcpus_used": 2})
    assert api._keyed_update.cache_info().currsize == built
    assert api._keyed_update.cache_info().hits == hits + 1
    api.compute_node_update(admin_context, node.id, {"vcpus_used": 3, "running_vms": 1})
    assert api._keyed_update.cache_info().currsize == built + 1
    assert api.compute_node_get(admin_context, node.id).running_vms == 1


def test_updated_at_is_stamped_unless_given(admin_context):
    node = _node(admin_context)
    before = timeutils.utcnow().replace(microsecond=0)
    stamped = api.compute_node_update(admin_context, node.id, {"vcpus_used": 1})
    assert stamped.updated_at >= before
    given = datetime.datetime(2030, 1, 2, 3, 4, 5)
    kept = api.compute_node_update(admin_context, node.id, {"vcpus_used": 2, "updated_at": given})
    assert kept.updated_at == given
    assert _row(models.ComputeNode, node.id)["updated_at"] == given


def test_read_deleted_decides_which_rows_an_update_sees(admin_context):
    live = _node(admin_context)
    gone = _node(admin_context, hypervisor_hostname="node2")
    api.compute_node_delete(admin_context, gone.id)

    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_update(admin_context, gone.id, {"vcpus_used": 1})
    assert _row(models.ComputeNode, gone.id)["vcpus_used"] == 0

    everything = nubis_context.get_admin_context(read_deleted="yes")
    assert api.compute_node_update(everything, gone.id, {"vcpus_used": 2}).vcpus_used == 2
    assert api.compute_node_update(everything, live.id, {"vcpus_used": 3}).vcpus_used == 3

    only_deleted = nubis_context.get_admin_context(read_deleted="only")
    assert api.compute_node_update(only_deleted, gone.id, {"vcpus_used": 4}).vcpus_used == 4
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_update(only_deleted, live.id, {"vcpus_used": 5})
    assert _row(models.ComputeNode, live.id)["vcpus_used"] == 3


def test_a_missing_row_is_not_found_and_nothing_changes(admin_context):
    node = _node(admin_context)
    before = _row(models.ComputeNode, node.id)
    with pytest.raises(exception.ComputeNodeNotFound):
        api.compute_node_update(admin_context, node.id + 1000, {"vcpus_used": 1})
    with pytest.raises(exception.MigrationNotFound):
        api.migration_update(admin_context, 4242, {"status": "running"})
    assert _row(models.ComputeNode, node.id) == before


def test_migration_update_uses_the_same_path(admin_context):
    migration = api.migration_create(
        admin_context, {"source_compute": "a", "dest_compute": "b", "status": "queued"}
    )
    for status in ("preparing", "running", "completed"):
        updated = api.migration_update(admin_context, migration.id, {"status": status})
        assert updated.status == status
        assert _columns(updated) == _row(models.Migration, migration.id)


def test_a_one_statement_write_is_committed_as_the_statement_completes(admin_context):
    # Where the row comes back from the UPDATE (SQLite, PostgreSQL) the statement is its
    # own transaction: another connection sees it before the block ends. Elsewhere
    # (MariaDB) it is a transaction, committed when the block ends.
    node = _node(admin_context)
    with engine.one_statement() as connection:
        returned = api._update_one(
            connection, admin_context, models.ComputeNode, {"id": node.id}, {"vcpus_used": 5}
        )
        autocommit = connection.dialect.update_returning
        seen_meanwhile = _row(models.ComputeNode, node.id)["vcpus_used"]
    assert returned.vcpus_used == 5
    assert seen_meanwhile == (5 if autocommit else 0)
    assert _row(models.ComputeNode, node.id)["vcpus_used"] == 5


def test_a_one_statement_write_that_fails_writes_nothing(admin_context):
    node = _node(admin_context)
    other = _node(admin_context, hypervisor_hostname="node2")
    with pytest.raises(sa_exc.IntegrityError):
        # The (host, hypervisor_hostname) of a live node is unique.
        api.compute_node_update(admin_context, node.id, {"hypervisor_hostname": "node2"})
    assert _row(models.ComputeNode, node.id)["hypervisor_hostname"] == "node1"
    assert _row(models.ComputeNode, other.id)["hypervisor_hostname"] == "node2"


def test_one_statement_gives_the_driver_or_the_connection_and_returns_it():
    """Where the database returns the written row, a one-statement write takes either
    the pooled driver connection (in autocommit) or a SQLAlchemy Connection, not both;
    elsewhere (MariaDB) it has only the Connection. Whichever it took is back in the
    pool when the block ends, the driver's autocommit as it was."""
    pool = engine.get_engine().pool
    idle = pool.checkedout()
    with engine.one_statement() as statement:
        driver = statement.driver()
        if statement.dialect.update_returning:
            assert driver is statement.driver() and pool.checkedout() == idle + 1
            with pytest.raises(RuntimeError, match="driver\\(\\) was taken already"):
                statement.connection()
            raw = driver.dbapi_connection
            if statement.dialect.name == "postgresql":
                assert raw.autocommit is True
        else:
            assert driver is None and pool.checkedout() == idle
    assert pool.checkedout() == idle
    if statement.dialect.name == "postgresql":
        assert raw.autocommit is False
    with engine.one_statement() as statement:
        connection = statement.connection()
        assert connection is statement.connection() and not connection.closed
        if statement.dialect.update_returning:
            with pytest.raises(RuntimeError, match="connection\\(\\) was taken already"):
                statement.driver()
    assert connection.closed and pool.checkedout() == idle


def test_sql_keys_sql_values_and_sessions_agree_with_the_keyed_path(admin_context):
    node = _node(admin_context)
    table = models.ComputeNode
    with engine.connection() as connection:
        # A value that is SQL is evaluated by the database, not bound.
        bumped = api._update_one(
            connection, admin_context, table, {"id": node.id}, {"vcpus_used": table.vcpus_used + 5}
        )
    assert bumped.vcpus_used == 5
    with engine.connection() as connection:
        by_uuid = api._update_one(
            connection, admin_context, table, table.uuid == node.uuid, {"running_vms": 2}
        )
    assert (by_uuid.id, by_uuid.running_vms, by_uuid.vcpus_used) == (node.id, 2, 5)
    with engine.transaction() as session:
        in_session = api._update_one(
            session, admin_context, table, {"id": node.id}, {"memory_mb_used": 64}
        )
    assert _columns(in_session) == _row(table, node.id)
    with engine.connection() as connection:
        nothing = api._update_one(
            connection, admin_context, table, table.uuid == "no-such-uuid", {"running_vms": 9}
        )
    assert nothing is None


def test_an_unknown_column_is_refused(admin_context):
    node = _node(admin_context)
    with pytest.raises(sa_exc.CompileError, match="Unconsumed column names: bogus"):
        api.compute_node_update(admin_context, node.id, {"bogus": 1})
    assert _row(models.ComputeNode, node.id)["updated_at"] is None
