"""What a database error means, the same way on SQLite, PostgreSQL and MariaDB/MySQL.

:func:`transient_reason` names errors after which running the whole transaction again
can succeed (deadlock, serialization failure, lost connection, locked SQLite database);
:func:`is_duplicate_entry` recognises unique-constraint violations. Both look at the
driver's own error code where it has one, not at translated messages.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

_PG_TRANSIENT = {
    "40P01": "deadlock",
    "40001": "serialization failure",
    # class 08: connection exceptions
    "08000": "connection error",
    "08001": "cannot connect to the database",
    "08003": "connection does not exist",
    "08004": "the server rejected the connection",
    "08006": "connection failure",
    # class 57: operator intervention
    "57P01": "server shut down by the administrator",
    "57P02": "server crashed and is restarting",
    "57P03": "the server cannot accept connections now (starting up or shutting down)",
    # a failover made this server a read-only standby
    "25006": "the server is read-only (failover)",
    "53300": "too many connections",
}

#: Connection-time errors without a SQLSTATE: the fixed text of the PostgreSQL server
#: (FATAL messages) and of libpq, lower case.
_PG_MESSAGES = (
    ("connection refused", "connection refused"),
    ("the database system is shutting down", "the database server is shutting down"),
    ("the database system is starting up", "the database server is starting up"),
    ("the database system is in recovery mode", "the database server is in recovery"),
    ("the database system is not yet accepting connections", "the server is starting up"),
    (
        "terminating connection due to administrator command",
        "server shut down by the administrator",
    ),
    ("server closed the connection unexpectedly", "lost connection to the database"),
    ("could not connect to server", "cannot connect to the database"),
    ("no connection to the server", "lost connection to the database"),
    ("connection already closed", "lost connection to the database"),
    ("ssl syscall error", "lost connection to the database"),
    ("could not receive data from server", "lost connection to the database"),
    ("could not send data to server", "lost connection to the database"),
)

_MYSQL_TRANSIENT = {
    1020: "serialization failure (record changed since last read)",
    1205: "lock wait timeout",
    1213: "deadlock",
    1927: "connection killed",
    2006: "lost connection (server has gone away)",
    2013: "lost connection during query",
    1040: "too many connections",
    1053: "server shutdown in progress",
    1077: "the server is shutting down",
    1079: "the server shut down",
    1080: "connection forcibly closed by a shutdown",
    1152: "connection aborted",
    1290: "the server is read-only (failover)",
    1792: "the transaction is read-only (failover)",
    2002: "cannot connect to the database (socket)",
    2003: "cannot connect to the database (connection refused)",
    2055: "lost connection (system error)",
    4031: "disconnected by the server",
}

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CANTOPEN = 14

_PG_UNIQUE_VIOLATION = "23505"
_MYSQL_DUPLICATE_ENTRY = 1062


def _mysql_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _sqlite_primary_code(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def transient_reason(error: BaseException) -> str | None:
    """Return why *error* is worth retrying the transaction for, or None if it is not."""
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    if error.connection_invalidated:
        return "lost connection to the database"
    driver_error = error.orig
    if driver_error is None:
        return None
    pgcode = getattr(driver_error, "pgcode", None)
    if pgcode is not None:
        return _PG_TRANSIENT.get(pgcode)
    mysql_code = _mysql_code(driver_error)
    if mysql_code is not None:
        return _MYSQL_TRANSIENT.get(mysql_code)
    sqlite_code = _sqlite_primary_code(driver_error)
    message = str(driver_error).lower()
    if sqlite_code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in message:
        return "SQLite database is locked"
    if sqlite_code == _SQLITE_CANTOPEN or "unable to open database file" in message:
        # The file's volume is away (a network file system failing over).
        return "SQLite database file cannot be opened"
    if _is_postgresql_error(driver_error):
        for text, reason in _PG_MESSAGES:
            if text in message:
                return reason
    return None


def _is_postgresql_error(error: BaseException) -> bool:
    """True for an error of psycopg2 or psycopg (3), whose connection errors lack a code."""
    return any(
        (cls.__module__ or "").split(".")[0] in ("psycopg2", "psycopg")
        for cls in type(error).__mro__
    )


def is_transient(error: BaseException) -> bool:
    """True when :func:`transient_reason` names a reason for *error*."""
    return transient_reason(error) is not None


def is_duplicate_entry(error: BaseException) -> bool:
    """Return True when *error* is a unique-constraint violation."""
    if not isinstance(error, sa_exc.IntegrityError) or error.orig is None:
        return False
    driver_error = error.orig
    pgcode = getattr(driver_error, "pgcode", None)
    if pgcode is not None:
        return bool(pgcode == _PG_UNIQUE_VIOLATION)
    mysql_code = _mysql_code(driver_error)
    if mysql_code is not None:
        return mysql_code == _MYSQL_DUPLICATE_ENTRY
    return "UNIQUE constraint failed" in str(driver_error)
