"""Regular-expression filters (the compute API's ``name`` filter, as Nova's) that no
pattern can turn into a denial of service.

A pattern is compiled with RE2 (google-re2), whose matching time is linear in the
input, before it reaches the database; a pattern RE2 cannot compile (backreferences,
lookaround, bad syntax) is refused with :class:`~nubis.core.exception.InvalidRegexp`.
The database then matches with its own engine: PostgreSQL's ``~`` and MySQL/MariaDB's
``REGEXP`` (both bounded by the server), and on SQLite the ``REGEXP`` function that
:func:`register_sqlite_function` installs on every connection -- RE2 again, replacing
the Python :mod:`re` one SQLAlchemy registers, which backtracks exponentially on
patterns like ``^(a+)+$`` while holding the GIL.
"""

from __future__ import annotations

import functools
from typing import Any

import re2
from sqlalchemy.exc import DBAPIError

from nubis.core import exception

MAX_PATTERN_LENGTH = 255

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # an invalid pattern is the client's error, not ours to log

# MariaDB's "Got error ... from regexp" and MySQL 8's ER_REGEXP_* range.
_MYSQL_REGEXP_ERRORS = {1139, *range(3685, 3700)}
_POSTGRESQL_INVALID_REGEXP = "2201B"


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    """Return *pattern* compiled by RE2, or raise InvalidRegexp naming what is wrong."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise exception.InvalidRegexp(
            pattern=pattern[:40] + "...", reason=f"longer than {MAX_PATTERN_LENGTH} characters"
        )
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise exception.InvalidRegexp(pattern=pattern, reason=reason) from None


def _sqlite_regexp(pattern: str | None, value: str | None) -> bool:
    if pattern is None or value is None:
        return False
    return compile_pattern(pattern).search(value) is not None


def register_sqlite_function(dbapi_connection: Any) -> None:
    """Make *dbapi_connection*'s ``REGEXP`` operator use RE2 (see the module docstring)."""
    dbapi_connection.create_function("regexp", 2, _sqlite_regexp, deterministic=True)


def matches(column: Any, pattern: str) -> Any:
    """The SQL condition "*column* matches *pattern* anywhere" (``re.search``)."""
    compile_pattern(pattern)
    return column.regexp_match(pattern)


def is_pattern_error(error: DBAPIError) -> bool:
    """Whether *error* is the database refusing a pattern (not the database failing)."""
    original = getattr(error, "orig", None)
    if getattr(original, "pgcode", None) == _POSTGRESQL_INVALID_REGEXP:
        return True
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    return bool(args) and args[0] in _MYSQL_REGEXP_ERRORS
