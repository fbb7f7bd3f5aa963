"""The nubis database API: every read and write the objects layer makes.

Contract of every public function here:

* it takes the request context first and runs as exactly one transaction, retried as a
  whole on transient errors (:mod:`nubis.core.db.retry`);
* it returns :mod:`nubis.core.db.models` instances, detached from any session with all
  columns loaded, or raises the specific :class:`~nubis.core.exception.NotFound`
  subclass (a duplicate raises the matching ``...Exists`` exception);
* soft-deleted rows are seen according to ``context.read_deleted``: ``'no'`` hides
  them, ``'yes'`` shows them too, ``'only'`` shows only them. Updates and deletes act
  on the rows a read with the same context would see;
* ``values`` dicts are keyed by column name and stored as given (JSON columns take JSON
  text). ``updated_at`` is set on every update unless ``values`` sets it.

Once :func:`block_db_access` has been called (nubis-compute does it), every function
raises :class:`~nubis.core.exception.DBNotAllowed`; the guard sits in
:mod:`nubis.core.db.engine`, the only way to a connection, so it covers new functions
too.
"""

from __future__ import annotations

import datetime
import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

from oslo_utils import timeutils
from sqlalchemy import ColumnElement, Select, and_, case, delete, false, func, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import InstrumentedAttribute, Session

from nubis.core import exception
from nubis.core.db import engine, errors, guard, retry
from nubis.core.db.models import (
    Base,
    ComputeNode,
    Flavor,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
    Service,
    SoftDeleteMixin,
)

COMPUTE_BINARY = "nubis-compute"
"""Destroying a service of this binary also soft-deletes its host's compute nodes."""

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

TASK_STATE_DELETING = "deleting"

P = ParamSpec("P")
R = TypeVar("R")
ModelT = TypeVar("ModelT", bound=Base)


def block_db_access(binary: str) -> None:
    """Make every database access in this process raise DBNotAllowed naming *binary*."""
    guard.block(binary)


def unblock_db_access() -> None:
    """Lift :func:`block_db_access` (tests)."""
    guard.unblock()


def _api_function(
    *, writer: bool
) -> Callable[[Callable[Concatenate[Session, P], R]], Callable[P, R]]:
    """Make ``f(session, context, ...)`` the retried one-transaction ``f(context, ...)``."""

    def decorate(function: Callable[Concatenate[Session, P], R]) -> Callable[P, R]:
        caller = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def in_transaction(*args: P.args, **kwargs: P.kwargs) -> R:
            with engine.transaction(caller, writer=writer) as session:
                return function(session, *args, **kwargs)

        signature = inspect.signature(function)
        in_transaction.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=list(signature.parameters.values())[1:]
        )
        return retry.retry_on_transient(in_transaction)

    return decorate


_reader = _api_function(writer=False)
_writer = _api_function(writer=True)


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


@functools.cache
def _update_returning_row(table: Any) -> Any:
    """``UPDATE <table> ... RETURNING <every column>``, built once per table: coercing
    thirty columns on every call was the largest cost of a hot-path update."""
    return update(table).returning(*table.columns)


def _detached(model: type[ModelT], values: Mapping[Any, Any]) -> ModelT:
    """A detached *model* instance holding *values*, without per-attribute ORM events
    (the row came straight from the database; nothing is pending)."""
    instance: ModelT = model._sa_class_manager.new_instance()
    instance.__dict__.update(values)
    return instance


def _update_one(
    session: Session,
    context: Any,
    model: type[ModelT],
    key: Any,
    values: Mapping[str, Any],
) -> ModelT | None:
    """UPDATE the visible row matching *key* and return it as it is now (None: no row).

    Where the database can (SQLite, PostgreSQL) the row comes back from the UPDATE
    itself (RETURNING); elsewhere (MariaDB) a SELECT in the same transaction reads it.
    The statement is plain Core on the table: hot paths (state reports, resource
    audits) should not pay for the ORM's bulk-update machinery.
    """
    if not session.get_bind().dialect.update_returning:
        if not _update_rows(session, context, model, [key], values):
            return None
        return _reloaded(session, select(model).where(key))
    values = dict(values)
    values.setdefault("updated_at", timeutils.utcnow())
    base_statement = _update_returning_row(model.__table__)
    statement = base_statement.where(*_visible(context, model), key).values(values)
    row = session.connection().execute(statement).one_or_none()
    if row is None:
        return None
    return _detached(model, row._mapping)


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


