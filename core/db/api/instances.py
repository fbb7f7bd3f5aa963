"""The ``instances`` table: create, read, list with keyset paging, update, destroy.

:func:`instance_get_all` filters, sorts (:data:`INSTANCE_SORT_KEYS`) and pages after a
marker instance; :func:`instance_update_and_get_original` is a compare-and-swap on
``task_state``/``vm_state`` that says which state it found when it fails;
:func:`instance_destroy` soft-deletes an instance with its faults and migrations and
deletes its tags and its server group membership.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from oslo_utils import timeutils
from sqlalchemy import ColumnElement, and_, delete, false, not_, or_, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

from nubis.core import exception
from nubis.core.db import regexp
from nubis.core.db.api import _keyset
from nubis.core.db.api._rows import (
    _add,
    _all,
    _filtered,
    _first_by,
    _query,
    _reloaded,
    _soft_delete_rows,
    _update_rows,
)
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import (
    Instance,
    InstanceFault,
    InstanceGroupMember,
    InstanceTag,
    Migration,
)

TASK_STATE_DELETING = "deleting"
"""The ``task_state`` of an instance being deleted (its compare-and-swap failures say so)."""
VM_STATE_SOFT_DELETED = "soft-delete"
"""The ``vm_state`` of a soft-deleted instance (the ``soft_deleted`` filter's)."""

INSTANCE_FILTERS = frozenset(column.key for column in Instance.__table__.columns) - {"deleted"}

#: The tag filters of :func:`instance_get_all` (Nova's names; 2.26 list parameters).
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _instance_get_by_uuid(
    session: Session, context: Any, instance_uuid: str, *, for_update: bool = False
) -> Instance:
    instance = _first_by(session, context, Instance, {"uuid": instance_uuid}, for_update=for_update)
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
    {
        "created_at",
        "updated_at",
        "launched_at",
        "display_name",
        "uuid",
        "vm_state",
        "task_state",
        "host",
        "node",
        "project_id",
        "id",
    }
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
    read_deleted; ``soft_deleted`` (bool, Nova's) False leaves out instances whose
    vm_state is ``soft-delete``, True with ``deleted`` True adds them to the deleted
    ones; ``display_name_regexp`` keeps names that a regular expression matches
    anywhere (:mod:`nubis.core.db.regexp`; InvalidRegexp for a pattern it refuses);
    ``changes_since`` (a datetime) keeps instances updated (or created) at or after it;
    ``active_during`` (a (start, end) pair of datetimes) keeps instances launched before
    *end* and not terminated (nor deleted) before *start*, as Nova's usage reports count;
    the tag filters (:data:`TAG_FILTERS`, each a list of tags; a string is one tag), as
    Nova's: ``tags`` keeps instances with every tag given, ``tags-any`` those with at
    least one of them, ``not-tags`` those that lack at least one of them (so not all),
    ``not-tags-any`` those with none of them.
    The order is *sort_keys* (from :data:`INSTANCE_SORT_KEYS`; default creation order)
    each ``asc`` or ``desc`` by *sort_dirs* (default ``asc``), then ``id``. *marker* is
    the uuid of the last instance of the previous page (MarkerNotFound if no such
    instance, deleted or not, exists); the next page starts right after it in this order.
    """
    filters = dict(filters or {})
    read_deleted = None
    if "deleted" in filters:
        read_deleted = "only" if filters.pop("deleted") else "no"
    soft_deleted = filters.pop("soft_deleted", None)
    soft_clause: ColumnElement[bool] | None = None
    if soft_deleted is False:
        soft_clause = or_(
            Instance.vm_state != VM_STATE_SOFT_DELETED, Instance.vm_state.is_(None)
        )
    elif soft_deleted and read_deleted == "only":
        read_deleted = "yes"
        soft_clause = or_(Instance.deleted != 0, Instance.vm_state == VM_STATE_SOFT_DELETED)
    name_pattern = filters.pop("display_name_regexp", None)
    since = filters.pop("changes_since", None)
    window = filters.pop("active_during", None)
    tag_filters = {name: filters.pop(name) for name in TAG_FILTERS if name in filters}
    statement = _filtered(
        _query(context, Instance, read_deleted=read_deleted), Instance, filters, INSTANCE_FILTERS
    )
    statement = statement.where(*_tag_clauses(tag_filters))
    if soft_clause is not None:
        statement = statement.where(soft_clause)
    if name_pattern:
        statement = statement.where(regexp.matches(Instance.display_name, name_pattern))
    if isinstance(since, str):  # it crossed the message bus as text
        since = timeutils.normalize_time(timeutils.parse_isotime(since))
    if since is not None:
        statement = statement.where(or_(Instance.updated_at >= since, Instance.created_at >= since))
    if window is not None:
        start, end = (
            timeutils.normalize_time(timeutils.parse_isotime(t)) if isinstance(t, str) else t
            for t in window
        )
        statement = statement.where(
            Instance.launched_at < end,
            or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
            or_(Instance.deleted_at.is_(None), Instance.deleted_at > start),
        )
    order = _sort_order(sort_keys, sort_dirs)
    if marker is not None:
        marker_row = session.scalars(select(Instance).where(Instance.uuid == marker)).first()
        if marker_row is None:
            raise exception.MarkerNotFound(marker=marker)
        statement = statement.where(_keyset.after(Instance, marker_row, order))
    statement = statement.order_by(*_keyset.order_by(Instance, order))
    if limit is not None:
        statement = statement.limit(limit)
    try:
        return _all(session, statement)
    except DBAPIError as error:
        if name_pattern and regexp.is_pattern_error(error):
            raise exception.InvalidRegexp(pattern=name_pattern, reason=str(error.orig)) from None
        raise


def _has_tag(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS a tag of the instance (correlated) matching *condition*."""
    return (
        select(InstanceTag.tag)
        .where(InstanceTag.instance_uuid == Instance.uuid, condition)
        .exists()
    )


def _tag_clauses(tag_filters: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """WHERE clauses of the tag filters of :func:`instance_get_all`."""
    clauses: list[ColumnElement[bool]] = []
    for name, value in tag_filters.items():
        tags = list(dict.fromkeys([value] if isinstance(value, str) else value))
        every = and_(*(_has_tag(InstanceTag.tag == tag) for tag in tags)) if tags else true()
        some = _has_tag(InstanceTag.tag.in_(tags)) if tags else false()
        clauses.append(
            {"tags": every, "tags-any": some, "not-tags": not_(every), "not-tags-any": not_(some)}[
                name
            ]
        )
    return clauses


def _sort_order(
    sort_keys: Sequence[str] | None, sort_dirs: Sequence[str] | None
) -> list[tuple[str, bool]]:
    """Return [(key, descending)], ending with id; InvalidSortKey for a bad key or dir."""
    keys = list(sort_keys or ["created_at"])
    dirs = list(sort_dirs or [])
    order: list[tuple[str, bool]] = []
    for index, key in enumerate(keys):
        if key not in INSTANCE_SORT_KEYS:
            raise exception.InvalidSortKey(key=key, allowed=", ".join(sorted(INSTANCE_SORT_KEYS)))
        direction = dirs[index] if index < len(dirs) else (dirs[-1] if dirs else "asc")
        if direction not in ("asc", "desc"):
            raise exception.InvalidSortKey(key=f"{key} {direction}", allowed="asc, desc")
        if key != "id":
            order.append((key, direction == "desc"))
    last_desc = order[-1][1] if order else False
    order.append(("id", last_desc))
    return order


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
    updated = _first_by(
        session, context, Instance, {"uuid": instance_uuid}, read_deleted="yes", reload=True
    )
    if updated is None:  # the UPDATE above matched it, in this transaction
        raise exception.InstanceNotFound(instance_id=instance_uuid)
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
    """Soft-delete an instance with its faults and migrations and delete its tags and
    its server group membership (they have no ``deleted`` column; Nova deletes them
    too); return the deleted row.

    Its actions stay, as the history of a deleted instance. The instance row is updated
    (so locked) before its tags are deleted: a concurrent tag change, which locks that
    row first, either commits before and its tags go, or finds the instance deleted.
    """
    _instance_get_by_uuid(session, context, instance_uuid)
    _soft_delete_rows(session, Instance, [Instance.uuid == instance_uuid])
    _soft_delete_rows(session, InstanceFault, [InstanceFault.instance_uuid == instance_uuid])
    _soft_delete_rows(session, Migration, [Migration.instance_uuid == instance_uuid])
    session.execute(delete(InstanceTag).where(InstanceTag.instance_uuid == instance_uuid))
    session.execute(
        delete(InstanceGroupMember).where(InstanceGroupMember.instance_uuid == instance_uuid)
    )
    return _reloaded(session, select(Instance).where(Instance.uuid == instance_uuid))
