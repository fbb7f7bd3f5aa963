"""Row helpers every table family shares: visibility, reads, inserts, updates, soft deletes.

Reads see soft-deleted rows as ``context.read_deleted`` says (:func:`_visible`,
:func:`_query`); :func:`_add` turns a duplicate-key error into the caller's ``...Exists``
exception; :func:`_update_one` is the hot-path keyed ``UPDATE ... RETURNING`` and
:func:`_first_by` the hot-path read of one row by key (their statements are built once
each and kept in :func:`_keyed_update`'s and :func:`_keyed_select`'s caches, the
statement caches of the DB API); :func:`_soft_delete_rows` marks rows deleted;
:func:`_filtered` applies exact-match filters from a list of allowed columns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar, cast

from oslo_utils import timeutils
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ClauseElement

from nubis.core import exception
from nubis.core.db import errors
from nubis.core.db.api import _direct
from nubis.core.db.engine import OneStatement
from nubis.core.db.models import Base, SoftDeleteMixin

ModelT = TypeVar("ModelT", bound=Base)


def _read_deleted(context: Any) -> str:
    return str(getattr(context, "read_deleted", "no"))


def _visible(context: Any, model: type[Base], read_deleted: str | None = None) -> list[Any]:
    """WHERE clauses that hide soft-deleted rows as the context asks."""
    if not issubclass(model, SoftDeleteMixin):
        return []
    mode = read_deleted or _read_deleted(context)
    if mode == "no":
        return [model.deleted == 0]
    if mode == "only":
        return [model.deleted != 0]
    return []


def _query(
    context: Any, model: type[ModelT], *where: Any, read_deleted: str | None = None
) -> Select[tuple[ModelT]]:
    return select(model).where(*_visible(context, model, read_deleted), *where)


def _first(session: Session, statement: Select[tuple[ModelT]]) -> ModelT | None:
    return session.scalars(statement.limit(1)).first()


@functools.lru_cache(maxsize=256)
def _keyed_select(
    model: type[Base],
    key_columns: tuple[str, ...],
    read_deleted: str,
    order: tuple[str, ...],
    for_update: bool,
) -> Select[Any]:
    """``SELECT`` of the first visible *model* row whose *key_columns* equal the bind
    parameters ``nubis_key_<column>``, in *order* (column names, ``-`` for descending),
    locked when *for_update*.

    Built once per shape: building the WHERE clause from ORM attributes and its cache key
    on every call cost more than running the query (the build path reads instances and
    actions by key several times per build).
    """
    where = [
        getattr(model, name) == bindparam(f"nubis_key_{name}", type_=model.__table__.c[name].type)
        for name in key_columns
    ]
    statement = _query(None, model, *where, read_deleted=read_deleted)
    for name in order:
        column = getattr(model, name.lstrip("-"))
        statement = statement.order_by(column.desc() if name.startswith("-") else column)
    statement = statement.limit(1)
    return statement.with_for_update() if for_update else statement


def _first_by(
    session: Session,
    context: Any,
    model: type[ModelT],
    key: Mapping[str, Any],
    *,
    order: tuple[str, ...] = (),
    for_update: bool = False,
    read_deleted: str | None = None,
    reload: bool = False,
) -> ModelT | None:
    """The first visible *model* row whose columns equal *key* (``{column: value}``), in
    *order*, or None; the statement comes from :func:`_keyed_select`'s cache.

    Visibility is ``context.read_deleted`` unless *read_deleted* is given; *reload*
    refreshes an instance of the row the session already holds (``populate_existing``).
    """
    statement = _keyed_select(
        cast(Any, model),  # a class is hashable; mypy cannot tell for a TypeVar's type
        tuple(key),
        read_deleted or _read_deleted(context),
        order,
        for_update,
    )
    params = {f"nubis_key_{name}": value for name, value in key.items()}
    options = {"populate_existing": True} if reload else {}
    row: ModelT | None = session.scalars(statement, params, execution_options=options).first()
    return row


def _all(session: Session, statement: Select[tuple[ModelT]]) -> list[ModelT]:
    return list(session.scalars(statement))


def _add(session: Session, row: ModelT, duplicate: Callable[[], Exception]) -> ModelT:
    session.add(row)
    try:
        session.flush()
    except sa_exc.IntegrityError as error:
        if errors.is_duplicate_entry(error):
            raise duplicate() from error
        raise
    return row


def _update_rows(
    session: Session,
    context: Any,
    model: type[Base],
    where: Iterable[Any],
    values: Mapping[str, Any],
) -> int:
    """UPDATE the visible rows matching *where*; return how many matched."""
    values = dict(values)
    values.setdefault("updated_at", timeutils.utcnow())
    statement = (
        update(model)
        .where(*_visible(context, model), *where)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


_KEY_PARAM = "nubis_update_key"
"""The bind parameter of the key in a :func:`_keyed_update` statement (no column has
this name, so it never meets one of the SET parameters, which are named by column)."""


@functools.cache
def _column_keys(table: Table) -> frozenset[str]:
    return frozenset(table.columns.keys())


def _bindable(table: Table, values: Mapping[str, Any]) -> bool:
    """True when every value goes to a column of *table* as a plain value (no SQL)."""
    columns = _column_keys(table)
    return all(
        name in columns
        and not isinstance(value, ClauseElement)
        and not hasattr(value, "__clause_element__")
        for name, value in values.items()
    )


@functools.lru_cache(maxsize=1024)
def _keyed_update(
    table: Table,
    key_column: str,
    columns: frozenset[str],
    read_deleted: str | None,
    returning: bool,
) -> tuple[Any, Select[Any] | None]:
    """``UPDATE`` of the row whose *key_column* equals the ``nubis_update_key``
    parameter, setting *columns* from parameters of the same names, and how to read the
    row afterwards: ``RETURNING`` every column when *returning*, else a ``SELECT`` by the
    key (second item). *read_deleted* (``'no'``, ``'yes'``, ``'only'``) says which rows
    of a soft-delete table it sees; None: the table has no soft delete.

    Built once per (table, key, set of columns, read_deleted, RETURNING): building the
    statement and its cache key on every call cost more than running it.
    """
    key = table.c[key_column] == bindparam(_KEY_PARAM, type_=table.c[key_column].type)
    visible = []
    if read_deleted == "no":
        visible.append(table.c.deleted == 0)
    elif read_deleted == "only":
        visible.append(table.c.deleted != 0)
    statement = (
        update(table)
        .where(*visible, key)
        .values({name: bindparam(name, type_=table.c[name].type) for name in sorted(columns)})
    )
    if returning:
        return statement.returning(*table.columns), None
    return statement, select(table).where(key)


def _detached(model: type[ModelT], values: Mapping[Any, Any]) -> ModelT:
    """A detached *model* instance holding *values*, without per-attribute ORM events
    (the row came straight from the database; nothing is pending)."""
    instance: ModelT = model._sa_class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


def _update_one(
    bind: Session | Connection | OneStatement,
    context: Any,
    model: type[ModelT],
    key: Mapping[str, Any] | ColumnElement[bool],
    values: Mapping[str, Any],
) -> ModelT | None:
    """UPDATE the visible row matching *key* and return it as it is now (None: no row).

    *key* is ``{column name: value}`` naming the row, or a SQL condition
    (``Model.uuid == uuid``). With one column name and plain values (the hot paths: state
    reports, resource audits, object saves) the statement comes from
    :func:`_keyed_update` and runs with bind parameters; otherwise it is built for this
    call. Where the database can (SQLite, PostgreSQL) the row comes back from the UPDATE
    itself (RETURNING); elsewhere (MariaDB) a SELECT in the same transaction reads it.
    The row is returned as a detached *model* instance. *bind* is the calling API
    function's Session, Core connection or one-statement write; the statements are
    plain Core on the table in every case.
    """
    if isinstance(bind, Session):
        bind = bind.connection()
    values = dict(values)
    values.setdefault("updated_at", timeutils.utcnow())
    returning = bind.dialect.update_returning
    table: Table = model.__table__
    if isinstance(key, Mapping) and len(key) == 1 and _bindable(table, values):
        ((key_column, key_value),) = key.items()
        read_deleted = _read_deleted(context) if issubclass(model, SoftDeleteMixin) else None
        statement, reread = _keyed_update(
            table, key_column, frozenset(values), read_deleted, returning
        )
        values[_KEY_PARAM] = key_value
        if reread is None:
            found = _direct.returning_one(bind, statement, values, table.columns)
            return None if found is None else _detached(model, found)
        connection = _core(bind)
        if not connection.execute(statement, values).rowcount:
            return None
        row: Row[Any] | None = connection.execute(reread, {_KEY_PARAM: key_value}).one()
    else:
        if isinstance(key, Mapping):
            key = and_(*(table.c[name] == value for name, value in key.items()))
        update_statement = update(table).where(*_visible(context, model), key).values(values)
        row = _updated_row(_core(bind), table, update_statement, key)
    return None if row is None else _detached(model, row._mapping)


def _core(bind: Connection | OneStatement) -> Connection:
    """The Core connection of *bind*."""
    return bind.connection() if isinstance(bind, OneStatement) else bind


def _updated_row(
    connection: Connection, table: Table, statement: Update, key: ColumnElement[bool]
) -> Row[Any] | None:
    """Run the UPDATE *statement* of one row of *table* and return that row as it is now
    (None: no row matched): from the UPDATE itself where the database can (RETURNING),
    else read again by *key* in the same transaction."""
    if connection.dialect.update_returning:
        return connection.execute(statement.returning(*table.columns)).one_or_none()
    if connection.execute(statement).rowcount:
        return connection.execute(select(table).where(key)).one()
    return None


def _soft_delete_rows(session: Session, model: type[SoftDeleteMixin], where: Iterable[Any]) -> int:
    """Soft-delete the live rows matching *where*, keeping their ``updated_at``."""
    statement = (
        update(model)
        .where(model.deleted == 0, *where)
        .values(
            deleted=model.id,
            deleted_at=timeutils.utcnow(),
            updated_at=model.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _reloaded(session: Session, statement: Select[tuple[ModelT]]) -> ModelT:
    return session.scalars(statement.execution_options(populate_existing=True)).one()


def _filtered(
    statement: Select[tuple[ModelT]],
    model: type[ModelT],
    filters: Mapping[str, Any] | None,
    allowed: Collection[str],
) -> Select[tuple[ModelT]]:
    """Add exact-match filters: a list/tuple/set value means IN, None means IS NULL."""
    for name, value in (filters or {}).items():
        if name not in allowed:
            raise exception.InvalidFilter(
                table=model.__tablename__, name=name, allowed=", ".join(sorted(allowed))
            )
        column: InstrumentedAttribute[Any] = getattr(model, name)
        if isinstance(value, list | tuple | set | frozenset):
            statement = statement.where(column.in_(value))
        elif value is None:
            statement = statement.where(column.is_(None))
        else:
            statement = statement.where(column == value)
    return statement