# ----------------------------------------------------------------------------- services


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


@_writer
def service_update(
    session: Session, context: Any, service_id: int, values: Mapping[str, Any]
) -> Service:
    """Update a service and return it; ServiceNotFound if there is none.

    When *values* carries a ``report_count`` greater than the stored one, the same
    UPDATE stamps ``last_seen_up`` with the current time (unless *values* sets it);
    otherwise ``last_seen_up`` is left alone.
    """
    assignments: list[tuple[Any, Any]] = []
    if "report_count" in values and "last_seen_up" not in values:
        # First in the SET list: MariaDB evaluates assignments left to right, so this
        # must compare against the report_count stored before this UPDATE.
        assignments.append(
            (
                Service.last_seen_up,
                case(
                    (Service.report_count < values["report_count"], timeutils.utcnow()),
                    else_=Service.last_seen_up,
                ),
            )
        )
    assignments.extend((getattr(Service, name), value) for name, value in values.items())
    if "updated_at" not in values:
        assignments.append((Service.updated_at, timeutils.utcnow()))
    statement = (
        update(Service)
        .where(Service.id == service_id, *_visible(context, Service))
        .ordered_values(*assignments)
        .execution_options(synchronize_session=False)
    )
    if session.get_bind().dialect.update_returning:
        service = session.scalars(statement.returning(Service)).one_or_none()
        if service is None:
            raise exception.ServiceNotFound(service_id=service_id)
        return service
    if not session.execute(statement).rowcount:  # type: ignore[attr-defined]
        raise exception.ServiceNotFound(service_id=service_id)
    return _reloaded(session, select(Service).where(Service.id == service_id))


@_writer
def service_destroy(session: Session, context: Any, service_id: int) -> None:
    """Soft-delete a service; for nubis-compute also its host's compute nodes."""
    service = _service_get(session, context, service_id)
    _soft_delete_rows(session, Service, [Service.id == service_id])
    if service.binary == COMPUTE_BINARY:
        _soft_delete_rows(
            session,
            ComputeNode,
            [or_(ComputeNode.service_id == service_id, ComputeNode.host == service.host)],
        )


# ------------------------------------------------------------------------ compute nodes


def _compute_node_get(session: Session, context: Any, compute_id: int) -> ComputeNode:
    node = _first(session, _query(context, ComputeNode, ComputeNode.id == compute_id))
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_id)
    return node


@_writer
def compute_node_create(session: Session, context: Any, values: Mapping[str, Any]) -> ComputeNode:
    """Create a compute node and return it.

    A soft-deleted node with the same ``uuid`` is brought back (updated with *values*)
    rather than duplicated, as in Nova: a driver reports the same node uuid again after
    its node was deleted as an orphan. ComputeNodeExists if a live node has the uuid or
    the host+hypervisor_hostname.
    """

    def duplicate() -> Exception:
        return exception.ComputeNodeExists(
            host=values.get("host"),
            nodename=values.get("hypervisor_hostname"),
            uuid=values.get("uuid"),
        )

    if values.get("uuid") is not None:
        deleted = _first(
            session,
            select(ComputeNode).where(ComputeNode.uuid == values["uuid"], ComputeNode.deleted != 0),
        )
        if deleted is not None:
            for name, value in values.items():
                setattr(deleted, name, value)
            deleted.deleted = 0
            deleted.deleted_at = None
            return _add(session, deleted, duplicate)
    return _add(session, ComputeNode(**values), duplicate)


@_reader
def compute_node_get(session: Session, context: Any, compute_id: int) -> ComputeNode:
    """Return the compute node with id *compute_id*, or raise ComputeNodeNotFound."""
    return _compute_node_get(session, context, compute_id)


