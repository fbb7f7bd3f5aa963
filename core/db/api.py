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

import contextlib
import datetime
import functools
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from oslo_utils import timeutils
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ClauseElement

from nubis.core import compute, exception
from nubis.core.db import engine, errors, guard, retry
from nubis.core.db.models import (
    Base,
    ComputeNode,
    Flavor,
    IdentityProject,
    IdentityRoleAssignment,
    IdentityUser,
    Image,
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    Migration,
    Service,
    SoftDeleteMixin,
)

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
BindT = TypeVar("BindT", Session, Connection)


def block_db_access(binary: str) -> None:
    """Make every database access in this process raise DBNotAllowed naming *binary*."""
    guard.block(binary)


def unblock_db_access() -> None:
    """Lift :func:`block_db_access` (tests)."""
    guard.unblock()


def _api_function(
    begin: Callable[..., contextlib.AbstractContextManager[BindT]], *, writer: bool
) -> Callable[[Callable[Concatenate[BindT, P], R]], Callable[P, R]]:
    """Make ``f(bind, context, ...)`` the retried one-transaction ``f(context, ...)``.

    *begin* opens the transaction: :func:`engine.transaction` hands the function a
    Session, :func:`engine.connection` a Core connection (hot paths).
    """

    def decorate(function: Callable[Concatenate[BindT, P], R]) -> Callable[P, R]:
        caller = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def in_transaction(*args: P.args, **kwargs: P.kwargs) -> R:
            with begin(caller, writer=writer) as bind:
                return function(bind, *args, **kwargs)

        signature = inspect.signature(function)
        in_transaction.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=list(signature.parameters.values())[1:]
        )
        return retry.retry_on_transient(in_transaction)

    return decorate


