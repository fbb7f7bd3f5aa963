"""Real transient errors on PostgreSQL and MariaDB are retried as whole transactions.

Each test makes the server itself produce the error (a deadlock between two
transactions, a serialization failure, a connection killed by an administrator) and
checks that the retried transaction completes exactly once and the retry was logged
with its reason. SQLite's "database is locked" is covered in tests/unit/core/db.
"""

import logging
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy
from sqlalchemy import select, text, update

from nubis.core.db import engine, models, retry

RETRY_LOGGER = "nubis.core.db.retry"

SERVER_BACKENDS = [
    pytest.param("postgresql", marks=pytest.mark.postgresql),
    pytest.param("mysql", marks=pytest.mark.mysql),
]

BACKEND_PID = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()"}
KILL = {"postgresql": "SELECT pg_terminate_backend({pid}, 5000)", "mysql": "KILL {pid}"}


@pytest.fixture
def administrator(db_url) -> Iterator[sqlalchemy.Engine]:
    """A separate autocommit engine on the test database, outside nubis' engine cache."""
    admin = sqlalchemy.create_engine(db_url, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


def _services(count: int) -> list[int]:
    with engine.transaction() as session:
        rows = [models.Service(host=f"h{i}", binary="nubis-x") for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _versions(ids: list[int]) -> list[int]:
    with engine.transaction(writer=False) as session:
        statement = select(models.Service.version).where(models.Service.id.in_(ids))
        return sorted(session.scalars(statement.order_by(models.Service.id)))


def _bump(session, service_id: int) -> None:
    session.execute(
        update(models.Service)
        .where(models.Service.id == service_id)
        .values(version=models.Service.version + 1)
    )


def _retry_messages(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == RETRY_LOGGER and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("db_backend", SERVER_BACKENDS)
def test_deadlock_victim_is_retried(db_url, caplog):
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    first, second = _services(2)
    both_hold_a_lock = threading.Barrier(2)
    failures: list[BaseException] = []

    def lock_in_order(order: tuple[int, int]) -> None:
        attempts = []

        @retry.retry_on_transient
        def bump_both() -> None:
            with engine.transaction() as session:
                attempts.append(1)
                _bump(session, order[0])
                if len(attempts) == 1:
                    both_hold_a_lock.wait(timeout=10)
                _bump(session, order[1])

        try:
            bump_both()
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            failures.append(error)

    threads = [
        threading.Thread(target=lock_in_order, args=((first, second),)),
        threading.Thread(target=lock_in_order, args=((second, first),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert _versions([first, second]) == [2, 2]
    messages = _retry_messages(caplog)
    assert len(messages) == 1
    assert "transient database error (deadlock); retry 1 of 10" in messages[0]


@pytest.mark.parametrize("db_backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_serialization_failure_is_retried(db_url, administrator, caplog):
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    (service_id,) = _services(1)
    attempts = []

    @retry.retry_on_transient
    def bump_from_snapshot() -> None:
        with engine.transaction() as session:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            session.scalar(select(models.Service.version).where(models.Service.id == service_id))
            attempts.append(1)
            if len(attempts) == 1:
                with administrator.connect() as concurrent:
                    concurrent.execute(
                        text("UPDATE services SET version = version + 1 WHERE id = :id"),
                        {"id": service_id},
                    )
            _bump(session, service_id)

    bump_from_snapshot()

    assert len(attempts) == 2
    assert _versions([service_id]) == [2]
    assert ["serialization failure" in m for m in _retry_messages(caplog)] == [True]


@pytest.mark.parametrize("db_backend", SERVER_BACKENDS)
def test_lost_connection_is_retried(db_backend, db_url, administrator, caplog):
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    attempts = []

    @retry.retry_on_transient
    def create_service() -> None:
        with engine.transaction() as session:
            attempts.append(1)
            if len(attempts) == 1:
                pid = session.scalar(text(BACKEND_PID[db_backend]))
                with administrator.connect() as killer:
                    killer.exec_driver_sql(KILL[db_backend].format(pid=pid))
            session.add(models.Service(host="h", binary="nubis-x"))
            session.flush()

    create_service()

    assert len(attempts) == 2
    with engine.transaction(writer=False) as session:
        assert session.scalars(select(models.Service.host)).all() == ["h"]
    (message,) = _retry_messages(caplog)
    assert "lost connection" in message or "connection killed" in message
