"""Host aggregates (``aggregates``, ``aggregate_hosts``, ``aggregate_metadata``; revision
0013; ``/os-aggregates``), kept as Nova's API database keeps them.

An aggregate has an integer ``id`` (what the API names it by), a ``uuid`` and a
``name`` unique among aggregates (AggregateNameExists); its hosts are compute host
names, each at most once (AggregateHostExists); its metadata maps keys to values, the
aggregate's availability zone being the item ``availability_zone``. Nothing here is
soft-deleted: an aggregate is deleted for real, with its metadata, once it has no
hosts.

Reads answer :class:`AggregateDetails` -- the row with its hosts and metadata, read in
the same transaction. Every change locks the aggregate's row first (``SELECT ... FOR
UPDATE``; a SQLite writer holds the database's write lock), sets its ``updated_at`` and
answers the aggregate as it is now; a change racing a delete either commits first or
finds no aggregate (AggregateNotFound). Whether a host is a compute host, and the rules
of availability zones, are the caller's business
(:mod:`nubis.core.compute.aggregates`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from oslo_utils import timeutils, uuidutils
from sqlalchemy import delete, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db import errors
from nubis.core.db.api._rows import _add, _all, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Aggregate, AggregateHost, AggregateMetadata


class AggregateDetails(NamedTuple):
    """An aggregate's row, its hosts (sorted) and its metadata."""

    row: Aggregate
    hosts: list[str]
    metadata: dict[str, str]


def _aggregate(session: Session, aggregate_id: int, *, lock: bool = False) -> Aggregate:
    statement = select(Aggregate).where(Aggregate.id == aggregate_id)
    if lock:
        statement = statement.with_for_update()
    row = _first(session, statement)
    if row is None:
        raise exception.AggregateNotFound(aggregate_id=aggregate_id)
    return row


def _details(session: Session, rows: Iterable[Aggregate]) -> list[AggregateDetails]:
    rows = list(rows)
    ids = [row.id for row in rows]
    hosts: dict[int, list[str]] = {aggregate_id: [] for aggregate_id in ids}
    metadata: dict[int, dict[str, str]] = {aggregate_id: {} for aggregate_id in ids}
    if ids:
        statement = select(AggregateHost.aggregate_id, AggregateHost.host).where(
            AggregateHost.aggregate_id.in_(ids)
        )
        for aggregate_id, host in session.execute(statement.order_by(AggregateHost.host)):
            hosts[aggregate_id].append(host)
        items = select(
            AggregateMetadata.aggregate_id, AggregateMetadata.key, AggregateMetadata.value
        ).where(AggregateMetadata.aggregate_id.in_(ids))
        for aggregate_id, key, value in session.execute(items):
            metadata[aggregate_id][key] = value
    return [AggregateDetails(row, hosts[row.id], metadata[row.id]) for row in rows]


