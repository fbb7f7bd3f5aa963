"""Retrying whole transactions on transient errors, with a real locked SQLite database."""

import logging
import sqlite3
import threading

import pymysql
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from nubis.core import exception
from nubis.core.db import api, engine, errors, models, retry

RETRY_LOGGER = "nubis.core.db.retry"


@pytest.fixture
def short_busy_timeout(sqlite_db_url, flags):
    """The test database with a 50 ms SQLite busy timeout; yields its file path."""
    flags(group="database", connection=f"{sqlite_db_url}?timeout=0.05")
    return sqlite_db_url.removeprefix("sqlite:///")


@pytest.fixture
def write_lock(short_busy_timeout):
    """A second connection that holds the database's write lock until released."""
    holder = sqlite3.connect(short_busy_timeout, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            holder.execute("ROLLBACK")

    yield release
    release()
    holder.close()


def _retry_warnings(caplog):
    return [r for r in caplog.records if r.name == RETRY_LOGGER and r.levelno == logging.WARNING]


def test_locked_database_is_retried_until_the_lock_goes(write_lock, admin_context, caplog):
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    releaser = threading.Timer(0.3, write_lock)
    releaser.start()
    try:
        service = api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    finally:
        releaser.cancel()
    assert api.service_get(admin_context, service.id).host == "h"
    warnings = _retry_warnings(caplog)
    assert warnings, "the locked attempts were not logged"
    for number, record in enumerate(warnings, start=1):
        message = record.getMessage()
        assert "nubis.core.db.api.service_create" in message
        assert "SQLite database is locked" in message
        assert f"retry {number} of 10" in message


def test_gives_up_after_max_retries_and_raises(write_lock, admin_context, flags, caplog):
    flags(group="database", max_retries=2)
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    with pytest.raises(sa_exc.OperationalError, match="database is locked"):
        api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    assert len(_retry_warnings(caplog)) == 2
    errors_logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors_logged) == 1
    assert "giving up" in errors_logged[0].getMessage()
    write_lock()
    assert api.service_get_all(admin_context) == []


def test_zero_max_retries_disables_retrying(write_lock, admin_context, flags, caplog):
    flags(group="database", max_retries=0)
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    with pytest.raises(sa_exc.OperationalError):
        api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    assert _retry_warnings(caplog) == []


def test_a_retried_transaction_leaves_nothing_of_the_failed_attempt(sqlite_db_url):
    attempts = []

    @retry.retry_on_transient
    def create_two_services() -> None:
        with engine.transaction() as session:
            session.add(models.Service(host="a", binary="nubis-x"))
            session.flush()
            attempts.append(1)
            if len(attempts) == 1:
                # Injected: a real lock error cannot strike after a BEGIN IMMEDIATE.
                raise sa_exc.OperationalError(
                    "INSERT", {}, sqlite3.OperationalError("database is locked")
                )
            session.add(models.Service(host="b", binary="nubis-x"))

    create_two_services()
    with engine.transaction() as session:
        hosts = session.scalars(select(models.Service.host).order_by(models.Service.host)).all()
        assert hosts == ["a", "b"]
        assert session.scalar(select(func.count()).select_from(models.Service)) == 2
    assert len(attempts) == 2


def test_non_transient_errors_are_raised_at_once(sqlite_db_url, admin_context, caplog):
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    with pytest.raises(exception.ServiceBinaryExists):
        api.service_create(admin_context, {"host": "h", "binary": "nubis-x"})
    assert _retry_warnings(caplog) == []


def test_backoff_doubles_from_retry_interval_up_to_the_cap(flags):
    flags(group="database", retry_interval=0.1, max_retry_interval=0.5)
    for number, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)):
        for _ in range(20):
            assert ceiling / 2 <= retry.backoff_delay(number) <= ceiling


@pytest.mark.parametrize(
    ("driver_error", "reason"),
    [
        (pymysql.err.OperationalError(1213, "Deadlock found"), "deadlock"),
        (pymysql.err.OperationalError(1205, "Lock wait timeout"), "lock wait timeout"),
        (pymysql.err.OperationalError(2013, "Lost connection"), "lost connection during query"),
        (pymysql.err.OperationalError(1054, "Unknown column"), None),
        (sqlite3.OperationalError("database is locked"), "SQLite database is locked"),
        (sqlite3.OperationalError("no such table: x"), None),
    ],
)
def test_transient_reason_reads_driver_error_codes(driver_error, reason):
    assert errors.transient_reason(sa_exc.OperationalError("SQL", {}, driver_error)) == reason


def test_an_invalidated_connection_is_transient():
    error = sa_exc.OperationalError(
        "SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True
    )
    assert errors.transient_reason(error) == "lost connection to the database"
    assert errors.transient_reason(RuntimeError("not a DB error")) is None
