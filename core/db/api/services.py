"""The ``services`` table: one row per running nubis service (host + binary).

Create, read (by id, host and binary, binary, topic), list the live hosts of a topic,
find the minimum version per binary, update (a heartbeat's ``report_count`` also stamps
``last_seen_up``) and soft-delete (a nubis-compute service takes its host's compute nodes
with it).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from oslo_utils import timeutils
from sqlalchemy import case, false, func, or_, select, update
from sqlalchemy.orm import Session

from nubis.core import binaries, exception
from nubis.core.db.api._rows import (
    _add,
    _all,
    _detached,
    _first,
    _query,
    _soft_delete_rows,
    _updated_row,
    _visible,
)
from nubis.core.db.api._transaction import _one_statement_writer, _reader, _writer
from nubis.core.db.engine import OneStatement
from nubis.core.db.models import ComputeNode, Service


def _service_get(session: Session, context: Any, service_id: int) -> Service:
    service = _first(session, _query(context, Service, Service.id == service_id))
    if service is None:
        raise exception.ServiceNotFound(service_id=service_id)
    return service


@_writer
def service_create(session: Session, context: Any, values: Mapping[str, Any]) -> Service:
    """Create a service record; ServiceBinaryExists if host+binary already has one."""
    return _add(
        session,
        Service(**values),
        lambda: exception.ServiceBinaryExists(host=values.get("host"), binary=values.get("binary")),
    )


@_reader
def service_get(session: Session, context: Any, service_id: int) -> Service:
    """Return the service with id *service_id*, or raise ServiceNotFound."""
    return _service_get(session, context, service_id)


@_reader
def service_get_by_host_and_binary(
    session: Session, context: Any, host: str, binary: str
) -> Service:
    """Return *host*'s *binary* service, or raise HostBinaryNotFound."""
    service = _first(
        session, _query(context, Service, Service.host == host, Service.binary == binary)
    )
    if service is None:
        raise exception.HostBinaryNotFound(host=host, binary=binary)
    return service


@_reader
def service_get_all(session: Session, context: Any, disabled: bool | None = None) -> list[Service]:
    """Return every service; only disabled (True) or only enabled (False) ones if asked."""
    statement = _query(context, Service)
    if disabled is not None:
        statement = statement.where(Service.disabled == disabled)
    return _all(session, statement.order_by(Service.id))


@_reader
def service_get_all_by_binary(
    session: Session, context: Any, binary: str, include_disabled: bool = True
) -> list[Service]:
    """Return the services running *binary*; ``include_disabled=False`` drops disabled ones.

    Unlike Nova, disabled services are included unless asked otherwise.
    """
    statement = _query(context, Service, Service.binary == binary)
    if not include_disabled:
        statement = statement.where(Service.disabled == false())
    return _all(session, statement.order_by(Service.id))


@_reader
def service_get_all_by_topic(
    session: Session, context: Any, topic: str, include_disabled: bool = True
) -> list[Service]:
    """Return the services listening on *topic*; ``include_disabled`` as for binaries."""
    statement = _query(context, Service, Service.topic == topic)
    if not include_disabled:
        statement = statement.where(Service.disabled == false())
    return _all(session, statement.order_by(Service.id))


@_reader
def service_get_hosts_by_topic(
    session: Session,
    context: Any,
    topic: str,
    seen_within: float | None = None,
    forced_down: bool | None = None,
) -> list[str]:
    """Return the hosts of the services on *topic*: one query of one column, sorted.

    ``seen_within`` (seconds) keeps the services whose last sign of life
    (``last_seen_up``, else ``updated_at``, else ``created_at``) is at most that far
    from now on the clock of the process that runs the query (the one that stamps
    ``last_seen_up``); ``forced_down`` keeps only forced-down (True)
    or only not forced-down (False) services. Membership queries over thousands of
    services use this instead of loading whole records.
    """
    statement = select(Service.host).where(*_visible(context, Service), Service.topic == topic)
    if seen_within is not None:
        now = timeutils.utcnow()
        window = datetime.timedelta(seconds=seen_within)
        heartbeat = func.coalesce(Service.last_seen_up, Service.updated_at, Service.created_at)
        statement = statement.where(heartbeat.between(now - window, now + window))
    if forced_down is not None:
        statement = statement.where(Service.forced_down == forced_down)
    return sorted(session.scalars(statement))


@_reader
def service_get_minimum_version(
    session: Session, context: Any, binaries: Iterable[str]
) -> dict[str, int]:
    """Return {binary: lowest version} over live services of *binaries*.

    Forced-down services are ignored, as in Nova (they are known to be dead). A binary
    with no such service is absent from the result.
    """
    statement = (
        select(Service.binary, func.min(Service.version))
        .where(
            Service.binary.in_(list(binaries)),
            Service.deleted == 0,
            Service.forced_down == false(),
        )
        .group_by(Service.binary)
    )
    return {binary: int(version) for binary, version in session.execute(statement)}


@_one_statement_writer
def service_update(
    bind: OneStatement, context: Any, service_id: int, values: Mapping[str, Any]
) -> Service:
    """Update a service and return it; ServiceNotFound if there is none.

    When *values* carries a ``report_count`` greater than the stored one, the same
    UPDATE stamps ``last_seen_up`` with the current time (unless *values* sets it);
    otherwise ``last_seen_up`` is left alone. One statement where the database returns
    the row (every membership report of every service comes here).
    """
    table = Service.__table__
    assignments: list[tuple[Any, Any]] = []
    if "report_count" in values and "last_seen_up" not in values:
        # First in the SET list: MariaDB evaluates assignments left to right, so this
        # must compare against the report_count stored before this UPDATE.
        assignments.append(
            (
                table.c.last_seen_up,
                case(
                    (table.c.report_count < values["report_count"], timeutils.utcnow()),
                    else_=table.c.last_seen_up,
                ),
            )
        )
    assignments.extend((getattr(Service, name), value) for name, value in values.items())
    if "updated_at" not in values:
        assignments.append((table.c.updated_at, timeutils.utcnow()))
    key = table.c.id == service_id
    statement = update(table).where(key, *_visible(context, Service)).ordered_values(*assignments)
    row = _updated_row(bind.connection(), table, statement, key)
    if row is None:
        raise exception.ServiceNotFound(service_id=service_id)
    return _detached(Service, row._mapping)


@_writer
def service_destroy(session: Session, context: Any, service_id: int) -> None:
    """Soft-delete a service; for nubis-compute also its host's compute nodes."""
    service = _service_get(session, context, service_id)
    _soft_delete_rows(session, Service, [Service.id == service_id])
    if service.binary == binaries.COMPUTE:
        _soft_delete_rows(
            session,
            ComputeNode,
            [or_(ComputeNode.service_id == service_id, ComputeNode.host == service.host)],
        )
