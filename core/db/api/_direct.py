"""Run a cached Core statement straight on the driver's cursor of a pooled connection.

For the DB API's hottest statement, the keyed ``UPDATE ... RETURNING`` of one row
(:func:`nubis.core.db.api._rows._update_one` by one key column: the saves of compute
nodes -- every resource audit that finds a change -- and of migrations), SQLAlchemy's
execution of a cached statement costs more than the driver's own work. Measured on
SQLite, ``compute_node_update`` took 130 µs through ``Connection.execute`` (execution
context, result metadata, events) and 79 µs this way, of which the driver's statement
is about 30 µs; on a slower machine, 128 µs on a SQLAlchemy Connection and 97 µs on the
pooled driver connection a :class:`~nubis.core.db.engine.OneStatement` hands out, which
skips the Connection's begin, commit and events. :func:`returning_one` does only what
the driver needs, with what SQLAlchemy worked out once per statement and dialect: the
SQL its compiler wrote, the bound literals' values, and its types' bind and result
processors.

It keeps what callers rely on from SQLAlchemy's execution:

* the statement runs on the connection the caller checked out, inside its transaction,
  or on a one-statement write's pooled driver connection in autocommit (see
  :func:`nubis.core.db.engine.one_statement`);
* a driver error is raised as SQLAlchemy's exception for it
  (:meth:`sqlalchemy.exc.DBAPIError.instance`: ``OperationalError``,
  ``IntegrityError``, ... with ``orig``), which :mod:`nubis.core.db.retry` and
  :mod:`nubis.core.db.errors` read; a lost connection is invalidated first, so the
  pool does not hand it out again;
* anything that watches statements still sees every one: while a listener is
  registered for the engine's execution or error events (a test counting statements,
  a profiler), or SQL logging is on (``[database] connection_debug``), the statement
  goes through ``Connection.execute`` instead.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine

from nubis.core.db.engine import OneStatement

_EXECUTION_EVENTS = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)


@dataclasses.dataclass
class _Compiled:
    """One statement as the driver takes it, for one dialect."""

    sql: str
    #: The parameter names in the order the driver takes them; None: by name (a dict).
    order: tuple[str, ...] | None
    #: The values of the statement's own bound literals (``deleted = 0``).
    literals: dict[str, Any]
    #: ``(name, processor)`` for each parameter whose type converts its value.
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    #: ``[(key, processor or None)]`` of the returned columns, from the first result's
    #: cursor description (some dialects' processors depend on the column's type code).
    result_processors: list[tuple[str, Callable[[Any], Any] | None]] | None = None

    def arguments(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters for *params* (the statement's names and values)."""
        values = {**self.literals, **params}
        for name, process in self.bind_processors:
            value = values.get(name)
            if value is not None:
                values[name] = process(value)
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


@functools.lru_cache(maxsize=1024)
def _compiled(statement: Update, dialect: Dialect) -> _Compiled:
    """*statement* compiled for *dialect*, once (statements come from the DB API's own
    statement caches, so each is one object for its whole life)."""
    compiled: Any = statement.compile(dialect=dialect)
    escaped: Mapping[str, str] = getattr(compiled, "escaped_bind_names", None) or {}
    literals: dict[str, Any] = {}
    processors: list[tuple[str, Callable[[Any], Any]]] = []
    for name, bind in compiled.binds.items():
        key = escaped.get(name, name)
        if not bind.required:
            literals[key] = bind.effective_value
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((key, process))
    order = None
    if compiled.positional:
        order = tuple(escaped.get(name, name) for name in compiled.positiontup)
    return _Compiled(compiled.string, order, literals, tuple(processors))


def _watched(engine: Engine, connection: Connection | None = None) -> bool:
    """Whether anything watches the statements run through *engine* (and *connection*,
    whose own listeners join the engine's)."""
    dispatch = engine.dispatch if connection is None else connection.dispatch
    if any(getattr(dispatch, name) for name in _EXECUTION_EVENTS):
        return True
    if engine.dialect.dispatch.handle_error:
        return True
    return bool(engine.logger.isEnabledFor(logging.INFO))  # SQL echo


def returning_one(
    bind: Connection | OneStatement,
    statement: Update,
    params: Mapping[str, Any],
    columns: Sequence[Column[Any]],
) -> dict[str, Any] | None:
    """Run *statement* (an ``UPDATE ... RETURNING`` *columns*, built once and kept by the
    caller) with *params*; return the one row it returned as ``{column key: value}``, or
    None when it matched no row.

    *bind* is a Connection (the statement runs in its transaction) or a one-statement
    write's :class:`~nubis.core.db.engine.OneStatement` (on its pooled driver
    connection, in autocommit; through its Connection while anything watches). Raises
    SQLAlchemy's exception for a driver error, as ``Connection.execute`` does, and
    ``MultipleResultsFound`` when more than one row came back.
    """
    if isinstance(bind, OneStatement):
        if _watched(bind.engine):
            return _executed(bind.connection(), statement, params, columns)
        fairy = bind.driver()
        assert fairy is not None  # the caller checked dialect.update_returning
        invalidate = fairy.invalidate
    else:
        if _watched(bind.engine, bind):
            return _executed(bind, statement, params, columns)
        fairy = bind.connection
        invalidate = bind.invalidate
    dialect = bind.dialect
    compiled = _compiled(statement, dialect)
    arguments = compiled.arguments(params)
    cursor = fairy.cursor()
    try:
        cursor.execute(compiled.sql, arguments)
        if compiled.result_processors is None:
            compiled.result_processors = [
                (column.key, column.type.dialect_impl(dialect).result_processor(dialect, item[1]))
                for column, item in zip(columns, cursor.description, strict=True)
            ]
        fetched = cursor.fetchall()
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
        if lost:
            invalidate(error)
        raise sa_exc.DBAPIError.instance(
            compiled.sql,
            arguments,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    finally:
        _close(cursor)
    return _one(fetched, columns, compiled.result_processors)


def _executed(
    connection: Connection,
    statement: Update,
    params: Mapping[str, Any],
    columns: Sequence[Column[Any]],
) -> dict[str, Any] | None:
    """:func:`returning_one` through ``Connection.execute``, which events and logs see."""
    rows = [row._mapping for row in connection.execute(statement, params)]
    return _one(rows, columns, None)


def _one(
    rows: Sequence[Any],
    columns: Sequence[Column[Any]],
    processors: list[tuple[str, Callable[[Any], Any] | None]] | None,
) -> dict[str, Any] | None:
    if not rows:
        return None
    if len(rows) > 1:
        raise sa_exc.MultipleResultsFound("the statement returned more than one row")
    (row,) = rows
    if processors is None:  # a mapping from Connection.execute, already processed
        return {column.key: row[column] for column in columns}
    return {
        key: value if process is None or value is None else process(value)
        for (key, process), value in zip(processors, row, strict=True)
    }


def _close(cursor: Any) -> None:
    try:
        cursor.close()
    except Exception:  # noqa: S110  (a cursor of a lost connection may fail to close)
        pass