_reader = _api_function(engine.transaction, writer=False)
_writer = _api_function(engine.transaction, writer=True)
_core_writer = _api_function(engine.connection, writer=True)


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
    bind: Session | Connection,
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
    function's Session or Core connection; the statements are plain Core on the table
    either way.
    """
    connection = bind.connection() if isinstance(bind, Session) else bind
    values = dict(values)
    values.setdefault("updated_at", timeutils.utcnow())
    returning = connection.dialect.update_returning
    table: Table = model.__table__
    if isinstance(key, Mapping) and len(key) == 1 and _bindable(table, values):
        ((key_column, key_value),) = key.items()
        read_deleted = _read_deleted(context) if issubclass(model, SoftDeleteMixin) else None
        statement, reread = _keyed_update(
            table, key_column, frozenset(values), read_deleted, returning
        )
        values[_KEY_PARAM] = key_value
        result = connection.execute(statement, values)
        if reread is None:
            row = result.one_or_none()
        else:
            found = result.rowcount
            row = connection.execute(reread, {_KEY_PARAM: key_value}).one() if found else None
    else:
        if isinstance(key, Mapping):
            key = and_(*(table.c[name] == value for name, value in key.items()))
        update_statement = update(table).where(*_visible(context, model), key).values(values)
        if returning:
            row = connection.execute(update_statement.returning(*table.columns)).one_or_none()
        elif connection.execute(update_statement).rowcount:
            row = connection.execute(select(table).where(key)).one()
        else:
            row = None
    return None if row is None else _detached(model, row._mapping)


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
    if service.binary == compute.BINARY:
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


@_core_writer
def compute_node_update(
    connection: Connection, context: Any, compute_id: int, values: Mapping[str, Any]
) -> ComputeNode:
    """Update a compute node and return it; ComputeNodeNotFound if there is none."""
    node = _update_one(connection, context, ComputeNode, {"id": compute_id}, values)
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


#: Columns instances may be sorted by (``sort_keys``); ``id`` always ends the order.
INSTANCE_SORT_KEYS = frozenset(
    {"created_at", "updated_at", "launched_at", "display_name", "uuid", "vm_state",
     "task_state", "host", "node", "project_id", "id"}
)


@_reader
def instance_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    marker: str | None = None,
    sort_keys: Sequence[str] | None = None,
    sort_dirs: Sequence[str] | None = None,
) -> list[Instance]:
    """Return instances in order, one page of them with *limit* and *marker*.

    *filters* match columns exactly (a list, tuple or set value matches any of its
    members, None matches NULL), plus: ``deleted`` (bool) overrides the context's
    read_deleted; ``display_name_contains`` matches a substring of the name;
    ``changes_since`` (a datetime) keeps instances updated (or created) at or after it.
    The order is *sort_keys* (from :data:`INSTANCE_SORT_KEYS`; default creation order)
    each ``asc`` or ``desc`` by *sort_dirs* (default ``asc``), then ``id``. *marker* is
    the uuid of the last instance of the previous page (MarkerNotFound if no such
    instance, deleted or not, exists); the next page starts right after it in this order.
    """
    filters = dict(filters or {})
    read_deleted = None
    if "deleted" in filters:
        read_deleted = "only" if filters.pop("deleted") else "no"
    contains = filters.pop("display_name_contains", None)
    since = filters.pop("changes_since", None)
    statement = _filtered(
        _query(context, Instance, read_deleted=read_deleted), Instance, filters, INSTANCE_FILTERS
    )
    if contains:
        escaped = contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Instance.display_name.like(f"%{escaped}%", escape="\\"))
    if isinstance(since, str):  # it crossed the message bus as text
        since = timeutils.normalize_time(timeutils.parse_isotime(since))
    if since is not None:
        statement = statement.where(
            or_(Instance.updated_at >= since, Instance.created_at >= since)
        )
    order = _sort_order(sort_keys, sort_dirs)
    if marker is not None:
        marker_row = session.scalars(select(Instance).where(Instance.uuid == marker)).first()
        if marker_row is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(_after(marker_row, order))
    statement = statement.order_by(
        *(_sortable(key).desc() if desc else _sortable(key).asc() for key, desc in order)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


def _sort_order(
    sort_keys: Sequence[str] | None, sort_dirs: Sequence[str] | None
) -> list[tuple[str, bool]]:
    """Return [(key, descending)], ending with id; InvalidSortKey for a bad key or dir."""
    keys = list(sort_keys or ["created_at"])
    dirs = list(sort_dirs or [])
    order: list[tuple[str, bool]] = []
    for index, key in enumerate(keys):
        if key not in INSTANCE_SORT_KEYS:
            raise exception.InvalidSortKey(
                key=key, allowed=", ".join(sorted(INSTANCE_SORT_KEYS))
            )
        direction = dirs[index] if index < len(dirs) else (dirs[-1] if dirs else "asc")
        if direction not in ("asc", "desc"):
            raise exception.InvalidSortKey(key=f"{key} {direction}", allowed="asc, desc")
        if key != "id":
            order.append((key, direction == "desc"))
    last_desc = order[-1][1] if order else False
    order.append(("id", last_desc))
    return order


_EPOCH = datetime.datetime(1970, 1, 1)


def _sortable(key: str) -> Any:
    """The column of *key*, with NULLs mapped to the lowest value (so keysets compare)."""
    column = getattr(Instance, key)
    if key == "id":
        return column
    if key in ("created_at", "updated_at", "launched_at"):
        return func.coalesce(column, _EPOCH)
    return func.coalesce(column, "")


def _after(marker_row: Instance, order: list[tuple[str, bool]]) -> Any:
    """The keyset condition "comes after *marker_row* in *order*"."""
    clauses = []
    for index, (key, desc) in enumerate(order):
        equal = [
            _sortable(k) == _marker_value(marker_row, k) for k, _ in order[:index]
        ]
        value = _marker_value(marker_row, key)
        step = _sortable(key) < value if desc else _sortable(key) > value
        clauses.append(and_(*equal, step))
    return or_(*clauses)


def _marker_value(row: Instance, key: str) -> Any:
    value = getattr(row, key)
    if value is None:
        return _EPOCH if key in ("created_at", "updated_at", "launched_at") else ""
    return value


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


@_core_writer
def migration_update(
    connection: Connection, context: Any, migration_id: int, values: Mapping[str, Any]
) -> Migration:
    """Update a migration and return it; MigrationNotFound if there is none."""
    migration = _update_one(connection, context, Migration, {"id": migration_id}, values)
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
    {"instance_uuid", "status", "migration_type", "source_compute", "dest_compute",
     "source_node", "dest_node", "project_id", "user_id", "hidden"}
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


# ------------------------------------------------------------- compute nodes (scheduler)


@_reader
def compute_node_get_updated_since(
    session: Session, context: Any, since: datetime.datetime | None
) -> list[ComputeNode]:
    """Return the compute nodes that changed at or after *since*, for an incremental cache.

    With *since* None: every live node (a first, full read). Otherwise every node whose
    ``created_at``, ``updated_at`` or ``deleted_at`` is at or after *since*, **soft-deleted
    ones included** whatever ``context.read_deleted`` says (their ``deleted`` is
    non-zero), so that a cache learns about deletions too. Ordered by id.

    *since* is compared with timestamps written by the processes that wrote the rows;
    a caller should pass the newest timestamp it has seen minus some slack for clock
    skew between writers and for transactions that commit late, and expect to see some
    rows again.
    """
    if since is None:
        statement = _query(context, ComputeNode, read_deleted="no")
    else:
        statement = select(ComputeNode).where(
            or_(
                ComputeNode.updated_at >= since,
                ComputeNode.created_at >= since,
                ComputeNode.deleted_at >= since,
            )
        )
    return _all(session, statement.order_by(ComputeNode.id))


# ------------------------------------------------------------------ images and identity
# The API service's tables (revision 0002).

IMAGE_FILTERS = frozenset(
    {"uuid", "name", "status", "visibility", "owner", "disk_format", "container_format"}
)


@_writer
def image_create(session: Session, context: Any, values: Mapping[str, Any]) -> Image:
    """Create an image record (a uuid is generated if *values* has none); ImageExists
    when an image of that name exists."""
    return _add(session, Image(**values), lambda: exception.ImageExists(name=values["name"]))


@_reader
def image_get_by_uuid(session: Session, context: Any, image_uuid: str) -> Image:
    """Return the image with *image_uuid*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.uuid == image_uuid))
    if image is None:
        raise exception.ImageNotFound(image_id=image_uuid)
    return image