@_reader
def compute_node_get_by_uuid(session: Session, context: Any, compute_uuid: str) -> ComputeNode:
    """Return the compute node with *compute_uuid*, or raise ComputeNodeNotFound."""
    node = _first(session, _query(context, ComputeNode, ComputeNode.uuid == compute_uuid))
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_uuid)
    return node


@_reader
def compute_node_get_by_host_and_nodename(
    session: Session, context: Any, host: str, nodename: str
) -> ComputeNode:
    """Return *host*'s node *nodename*, or raise ComputeHostNodeNotFound."""
    node = _first(
        session,
        _query(
            context,
            ComputeNode,
            ComputeNode.host == host,
            ComputeNode.hypervisor_hostname == nodename,
        ),
    )
    if node is None:
        raise exception.ComputeHostNodeNotFound(host=host, nodename=nodename)
    return node


@_reader
def compute_node_get_all(session: Session, context: Any) -> list[ComputeNode]:
    """Return every compute node."""
    return _all(session, _query(context, ComputeNode).order_by(ComputeNode.id))


@_reader
def compute_node_get_all_by_host(session: Session, context: Any, host: str) -> list[ComputeNode]:
    """Return *host*'s compute nodes; ComputeHostNotFound if it has none (as in Nova)."""
    nodes = _all(
        session, _query(context, ComputeNode, ComputeNode.host == host).order_by(ComputeNode.id)
    )
    if not nodes:
        raise exception.ComputeHostNotFound(host=host)
    return nodes


@_writer
def compute_node_update(
    session: Session, context: Any, compute_id: int, values: Mapping[str, Any]
) -> ComputeNode:
    """Update a compute node and return it; ComputeNodeNotFound if there is none."""
    node = _update_one(session, context, ComputeNode, ComputeNode.id == compute_id, values)
    if node is None:
        raise exception.ComputeNodeNotFound(compute_id=compute_id)
    return node


@_writer
def compute_node_delete(session: Session, context: Any, compute_id: int) -> None:
    """Soft-delete a compute node; ComputeNodeNotFound if there is no live one."""
    if not _soft_delete_rows(session, ComputeNode, [ComputeNode.id == compute_id]):
        raise exception.ComputeNodeNotFound(compute_id=compute_id)


# ---------------------------------------------------------------------------- instances

INSTANCE_FILTERS = frozenset(column.key for column in Instance.__table__.columns) - {"deleted"}


def _instance_get_by_uuid(
    session: Session, context: Any, instance_uuid: str, *, for_update: bool = False
) -> Instance:
    statement = _query(context, Instance, Instance.uuid == instance_uuid)
    if for_update:
        statement = statement.with_for_update()
    instance = _first(session, statement)
    if instance is None:
        raise exception.InstanceNotFound(instance_id=instance_uuid)
    return instance


@_writer
def instance_create(session: Session, context: Any, values: Mapping[str, Any]) -> Instance:
    """Create an instance (a uuid is generated if *values* has none) and return it."""
    return _add(
        session,
        Instance(**values),
        lambda: exception.InstanceExists(instance_uuid=values.get("uuid")),
    )


@_reader
def instance_get_by_uuid(session: Session, context: Any, instance_uuid: str) -> Instance:
    """Return the instance with *instance_uuid*, or raise InstanceNotFound."""
    return _instance_get_by_uuid(session, context, instance_uuid)


@_reader
def instance_get_all_by_host(session: Session, context: Any, host: str) -> list[Instance]:
    """Return the instances on *host*."""
    return _all(session, _query(context, Instance, Instance.host == host).order_by(Instance.id))


@_reader
def instance_get_all_by_host_and_node(
    session: Session, context: Any, host: str, node: str
) -> list[Instance]:
    """Return the instances on *host*'s node *node*."""
    statement = _query(context, Instance, Instance.host == host, Instance.node == node)
    return _all(session, statement.order_by(Instance.id))


