"""A database that is away (refused, shutting down, failed over) is a transient error on
PostgreSQL, MariaDB/MySQL and SQLite, and the retries of one transaction are bounded."""

import logging
import sqlite3

import psycopg2
import pymysql
import pytest
import sqlalchemy
from sqlalchemy import exc as sa_exc

from nubis.core.db import errors, retry


class _PgError(psycopg2.OperationalError):
    """A psycopg2 error whose pgcode can be set (the real one's is read-only)."""

    def __init__(self, message: str, pgcode: str | None = None) -> None:
        super().__init__(message)
        self._code = pgcode

    @property
    def pgcode(self):  # type: ignore[override]
        return self._code


@pytest.mark.parametrize(
    ("driver_error", "reason"),
    [
        (
            _PgError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'),
            "connection refused",
        ),
        (
            _PgError("FATAL:  the database system is shutting down"),
            "the database server is shutting down",
        ),
        (
            _PgError("FATAL:  the database system is starting up"),
            "the database server is starting up",
        ),
        (_PgError("server closed the connection unexpectedly"), "lost connection to the database"),
        (
            _PgError("terminating connection due to administrator command", "57P01"),
            "server shut down by the administrator",
        ),
        (
            _PgError("cannot execute INSERT in a read-only transaction", "25006"),
            "the server is read-only (failover)",
        ),
        (_PgError("syntax error", "42601"), None),
        (_PgError("relation does not exist"), None),
        (
            pymysql.err.OperationalError(2003, "Can't connect ([Errno 111] Connection refused)"),
            "cannot connect to the database (connection refused)",
        ),
        (
            pymysql.err.OperationalError(1053, "Server shutdown in progress"),
            "server shutdown in progress",
        ),
        (pymysql.err.OperationalError(1290, "--read-only"), "the server is read-only (failover)"),
        (pymysql.err.OperationalError(1146, "Table doesn't exist"), None),
        (
            sqlite3.OperationalError("unable to open database file"),
            "SQLite database file cannot be opened",
        ),
        (sqlite3.OperationalError("no such table: x"), None),
    ],
)
def test_outage_errors_are_transient(driver_error, reason):
    error = sa_exc.OperationalError("SQL", {}, driver_error)
    assert errors.transient_reason(error) == reason
    assert errors.is_transient(error) is (reason is not None)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://nubis:nubis@127.0.0.1:9/nubis",
        "mysql+pymysql://root@127.0.0.1:9/test",
        "sqlite:////nonexistent-nubis-dir/x.sqlite",
    ],
)
def test_real_refused_connections_are_transient(url):
    """Port 9 (discard) is closed here: each driver's own refusal is recognised."""
    engine = sqlalchemy.create_engine(url)
    try:
        with pytest.raises(sa_exc.DBAPIError) as caught:
            engine.connect()
    finally:
        engine.dispose()
    assert errors.transient_reason(caught.value) is not None


def test_retries_of_a_refused_database_are_bounded_in_count_and_time(flags, caplog):
    flags(group="database", max_retries=3, retry_interval=0.01, max_retry_interval=0.02)
    caplog.set_level(logging.WARNING, logger="nubis.core.db.retry")
    attempts = []

    @retry.retry_on_transient
    def refused():
        attempts.append(1)
        raise sa_exc.OperationalError(
            "SELECT 1", {}, _PgError("could not connect to server: Connection refused")
        )

    with pytest.raises(sa_exc.OperationalError):
        refused()
    assert len(attempts) == 4
    assert retry.retry_budget(3) == pytest.approx(0.01 + 0.02 + 0.02 + 3)
    assert any("giving up" in r.getMessage() for r in caplog.records)


def test_no_retry_starts_past_the_callers_deadline(flags):
    flags(group="database", max_retries=50, retry_interval=0.05, max_retry_interval=0.05)
    attempts = []

    @retry.retry_on_transient
    def refused():
        attempts.append(1)
        raise sa_exc.OperationalError("SELECT 1", {}, _PgError("Connection refused"))

    import time

    began = time.monotonic()
    with retry.deadline(0.3), pytest.raises(sa_exc.OperationalError):
        refused()
    assert time.monotonic() - began < 0.5
    assert 2 <= len(attempts) < 50