@_reader
def image_get_by_name(session: Session, context: Any, name: str) -> Image:
    """Return the image named *name*, or raise ImageNotFound."""
    image = _first(session, select(Image).where(Image.name == name))
    if image is None:
        raise exception.ImageNotFound(image_id=name)
    return image


@_reader
def image_get_all(
    session: Session,
    context: Any,
    filters: Mapping[str, Any] | None = None,
    limit: int | None = None,
    marker: str | None = None,
    visible_to: str | None = None,
) -> list[Image]:
    """Return images in creation order, one page with *limit* and *marker* (a uuid).

    *filters* match IMAGE_FILTERS exactly; *visible_to* (a project id) keeps public
    images and the ones that project owns. MarkerNotFound for an unknown marker.
    """
    statement = _filtered(select(Image), Image, filters, IMAGE_FILTERS)
    if visible_to is not None:
        statement = statement.where(or_(Image.visibility == "public", Image.owner == visible_to))
    if marker is not None:
        marker_id = session.scalar(select(Image.id).where(Image.uuid == marker))
        if marker_id is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(Image.id > marker_id)
    statement = statement.order_by(Image.id)
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


@_writer
def image_destroy(session: Session, context: Any, image_uuid: str) -> None:
    """Delete the image record (for real); ImageNotFound if there is none."""
    result = session.execute(delete(Image).where(Image.uuid == image_uuid))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.ImageNotFound(image_id=image_uuid)


def _by_id_or_name(session: Session, model: Any, id_or_name: str) -> Any:
    """The row of *model* whose id is *id_or_name*, else the one so named, else None."""
    return _first(
        session,
        select(model)
        .where(or_(model.id == id_or_name, model.name == id_or_name))
        .order_by(case((model.id == id_or_name, 0), else_=1)),
    )


