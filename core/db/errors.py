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
}

_MYSQL_TRANSIENT = {
    1020: "serialization failure (record changed since last read)",
    1205: "lock wait timeout",
    1213: "deadlock",
    1927: "connection killed",
    2006: "lost connection (server has gone away)",
    2013: "lost connection during query",
}

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6

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
    if _sqlite_primary_code(driver_error) in (_SQLITE_BUSY, _SQLITE_LOCKED) or (
        "database is locked" in str(driver_error)
    ):
        return "SQLite database is locked"
    return None


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