@_reader
def instance_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    marker: str | None = None,
) -> list[Instance]:
    """Return instances in creation order, one page of them with *limit* and *marker*.

    *filters* match columns exactly (a list, tuple or set value matches any of its
    members, None matches NULL); the extra filter ``deleted`` (bool) overrides the
    context's read_deleted. *marker* is the uuid of the last instance of the previous
    page (MarkerNotFound if no such instance, deleted or not, exists).
    """
    filters = dict(filters or {})
    read_deleted = None
    if "deleted" in filters:
        read_deleted = "only" if filters.pop("deleted") else "no"
    statement = _filtered(
        _query(context, Instance, read_deleted=read_deleted), Instance, filters, INSTANCE_FILTERS
    )
    if marker is not None:
        marker_id = session.scalar(select(Instance.id).where(Instance.uuid == marker))
        if marker_id is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(Instance.id > marker_id)
    statement = statement.order_by(Instance.id)
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


def _expected_states(states: Any) -> tuple[str | None, ...] | None:
    if states is None:
        return None
    if isinstance(states, list | tuple | set | frozenset):
        return tuple(states)
    return (states,)


def _state_in(column: InstrumentedAttribute[Any], states: tuple[str | None, ...]) -> Any:
    clauses: list[ColumnElement[bool]] = []
    named = [state for state in states if state is not None]
    if named:
        clauses.append(column.in_(named))
    if None in states:
        clauses.append(column.is_(None))
    return or_(*clauses) if clauses else false()


@_writer
def instance_update_and_get_original(
    session: Session,
    context: Any,
    instance_uuid: str,
    values: Mapping[str, Any],
    expected_task_state: Any = None,
    expected_vm_state: Any = None,
) -> tuple[Instance, Instance]:
    """Update an instance if it is in the expected state; return (before, after).

    The compare-and-swap is one UPDATE: its WHERE clause requires ``task_state`` to be
    one of *expected_task_state* and ``vm_state`` one of *expected_vm_state* (each a
    value or a list of values, where None in a list means "no state"; None itself
    means "don't check"). When it matches no row, this raises
    UnexpectedDeletingTaskStateError if the instance is being deleted,
    UnexpectedTaskStateError or UnexpectedVMStateError naming the state found, or
    InstanceNotFound.
    """
    expected_task = _expected_states(expected_task_state)
    expected_vm = _expected_states(expected_vm_state)
    original = _instance_get_by_uuid(session, context, instance_uuid, for_update=True)
    session.expunge(original)
    conditions = [Instance.uuid == instance_uuid]
    if expected_task is not None:
        conditions.append(_state_in(Instance.task_state, expected_task))
    if expected_vm is not None:
        conditions.append(_state_in(Instance.vm_state, expected_vm))
    if not _update_rows(session, context, Instance, conditions, values):
        actual = _instance_get_by_uuid(session, context, instance_uuid, for_update=True)
        _raise_unexpected_state(actual, expected_task, expected_vm)
    updated = _reloaded(session, select(Instance).where(Instance.uuid == instance_uuid))
    return original, updated


def _raise_unexpected_state(
    actual: Instance,
    expected_task: tuple[str | None, ...] | None,
    expected_vm: tuple[str | None, ...] | None,
) -> None:
    if (
        expected_vm is not None
        and actual.vm_state not in expected_vm
        and (expected_task is None or actual.task_state in expected_task)
    ):
        raise exception.UnexpectedVMStateError(
            instance_uuid=actual.uuid, expected=list(expected_vm), actual=actual.vm_state
        )
    error = (
        exception.UnexpectedDeletingTaskStateError
        if actual.task_state == TASK_STATE_DELETING
        else exception.UnexpectedTaskStateError
    )
    raise error(
        instance_uuid=actual.uuid,
        expected=list(expected_task) if expected_task is not None else None,
        actual=actual.task_state,
    )


