"""Move soft-deleted rows into the shadow tables, and empty the shadow tables.

Soft-deleted rows stay in their tables for ever unless an operator moves them out
(``nubis-manage db archive-deleted-rows``) and later throws them away (``nubis-manage db
purge``). Both run while the services run: unlike every other function of
:mod:`nubis.core.db.api` they do many short transactions, each one retried as a whole
on transient errors, and take row locks only.

:func:`archive_deleted_rows` -- which rows move:

* a row of a soft-deleting table whose ``deleted`` is not 0 (with *before*: also
  ``deleted_at < before``) moves to ``shadow_<table>``
  (:data:`nubis.core.db.models.SHADOW_TABLES`);
* with it go the rows that refer to it by foreign key, soft-deleted or not, and theirs:
  an instance takes its actions with their events, its faults and its migrations; an
  action takes its events. This is Nova's rule -- the history of a deleted instance goes
  with the instance, never before it is deleted, never left behind. A row that refers
  to a live row stays, unless it is soft-deleted itself (a soft-deleted fault of a live
  instance moves on its own);
* a row that went along without being soft-deleted itself is stored deleted as of the
  nearest deleted row above it (``deleted`` = its id, ``deleted_at`` = that row's), so
  that :func:`purge_shadow_tables` with *before* keeps or drops an instance together
  with its history. Everything else is copied as it is;
* an instance's tags and its server group membership (``instance_tags``,
  ``instance_group_members``: no ``deleted`` column, no shadow table) are deleted when
  the instance is (:func:`~.instances.instance_destroy`); any still there when it is
  archived are deleted in its batch, not copied, and counted under their table.

How: tables are taken one after the other, children before parents
(:data:`ARCHIVE_ORDER`, from the foreign keys). A read finds the next archivable ids of
one table in id order; then one transaction locks those rows (``SELECT ... FOR
UPDATE``), keeping only those still archivable, locks the rows that go with them the
same way, and for each table, children first, copies the locked ids into the shadow
table (``INSERT ... SELECT``) and deletes exactly those ids. So a concurrent change to
a row is either committed before the lock (and archived, or the row left alone if it
was undeleted) or waits for the batch and then finds no row: no row is copied without
being deleted or deleted without being copied, and no committed change is lost. A
writer adding a row to an instance being archived waits on the instance's lock, then
fails on the foreign key, as it would had the instance been archived first. On SQLite
a transaction holds the database's write lock (``BEGIN IMMEDIATE``): batches are kept
small.

*max_rows* bounds the rows one call moves, the rows that go along included: a batch
takes at most what is left of *max_rows* (and *batch_size*) rows of the table it
archives, and always every row that goes with them, so the count may pass *max_rows*
by the children of the last batch. Rows deleted during a call behind the point it has
reached in a table wait for the next call.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Iterator, Sequence
from typing import Any

from oslo_utils import timeutils
from sqlalchemy import (
    ColumnElement,
    Connection,
    ForeignKey,
    FromClause,
    Table,
    case,
    func,
    select,
)
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db import models
from nubis.core.db.api._transaction import _core_writer, _reader

DEFAULT_MAX_ROWS = 1000
"""Rows one :func:`archive_deleted_rows` call moves (about: see the module docstring)."""

DEFAULT_BATCH_SIZE = 200
"""Rows of one table per archive or purge transaction (the rows that go with them come
on top)."""

_IN_CHUNK = 500
"""Ids per ``IN (...)`` list: an instance may have any number of actions and events."""


@dataclasses.dataclass(frozen=True)
class _Dependent:
    """A table whose rows go along when rows of a root table are archived.

    *path* holds the foreign keys from *table* up to the root, nearest first: for
    ``instance_actions_events`` under ``instances`` it is ``(events.action_id ->
    instance_actions.id, instance_actions.instance_uuid -> instances.uuid)``.
    """

    table: Table
    path: tuple[ForeignKey, ...]

    def joined(self) -> FromClause:
        """*table* joined to every table of *path* up to the root."""
        joined: FromClause = self.table
        for fk in self.path:
            joined = joined.join(fk.column.table, fk.parent == fk.column)
        return joined

    def tables(self) -> list[Table]:
        """*table*, then each table of *path* up to the root."""
        return [self.table, *(fk.column.table for fk in self.path)]


def _dependents(root: Table, path: tuple[ForeignKey, ...] = ()) -> list[_Dependent]:
    """Every table whose rows go along with rows of *root*, parents before children."""
    found: list[_Dependent] = []
    parent = path[0].parent.table if path else root
    for table in models.Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is not parent:
                continue
            if table.name not in models.SHADOW_TABLES:
                raise TypeError(
                    f"{table.name} refers to {parent.name} by foreign key but has no shadow "
                    f"table: rows of {parent.name} could not be archived"
                )
            dependent = _Dependent(table, (fk, *path))
            found += [dependent, *_dependents(root, dependent.path)]
    return found


ARCHIVE_ORDER: tuple[str, ...] = tuple(
    table.name
    for table in reversed(models.Base.metadata.sorted_tables)
    if table.name in models.SHADOW_TABLES
)
"""The tables :func:`archive_deleted_rows` takes, one after the other: children first."""

_DEPENDENTS = {name: _dependents(models.Base.metadata.tables[name]) for name in ARCHIVE_ORDER}


def _table(name: str) -> Table:
    return models.Base.metadata.tables[name]


def _archivable(table: Table, before: datetime.datetime | None) -> list[ColumnElement[bool]]:
    where = [table.c.deleted != 0]
    if before is not None:
        where.append(table.c.deleted_at < before)
    return where


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield list(ids[start : start + _IN_CHUNK])


@_reader
def _archivable_ids(
    session: Session,
    context: Any,
    name: str,
    before: datetime.datetime | None,
    after: int,
    limit: int,
) -> list[int]:
    """Ids above *after* of up to *limit* archivable rows of table *name*, in order."""
    table = _table(name)
    statement = (
        select(table.c.id)
        .where(table.c.id > after, *_archivable(table, before))
        .order_by(table.c.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def _copy_and_delete(connection: Connection, dependent: _Dependent, ids: Sequence[int]) -> int:
    """Copy the rows of ``dependent.table`` with *ids* into its shadow table, marked
    deleted as the module says, and delete them; return how many moved."""
    table = dependent.table
    stack = dependent.tables()
    marked: dict[str, ColumnElement[Any]] = {}
    if dependent.path:
        # The root rows are deleted themselves and copied as they are; the rows that
        # go along are deleted as of the nearest deleted row above them.
        marked = {
            "deleted": case((table.c.deleted == 0, table.c.id), else_=table.c.deleted),
            "deleted_at": func.coalesce(*(t.c.deleted_at for t in stack)),
        }
    columns = [marked.get(column.name, column) for column in table.columns]
    shadow = models.SHADOW_TABLES[table.name]
    moved = 0
    for chunk in _chunks(ids):
        rows = select(*columns).select_from(dependent.joined()).where(table.c.id.in_(chunk))
        copied = connection.execute(
            shadow.insert().from_select([column.name for column in table.columns], rows)
        ).rowcount
        deleted = connection.execute(table.delete().where(table.c.id.in_(chunk))).rowcount
        if not copied == deleted == len(chunk):
            # Cannot happen while the rows are locked; if it does, roll the batch back.
            raise RuntimeError(
                f"archiving {table.name}: {len(chunk)} locked rows, {copied} copied, "
                f"{deleted} deleted"
            )
        moved += deleted
    return moved


@_core_writer
def _archive_batch(
    connection: Connection,
    context: Any,
    name: str,
    ids: Sequence[int],
    before: datetime.datetime | None,
) -> dict[str, int]:
    """Archive the rows of table *name* with *ids* that are still archivable, with the
    rows that go along; return ``{table name: rows moved}``. One transaction."""
    root = _table(name)
    locked = list(
        connection.scalars(
            select(root.c.id)
            .where(root.c.id.in_(ids), *_archivable(root, before))
            .order_by(root.c.id)
            .with_for_update()
        )
    )
    if not locked:
        return {}
    batch = [(_Dependent(root, ()), locked)]
    for dependent in _DEPENDENTS[name]:
        statement = (
            select(dependent.table.c.id)
            .select_from(dependent.joined())
            .where(root.c.id.in_(locked))
            .order_by(dependent.table.c.id)
            .with_for_update(of=dependent.table)
        )
        batch.append((dependent, list(connection.scalars(statement))))
    moved: dict[str, int] = collections.Counter()
    if name == models.Instance.__tablename__:  # while the instances are there to name them
        for model in (models.InstanceTag, models.InstanceGroupMember):
            moved.update(_delete_by_instance(connection, model.__table__, root, locked))
    for dependent, dependent_ids in reversed(batch):
        if dependent_ids:
            moved[dependent.table.name] += _copy_and_delete(connection, dependent, dependent_ids)
    return dict(moved)


def _delete_by_instance(
    connection: Connection, table: Any, instances: Table, ids: Sequence[int]
) -> dict[str, int]:
    """Delete the rows of *table* (by ``instance_uuid``) of the (locked) instances with
    *ids*; ``{table name: n}``."""
    deleted = 0
    for chunk in _chunks(ids):
        uuids = select(instances.c.uuid).where(instances.c.id.in_(chunk))
        deleted += connection.execute(
            table.delete().where(table.c.instance_uuid.in_(uuids))
        ).rowcount
    return {table.name: deleted} if deleted else {}


def _positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise exception.Invalid(f"{name} must be a positive integer, not {value!r}")


def _naive_utc(before: datetime.datetime | None) -> datetime.datetime | None:
    return None if before is None else timeutils.normalize_time(before)


def archive_deleted_rows(
    context: Any,
    before: datetime.datetime | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, int]:
    """Move up to about *max_rows* rows of deleted things into the shadow tables.

    *before* (naive UTC, or aware) archives only rows deleted before it. Returns
    ``{table name: rows moved}`` for the tables that had any; when the rows moved are
    fewer than *max_rows*, nothing was left to archive as the call went through the
    tables. Invalid for a *max_rows* or *batch_size* below 1. See the module docstring
    for which rows move and how.
    """
    _positive("max_rows", max_rows)
    _positive("batch_size", batch_size)
    before = _naive_utc(before)
    moved: collections.Counter[str] = collections.Counter()
    for name in ARCHIVE_ORDER:
        after = 0
        while (left := max_rows - moved.total()) > 0:
            ids = _archivable_ids(context, name, before, after, min(batch_size, left))
            if not ids:
                break
            after = ids[-1]
            moved.update(_archive_batch(context, name, ids, before))
    return {name: count for name, count in moved.items() if count}


@_core_writer
def _purge_batch(
    connection: Connection,
    context: Any,
    name: str,
    before: datetime.datetime | None,
    after: int,
    limit: int,
) -> tuple[int, int | None]:
    """Delete up to about *limit* rows with ids above *after* from shadow table *name*
    (with *before*: only rows with ``deleted_at < before``). Returns the rows deleted and
    the highest id seen (None: no rows left)."""
    shadow = models.Base.metadata.tables[name]
    where = [shadow.c.deleted_at < before] if before is not None else []
    ids = list(
        connection.scalars(
            select(shadow.c.id)
            .where(shadow.c.id > after, *where)
            .order_by(shadow.c.id)
            .limit(limit)
        )
    )
    if not ids:
        return 0, None
    # An id may be in a shadow table twice (see models._shadow_table): both go.
    deleted = connection.execute(shadow.delete().where(shadow.c.id.in_(ids), *where)).rowcount
    return int(deleted), ids[-1]


def purge_shadow_tables(
    context: Any,
    before: datetime.datetime | None = None,
    all: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, int]:
    """Delete rows from the shadow tables: those deleted before *before* (naive UTC, or
    aware), or every row with ``all=True``; exactly one of the two must be given
    (Invalid otherwise).

    Rows are deleted in batches of *batch_size*, one transaction each. Returns
    ``{shadow table name: rows deleted}`` for the tables that had any. A shadow row
    without ``deleted_at`` (a row whose ``deleted`` was set without it) goes only with
    ``all=True``.
    """
    if (before is None) == (not all):
        raise exception.Invalid("purge needs one of: a before date, all=True")
    _positive("batch_size", batch_size)
    before = _naive_utc(before)
    deleted: dict[str, int] = {}
    for source in ARCHIVE_ORDER:
        name = models.SHADOW_TABLES[source].name
        after: int | None = 0
        while after is not None:
            count, after = _purge_batch(context, name, before, after, batch_size)
            if count:
                deleted[name] = deleted.get(name, 0) + count
    return deleted