def _touched(session: Session, row: Aggregate) -> AggregateDetails:
    """Set *row*'s ``updated_at`` and return it with its hosts and metadata."""
    now = timeutils.utcnow()
    session.execute(
        update(Aggregate)
        .where(Aggregate.id == row.id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    row.updated_at = now
    return _details(session, [row])[0]


def _set_metadata(session: Session, aggregate_id: int, metadata: Mapping[str, str | None]) -> None:
    try:
        for key, value in metadata.items():
            found = _first(
                session,
                select(AggregateMetadata).where(
                    AggregateMetadata.aggregate_id == aggregate_id, AggregateMetadata.key == key
                ),
            )
            if value is None:
                if found is not None:
                    session.delete(found)
            elif found is None:
                session.add(AggregateMetadata(aggregate_id=aggregate_id, key=key, value=value))
            elif found.value != value:
                found.value = value
            session.flush()
    except sa_exc.IntegrityError as error:
        if errors.is_duplicate_entry(error):
            # Keys that differ in case only, where the database compares without case.
            raise exception.InvalidAggregateAction(
                action="set metadata of",
                aggregate_id=aggregate_id,
                reason="two metadata keys differ only in letter case",
            ) from error
        raise


@_writer
def aggregate_create(
    session: Session,
    context: Any,
    values: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
) -> AggregateDetails:
    """Create an aggregate from *values* (``name``; ``uuid`` made up when not given)
    with *metadata*; AggregateNameExists when an aggregate has that name."""
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    row = _add(
        session,
        Aggregate(**values),
        lambda: exception.AggregateNameExists(aggregate_name=values.get("name")),
    )
    if metadata:
        _set_metadata(session, row.id, metadata)
    return _details(session, [row])[0]


@_reader
def aggregate_get(session: Session, context: Any, aggregate_id: int) -> AggregateDetails:
    """The aggregate *aggregate_id*; AggregateNotFound."""
    return _details(session, [_aggregate(session, aggregate_id)])[0]


@_reader
def aggregate_get_all(
    session: Session, context: Any, host: str | None = None, key: str | None = None
) -> list[AggregateDetails]:
    """Every aggregate, oldest first; with *host*, those that have that host; with
    *key*, those that have that metadata key."""
    statement = select(Aggregate)
    if host is not None:
        statement = statement.where(
            Aggregate.id.in_(select(AggregateHost.aggregate_id).where(AggregateHost.host == host))
        )
    if key is not None:
        statement = statement.where(
            Aggregate.id.in_(
                select(AggregateMetadata.aggregate_id).where(AggregateMetadata.key == key)
            )
        )
    return _details(session, _all(session, statement.order_by(Aggregate.id)))


@_writer
def aggregate_update(
    session: Session, context: Any, aggregate_id: int, values: Mapping[str, Any]
) -> AggregateDetails:
    """Set the aggregate's columns in *values* (``name``); AggregateNotFound,
    AggregateNameExists when another aggregate has the new name."""
    row = _aggregate(session, aggregate_id, lock=True)
    for name, value in values.items():
        setattr(row, name, value)
    try:
        session.flush()
    except sa_exc.IntegrityError as error:
        if errors.is_duplicate_entry(error):
            raise exception.AggregateNameExists(aggregate_name=values.get("name")) from error
        raise
    return _touched(session, row)


@_writer
def aggregate_metadata_update(
    session: Session, context: Any, aggregate_id: int, metadata: Mapping[str, str | None]
) -> AggregateDetails:
    """Set the aggregate's metadata items in *metadata*: a None value deletes the key
    (a key it lacks is no error), others are added or replaced; items not named stay.
    AggregateNotFound."""
    row = _aggregate(session, aggregate_id, lock=True)
    _set_metadata(session, row.id, metadata)
    return _touched(session, row)


@_writer
def aggregate_delete(session: Session, context: Any, aggregate_id: int) -> None:
    """Delete the aggregate and its metadata; AggregateNotFound, InvalidAggregateAction
    while it has hosts (remove them first, as Nova asks)."""
    row = _aggregate(session, aggregate_id, lock=True)
    hosts = _details(session, [row])[0].hosts
    if hosts:
        raise exception.InvalidAggregateAction(
            action="delete",
            aggregate_id=aggregate_id,
            reason=f"it still has hosts ({', '.join(hosts)}); remove them first",
        )
    session.execute(delete(AggregateMetadata).where(AggregateMetadata.aggregate_id == row.id))
    session.execute(delete(Aggregate).where(Aggregate.id == row.id))


@_writer
def aggregate_host_add(
    session: Session, context: Any, aggregate_id: int, host: str
) -> AggregateDetails:
    """Add *host* to the aggregate; AggregateNotFound, AggregateHostExists."""
    row = _aggregate(session, aggregate_id, lock=True)
    _add(
        session,
        AggregateHost(aggregate_id=row.id, host=host),
        lambda: exception.AggregateHostExists(aggregate_id=aggregate_id, host=host),
    )
    return _touched(session, row)


@_writer
def aggregate_host_delete(
    session: Session, context: Any, aggregate_id: int, host: str
) -> AggregateDetails:
    """Take *host* out of the aggregate; AggregateNotFound, AggregateHostNotFound."""
    row = _aggregate(session, aggregate_id, lock=True)
    removed = session.execute(
        delete(AggregateHost).where(
            AggregateHost.aggregate_id == row.id, AggregateHost.host == host
        )
    ).rowcount  # type: ignore[attr-defined]
    if not removed:
        raise exception.AggregateHostNotFound(aggregate_id=aggregate_id, host=host)
    return _touched(session, row)