@_writer
def identity_project_create(
    session: Session, context: Any, values: Mapping[str, Any]
) -> IdentityProject:
    """Create a project (values: id, name, description, enabled); IdentityProjectExists."""
    return _add(
        session,
        IdentityProject(**values),
        lambda: exception.IdentityProjectExists(name=values["name"]),
    )


@_reader
def identity_project_get(session: Session, context: Any, id_or_name: str) -> IdentityProject:
    """Return the project whose id or name is *id_or_name*; IdentityProjectNotFound."""
    project = _by_id_or_name(session, IdentityProject, id_or_name)
    if project is None:
        raise exception.IdentityProjectNotFound(project=id_or_name)
    return project


@_reader
def identity_project_get_all(session: Session, context: Any) -> list[IdentityProject]:
    """Return every project, by name."""
    return _all(session, select(IdentityProject).order_by(IdentityProject.name))


@_writer
def identity_user_create(session: Session, context: Any, values: Mapping[str, Any]) -> IdentityUser:
    """Create a user (values: id, name, password_hash, ...); IdentityUserExists."""
    return _add(
        session,
        IdentityUser(**values),
        lambda: exception.IdentityUserExists(name=values["name"]),
    )


@_reader
def identity_user_get(session: Session, context: Any, id_or_name: str) -> IdentityUser:
    """Return the user whose id or name is *id_or_name*; IdentityUserNotFound."""
    user = _by_id_or_name(session, IdentityUser, id_or_name)
    if user is None:
        raise exception.IdentityUserNotFound(user=id_or_name)
    return user


@_reader
def identity_user_get_all(session: Session, context: Any) -> list[IdentityUser]:
    """Return every user, by name."""
    return _all(session, select(IdentityUser).order_by(IdentityUser.name))


@_writer
def identity_user_update(
    session: Session, context: Any, user_id: str, values: Mapping[str, Any]
) -> IdentityUser:
    """Update a user (e.g. password_hash, enabled) and return it; IdentityUserNotFound."""
    user = _update_one(session, context, IdentityUser, IdentityUser.id == user_id, values)
    if user is None:
        raise exception.IdentityUserNotFound(user=user_id)
    return user


@_writer
def identity_user_delete(session: Session, context: Any, user_id: str) -> None:
    """Delete a user and its role assignments (for real); IdentityUserNotFound."""
    session.execute(delete(IdentityRoleAssignment).where(IdentityRoleAssignment.user_id == user_id))
    result = session.execute(delete(IdentityUser).where(IdentityUser.id == user_id))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.IdentityUserNotFound(user=user_id)


@_writer
def identity_role_assignment_add(
    session: Session, context: Any, user_id: str, project_id: str, role: str
) -> IdentityRoleAssignment:
    """Give *user_id* *role* on *project_id*; return the assignment (existing or new)."""
    statement = select(IdentityRoleAssignment).where(
        IdentityRoleAssignment.user_id == user_id,
        IdentityRoleAssignment.project_id == project_id,
        IdentityRoleAssignment.role == role,
    )
    found = _first(session, statement)
    if found is not None:
        return found
    assignment = IdentityRoleAssignment(user_id=user_id, project_id=project_id, role=role)
    session.add(assignment)
    session.flush()
    return assignment


@_writer
def identity_role_assignment_remove(
    session: Session, context: Any, user_id: str, project_id: str, role: str
) -> bool:
    """Take *role* on *project_id* from *user_id*; return whether it was held."""
    result = session.execute(
        delete(IdentityRoleAssignment).where(
            IdentityRoleAssignment.user_id == user_id,
            IdentityRoleAssignment.project_id == project_id,
            IdentityRoleAssignment.role == role,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@_reader
def identity_role_assignments_get(
    session: Session, context: Any, user_id: str | None = None, project_id: str | None = None
) -> list[IdentityRoleAssignment]:
    """Return the role assignments of *user_id* and/or on *project_id* (all if neither)."""
    statement = select(IdentityRoleAssignment)
    if user_id is not None:
        statement = statement.where(IdentityRoleAssignment.user_id == user_id)
    if project_id is not None:
        statement = statement.where(IdentityRoleAssignment.project_id == project_id)
    return _all(session, statement.order_by(IdentityRoleAssignment.id))
