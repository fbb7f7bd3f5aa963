"""The keyed ``UPDATE ... RETURNING`` run straight on the driver's cursor
(``api._direct``), on every backend that returns the row from the UPDATE.

What it must keep from SQLAlchemy's execution: the same row back (types converted
alike), SQLAlchemy's exceptions for driver errors, a lost connection invalidated so the
retry gets a live one, and every statement visible to whoever listens for the engine's
execution events.
"""

import logging
import threading

import pytest
import sqlalchemy
from sqlalchemy import event, select, text
from sqlalchemy import exc as sa_exc

from nubis.core.db import api, engine, models
from nubis.core.db.api import _direct

# MariaDB's UPDATE returns no row: it is read back with a SELECT, through SQLAlchemy.
RETURNING_BACKENDS = [
    pytest.param("sqlite"),
    pytest.param("postgresql", marks=pytest.mark.postgresql),
]
pytestmark = pytest.mark.usefixtures("db_url")


def _node(ctx, name="node1"):
    values = {"host": "host1", "hypervisor_hostname": name, "vcpus": 8}
    values.update(memory_mb=16384, local_gb=100, cpu_allocation_ratio=4.0)
    return api.compute_node_create(ctx, values)


def _returning(connection):
    assert connection.dialect.update_returning, connection.dialect.name


def _driver_and_sqlalchemy(ctx, node_id, values, monkeypatch):
    """The row the direct path returns and the one SQLAlchemy's execution returns for
    the same update (the second run with a listener on the engine, which sends the
    statement through ``Connection.execute``)."""
    compiled_here = []  # this thread's uses of the compiled statements: the direct path
    compiled, me = _direct._compiled, threading.get_ident()

    def spy(statement, dialect):
        if threading.get_ident() == me:
            compiled_here.append(statement)
        return compiled(statement, dialect)

    monkeypatch.setattr(_direct, "_compiled", spy)
    with engine.one_statement() as connection:
        _returning(connection)
        direct = api._update_one(connection, ctx, models.ComputeNode, {"id": node_id}, values)
    assert len(compiled_here) == 1  # it went to the driver directly

    seen = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    bind = engine.get_engine()
    event.listen(bind, "before_cursor_execute", listen)
    try:
        with engine.one_statement() as connection:
            executed = api._update_one(connection, ctx, models.ComputeNode, {"id": node_id}, values)
    finally:
        event.remove(bind, "before_cursor_execute", listen)
    assert [s for s in seen if s.startswith("UPDATE compute_nodes")], seen
    assert len(compiled_here) == 1  # and this one through Connection.execute
    return direct, executed


def _columns(row):
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


@pytest.mark.parametrize("db_backend", RETURNING_BACKENDS)
def test_the_driver_returns_what_sqlalchemy_returns(admin_context, monkeypatch):
    node = _node(admin_context)
    values = {"vcpus_used": 3, "host_ip": "192.0.2.1", "stats": '{"a": "1"}'}
    direct, executed = _driver_and_sqlalchemy(admin_context, node.id, values, monkeypatch)
    ours, theirs = _columns(direct), _columns(executed)
    assert ours.pop("updated_at") <= theirs.pop("updated_at")
    assert ours == theirs
    assert {key: type(value) for key, value in ours.items()} == {
        key: type(value) for key, value in theirs.items()
    }
    assert direct.cpu_allocation_ratio == 4.0 and direct.created_at is not None


@pytest.mark.parametrize("db_backend", RETURNING_BACKENDS)
def test_no_row_is_none_and_a_driver_error_is_sqlalchemy_s(admin_context):
    node = _node(admin_context)
    _node(admin_context, "node2")
    with engine.one_statement() as connection:
        _returning(connection)
        missing = api._update_one(
            connection, admin_context, models.ComputeNode, {"id": node.id + 1000}, {"vcpus": 1}
        )
    assert missing is None
    with pytest.raises(sa_exc.IntegrityError) as caught:
        with engine.one_statement() as connection:
            api._update_one(
                connection,
                admin_context,
                models.ComputeNode,
                {"id": node.id},
                {"hypervisor_hostname": "node2"},
            )
    assert caught.value.orig is not None
    assert "UPDATE compute_nodes" in str(caught.value.statement)


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_a_lost_connection_is_invalidated_and_the_next_write_gets_a_live_one(
    db_backend, db_url, admin_context
):
    node = _node(admin_context)
    killer = sqlalchemy.create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with pytest.raises(sa_exc.OperationalError) as caught:
            with engine.one_statement() as statement:
                pid = statement.driver().dbapi_connection.get_backend_pid()
                with killer.connect() as admin:
                    admin.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
                api._update_one(
                    statement, admin_context, models.ComputeNode, {"id": node.id}, {"vcpus": 2}
                )
        assert caught.value.connection_invalidated
    finally:
        killer.dispose()
    # The pool does not hand out the dead connection: the next write goes through.
    assert api.compute_node_update(admin_context, node.id, {"vcpus": 3}).vcpus == 3
    with engine.connection(writer=False) as connection:
        stored = connection.execute(
            select(models.ComputeNode.vcpus).where(models.ComputeNode.id == node.id)
        ).scalar_one()
    assert stored == 3


def test_with_sql_logging_on_the_statement_is_logged(admin_context, caplog):
    """``[database] connection_debug`` turns SQLAlchemy's SQL log on: the keyed update
    then goes through ``Connection.execute``, which logs it."""
    node = _node(admin_context)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    try:
        updated = api.compute_node_update(admin_context, node.id, {"vcpus_used": 6})
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert updated.vcpus_used == 6
    assert any(r.getMessage().startswith("UPDATE compute_nodes") for r in caplog.records)
