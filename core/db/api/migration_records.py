"""The ``migrations`` table: one record per move of an instance (migration, resize, ...).

Create, read by id or uuid, update (one keyed ``UPDATE``), list by instance, by filters,
or those still holding resources on a host's node. (Named ``migration_records`` so as
not to be confused with the Alembic schema migrations in ``nubis.core.db.migrations``.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _all, _filtered, _first, _query, _update_one
from nubis.core.db.api._transaction import _one_statement_writer, _reader, _writer
from nubis.core.db.engine import OneStatement
from nubis.core.db.models import Migration

MIGRATION_STATUSES_NOT_IN_PROGRESS = (
    "accepted",
    "cancelled",
    "completed",
    "confirmed",
    "done",
    "error",
    "failed",
    "reverted",
)
"""Migration statuses that hold no resources on either host."""


@_writer
def migration_create(session: Session, context: Any, values: Mapping[str, Any]) -> Migration:
    """Create a migration record (a uuid is generated if *values* has none)."""
    migration = Migration(**values)
    session.add(migration)
    session.flush()
    return migration


@_reader
def migration_get(session: Session, context: Any, migration_id: int) -> Migration:
    """Return the migration with id *migration_id*, or raise MigrationNotFound."""
    migration = _first(session, _query(context, Migration, Migration.id == migration_id))
    if migration is None:
        raise exception.MigrationNotFound(migration_id=migration_id)
    return migration


@_reader
def migration_get_by_uuid(session: Session, context: Any, migration_uuid: str) -> Migration:
    """Return the migration with *migration_uuid*, or raise MigrationNotFound."""
    migration = _first(session, _query(context, Migration, Migration.uuid == migration_uuid))
    if migration is None:
        raise exception.MigrationNotFound(migration_id=migration_uuid)
    return migration


@_one_statement_writer
def migration_update(
    bind: OneStatement, context: Any, migration_id: int, values: Mapping[str, Any]
) -> Migration:
    """Update a migration and return it; MigrationNotFound if there is none."""
    migration = _update_one(bind, context, Migration, {"id": migration_id}, values)
    if migration is None:
        raise exception.MigrationNotFound(migration_id=migration_id)
    return migration


@_reader
def migration_get_in_progress_by_host_and_node(
    session: Session, context: Any, host: str, node: str
) -> list[Migration]:
    """Return migrations into or out of *host*'s *node* that still hold resources.

    In progress means a status outside MIGRATION_STATUSES_NOT_IN_PROGRESS.
    """
    statement = _query(
        context,
        Migration,
        or_(
            and_(Migration.source_compute == host, Migration.source_node == node),
            and_(Migration.dest_compute == host, Migration.dest_node == node),
        ),
        Migration.status.not_in(MIGRATION_STATUSES_NOT_IN_PROGRESS),
    )
    return _all(session, statement.order_by(Migration.id))


@_reader
def migration_get_all_by_instance(
    session: Session, context: Any, instance_uuid: str
) -> list[Migration]:
    """Return the migrations of one instance, oldest first."""
    statement = _query(context, Migration, Migration.instance_uuid == instance_uuid)
    return _all(session, statement.order_by(Migration.id))


MIGRATION_FILTERS = frozenset(
    {
        "instance_uuid",
        "status",
        "migration_type",
        "source_compute",
        "dest_compute",
        "source_node",
        "dest_node",
        "project_id",
        "user_id",
        "hidden",
    }
)


@_reader
def migration_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> list[Migration]:
    """Return migrations matching *filters* (exact; a list means IN), newest first."""
    statement = _filtered(_query(context, Migration), Migration, filters, MIGRATION_FILTERS)
    statement = statement.order_by(Migration.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)