@_writer
def instance_destroy(session: Session, context: Any, instance_uuid: str) -> Instance:
    """Soft-delete an instance with its faults and migrations; return the deleted row.

    Its actions stay, as the history of a deleted instance.
    """
    _instance_get_by_uuid(session, context, instance_uuid)
    _soft_delete_rows(session, Instance, [Instance.uuid == instance_uuid])
    _soft_delete_rows(session, InstanceFault, [InstanceFault.instance_uuid == instance_uuid])
    _soft_delete_rows(session, Migration, [Migration.instance_uuid == instance_uuid])
    return _reloaded(session, select(Instance).where(Instance.uuid == instance_uuid))


# --------------------------------------------------------------------------- migrations


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


@_writer
def migration_update(
    session: Session, context: Any, migration_id: int, values: Mapping[str, Any]
) -> Migration:
    """Update a migration and return it; MigrationNotFound if there is none."""
    migration = _update_one(session, context, Migration, Migration.id == migration_id, values)
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


# ------------------------------------------------------------------------------ flavors

FLAVOR_FILTERS = frozenset({"is_public", "disabled", "flavorid", "name"})


@_writer
def flavor_create(session: Session, context: Any, values: Mapping[str, Any]) -> Flavor:
    """Create a flavor; FlavorIdExists or FlavorExists (name) on a duplicate."""
    flavor = Flavor(**values)
    session.add(flavor)
    try:
        session.flush()
    except sa_exc.IntegrityError as error:
        if not errors.is_duplicate_entry(error):
            raise
        if "flavorid" in str(error.orig):
            raise exception.FlavorIdExists(flavor_id=values.get("flavorid")) from error
        raise exception.FlavorExists(name=values.get("name")) from error
    return flavor


@_reader
def flavor_get(session: Session, context: Any, flavor_id: int) -> Flavor:
    """Return the flavor with internal id *flavor_id*, or raise FlavorNotFound."""
    flavor = _first(session, select(Flavor).where(Flavor.id == flavor_id))
    if flavor is None:
        raise exception.FlavorNotFound(flavor_id=flavor_id)
    return flavor


@_reader
def flavor_get_by_flavor_id(session: Session, context: Any, flavorid: str) -> Flavor:
    """Return the flavor whose public ``flavorid`` is *flavorid*, or raise FlavorNotFound."""
    flavor = _first(session, select(Flavor).where(Flavor.flavorid == flavorid))
    if flavor is None:
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return flavor


@_reader
def flavor_get_by_name(session: Session, context: Any, name: str) -> Flavor:
    """Return the flavor named *name*, or raise FlavorNotFoundByName."""
    flavor = _first(session, select(Flavor).where(Flavor.name == name))
    if flavor is None:
        raise exception.FlavorNotFoundByName(flavor_name=name)
    return flavor


@_reader
def flavor_get_all(
    session: Session, context: Any, filters: Mapping[str, Any] | None = None
) -> list[Flavor]:
    """Return flavors in creation order, filtered by is_public, disabled, flavorid, name."""
    statement = _filtered(select(Flavor), Flavor, filters, FLAVOR_FILTERS)
    return _all(session, statement.order_by(Flavor.id))


@_writer
def flavor_destroy(session: Session, context: Any, flavorid: str) -> None:
    """Delete the flavor whose ``flavorid`` is *flavorid* (for real); FlavorNotFound."""
    result = session.execute(delete(Flavor).where(Flavor.flavorid == flavorid))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.FlavorNotFound(flavor_id=flavorid)


# ---------------------------------------------------------------------- instance actions

_ACTION_KEYS = ("instance_uuid", "request_id")


def _action_get_by_request_id(
    session: Session, context: Any, instance_uuid: str, request_id: str
) -> InstanceAction:
    statement = _query(
        context,
        InstanceAction,
        InstanceAction.instance_uuid == instance_uuid,
        InstanceAction.request_id == request_id,
    ).order_by(InstanceAction.created_at.desc(), InstanceAction.id.desc())
    action = _first(session, statement)
    if action is None:
        raise exception.InstanceActionNotFound(request_id=request_id, instance_uuid=instance_uuid)
    return action


@_writer
def action_start(session: Session, context: Any, values: Mapping[str, Any]) -> InstanceAction:
    """Record the start of an action (values: action, instance_uuid, request_id, ...)."""
    action = InstanceAction(**values)
    session.add(action)
    session.flush()
    return action


@_writer
def action_finish(session: Session, context: Any, values: Mapping[str, Any]) -> InstanceAction:
    """Record the end of the action *values* names by instance_uuid and request_id.

    The other values (finish_time, message) are stored on it. InstanceActionNotFound if
    there is no such action.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    for name, value in values.items():
        if name not in _ACTION_KEYS:
            setattr(action, name, value)
    session.flush()
    return action


@_reader
def action_get_by_request_id(
    session: Session, context: Any, instance_uuid: str, request_id: str
) -> InstanceAction:
    """Return the newest action of *request_id* on the instance; InstanceActionNotFound."""
    return _action_get_by_request_id(session, context, instance_uuid, request_id)


@_reader
def actions_get(session: Session, context: Any, instance_uuid: str) -> list[InstanceAction]:
    """Return the actions on an instance, newest first."""
    statement = _query(context, InstanceAction, InstanceAction.instance_uuid == instance_uuid)
    return _all(
        session, statement.order_by(InstanceAction.created_at.desc(), InstanceAction.id.desc())
    )


@_writer
def action_event_start(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceActionEvent:
    """Record the start of an event of the action named by instance_uuid + request_id.

    The other values (event, start_time, host, details) go on the event.
    InstanceActionNotFound if there is no such action.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    fields = {name: value for name, value in values.items() if name not in _ACTION_KEYS}
    event = InstanceActionEvent(action_id=action.id, **fields)
    session.add(event)
    session.flush()
    return event


@_writer
def action_event_finish(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceActionEvent:
    """Record the end of event ``values['event']`` of the action (instance_uuid + request_id).

    The other values (finish_time, result, traceback, details) go on the event; a
    result of ``Error`` also sets the action's message to ``Error``, as in Nova.
    InstanceActionNotFound / InstanceActionEventNotFound when either is missing.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    statement = _query(
        context,
        InstanceActionEvent,
        InstanceActionEvent.action_id == action.id,
        InstanceActionEvent.event == values["event"],
    ).order_by(InstanceActionEvent.id.desc())
    event = _first(session, statement)
    if event is None:
        raise exception.InstanceActionEventNotFound(action_id=action.id, event=values["event"])
    for name, value in values.items():
        if name not in _ACTION_KEYS:
            setattr(event, name, value)
    if str(values.get("result", "")).lower() == "error":
        action.message = "Error"
    session.flush()
    return event


@_reader
def action_events_get(session: Session, context: Any, action_id: int) -> list[InstanceActionEvent]:
    """Return the events of an action, newest first."""
    statement = _query(context, InstanceActionEvent, InstanceActionEvent.action_id == action_id)
    return _all(
        session,
        statement.order_by(InstanceActionEvent.created_at.desc(), InstanceActionEvent.id.desc()),
    )


# ------------------------------------------------------------------------------ faults


@_writer
def instance_fault_create(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceFault:
    """Record a fault (instance_uuid, code, message, details, host) and return it."""
    fault = InstanceFault(**values)
    session.add(fault)
    session.flush()
    return fault


@_reader
def instance_fault_get_by_instance_uuids(
    session: Session, context: Any, instance_uuids: Iterable[str], latest: bool = False
) -> dict[str, list[InstanceFault]]:
    """Return {instance uuid: its faults, newest first} with a key for every uuid asked.

    With ``latest=True`` each list holds at most the newest fault.
    """
    uuids = list(instance_uuids)
    faults: dict[str, list[InstanceFault]] = {uuid: [] for uuid in uuids}
    if not uuids:
        return faults
    statement = _query(context, InstanceFault, InstanceFault.instance_uuid.in_(uuids)).order_by(
        InstanceFault.created_at.desc(), InstanceFault.id.desc()
    )
    for fault in session.scalars(statement):
        found = faults[str(fault.instance_uuid)]
        if not latest or not found:
            found.append(fault)
    return faults
