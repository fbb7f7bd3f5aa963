"""Server groups (``instance_groups`` and ``instance_group_members``, revision 0012;
``/os-server-groups``), kept as Nova keeps them.

A group belongs to the project and user that created it and holds one policy
(:data:`POLICIES`) with its ``rules`` (JSON text, as stored). Its members are servers,
by uuid; a server is in one group at most (InstanceGroupMemberExists otherwise). Groups
are deleted for real, with their memberships.

Members are counted, listed and placed as live servers only: a membership has no
``deleted`` column, :func:`~.instances.instance_destroy` deletes a server's membership
in the same transaction as it soft-deletes the server (and archiving a server deletes
any left, :mod:`.archive`), and every read here joins the live instance rows, so a
membership whose server is gone is never seen.

A change of a group's members (:func:`instance_group_members_add`,
:func:`instance_group_members_remove`) and :func:`instance_group_delete` lock the
group's row first (``SELECT ... FOR UPDATE``; a SQLite writer holds the database's
write lock), so an add racing a delete either commits first (and its memberships go
with the group) or finds no group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oslo_utils import uuidutils
from sqlalchemy import case, delete, false, func, select
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _add, _all, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Instance, InstanceGroup, InstanceGroupMember

#: The policies a group may have (Nova's; the soft ones from microversion 2.15).
POLICIES: tuple[str, ...] = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")

_IN_CHUNK = 500
"""Group or instance uuids per ``IN (...)`` list."""


def _group(session: Session, group_uuid: str, *, lock: bool = False) -> InstanceGroup:
    statement = select(InstanceGroup).where(InstanceGroup.uuid == group_uuid)
    if lock:
        statement = statement.with_for_update()
    row = _first(session, statement)
    if row is None:
        raise exception.InstanceGroupNotFound(group_uuid=group_uuid)
    return row


def _live_members(group_ids: Iterable[int]) -> Any:
    """SELECT (group id, instance uuid, host) of the live servers in the groups."""
    return (
        select(InstanceGroupMember.group_id, InstanceGroupMember.instance_uuid, Instance.host)
        .join(Instance, Instance.uuid == InstanceGroupMember.instance_uuid)
        .where(InstanceGroupMember.group_id.in_(list(group_ids)), Instance.deleted == 0)
        .order_by(InstanceGroupMember.id)
    )


@_writer
def instance_group_create(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceGroup:
    """Create a group from *values* (``uuid`` made up when not given; ``name``,
    ``project_id``, ``user_id``, ``policy``, ``rules`` as JSON text); Invalid for a
    policy not in :data:`POLICIES`, InstanceGroupIdExists for a uuid in use."""
    values = dict(values)
    if values.get("policy") not in POLICIES:
        raise exception.Invalid(
            f"server group policy {values.get('policy')!r} is not one of {', '.join(POLICIES)}"
        )
    values.setdefault("uuid", uuidutils.generate_uuid())
    return _add(
        session,
        InstanceGroup(**values),
        lambda: exception.InstanceGroupIdExists(group_uuid=values["uuid"]),
    )


@_reader
def instance_group_get(session: Session, context: Any, group_uuid: str) -> InstanceGroup:
    """The group *group_uuid* (any project's: who may see it is the caller's
    business); InstanceGroupNotFound."""
    return _group(session, group_uuid)


@_reader
def instance_group_get_all(
    session: Session,
    context: Any,
    project_id: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[InstanceGroup]:
    """The groups of *project_id* (every project's when None), oldest first; with
    *offset* and *limit*, that slice of them."""
    statement = select(InstanceGroup)
    if project_id is not None:
        statement = statement.where(InstanceGroup.project_id == project_id)
    statement = statement.order_by(InstanceGroup.id).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return _all(session, statement)


@_reader
def instance_group_get_by_instance(
    session: Session, context: Any, instance_uuid: str
) -> InstanceGroup | None:
    """The group the server *instance_uuid* is in, None when it is in none."""
    statement = select(InstanceGroup).join(
        InstanceGroupMember, InstanceGroupMember.group_id == InstanceGroup.id
    )
    return _first(session, statement.where(InstanceGroupMember.instance_uuid == instance_uuid))


@_writer
def instance_group_delete(session: Session, context: Any, group_uuid: str) -> None:
    """Delete the group and its memberships (its servers stay); InstanceGroupNotFound."""
    row = _group(session, group_uuid, lock=True)
    session.execute(delete(InstanceGroupMember).where(InstanceGroupMember.group_id == row.id))
    session.execute(delete(InstanceGroup).where(InstanceGroup.id == row.id))


@_reader
def instance_group_members_get(
    session: Session, context: Any, group_uuids: Iterable[str]
) -> dict[str, list[str]]:
    """``{group uuid: uuids of its live servers, in the order they joined}`` with a key
    for every uuid asked (unknown groups: an empty list), one query per 500 groups."""
    uuids = list(dict.fromkeys(group_uuids))
    members: dict[str, list[str]] = {uuid: [] for uuid in uuids}
    for start in range(0, len(uuids), _IN_CHUNK):
        chunk = uuids[start : start + _IN_CHUNK]
        rows = session.execute(
            select(InstanceGroup.id, InstanceGroup.uuid).where(InstanceGroup.uuid.in_(chunk))
        )
        ids = {group_id: uuid for group_id, uuid in rows}
        for group_id, instance_uuid, _host in session.execute(_live_members(ids)):
            members[ids[group_id]].append(instance_uuid)
    return members


@_writer
def instance_group_members_add(
    session: Session, context: Any, group_uuid: str, instance_uuids: Iterable[str]
) -> list[str]:
    """Put the servers *instance_uuids* in the group; return those added (a server
    already in this group is not added again). InstanceGroupNotFound;
    InstanceGroupMemberExists when one of them is in another group (nothing is
    added then). Whether the servers exist is not checked (a create adds them as it
    records them)."""
    row = _group(session, group_uuid, lock=True)
    wanted = list(dict.fromkeys(instance_uuids))
    present: dict[str, int] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        statement = select(InstanceGroupMember.instance_uuid, InstanceGroupMember.group_id).where(
            InstanceGroupMember.instance_uuid.in_(wanted[start : start + _IN_CHUNK])
        )
        present.update((uuid, group_id) for uuid, group_id in session.execute(statement))
    for instance_uuid, group_id in present.items():
        if group_id != row.id:
            raise exception.InstanceGroupMemberExists(instance_uuid=instance_uuid)
    added = [uuid for uuid in wanted if uuid not in present]
    for instance_uuid in added:
        _add(
            session,
            InstanceGroupMember(group_id=row.id, instance_uuid=instance_uuid),
            lambda uuid=instance_uuid: exception.InstanceGroupMemberExists(instance_uuid=uuid),
        )
    return added


@_writer
def instance_group_members_remove(
    session: Session, context: Any, group_uuid: str, instance_uuids: Iterable[str]
) -> int:
    """Take the servers *instance_uuids* out of the group; return how many were in it.
    InstanceGroupNotFound."""
    row = _group(session, group_uuid, lock=True)
    wanted = list(dict.fromkeys(instance_uuids))
    removed = 0
    for start in range(0, len(wanted), _IN_CHUNK):
        removed += session.execute(
            delete(InstanceGroupMember).where(
                InstanceGroupMember.group_id == row.id,
                InstanceGroupMember.instance_uuid.in_(wanted[start : start + _IN_CHUNK]),
            )
        ).rowcount  # type: ignore[attr-defined]
    return removed


@_reader
def instance_group_hosts(
    session: Session, context: Any, group_uuid: str, exclude: Iterable[str] = ()
) -> list[str]:
    """The hosts of the group's live servers that have one, one entry per server (a
    host appears as often as the group has servers there), sorted; the servers in
    *exclude* do not count. InstanceGroupNotFound."""
    row = _group(session, group_uuid)
    skip = set(exclude)
    return sorted(
        host
        for _group_id, instance_uuid, host in session.execute(_live_members([row.id]))
        if host and instance_uuid not in skip
    )


@_reader
def instance_group_unplaced_count(
    session: Session, context: Any, group_uuid: str, exclude: Iterable[str] = ()
) -> int:
    """How many of the group's live servers wait for a host (``building`` with none
    recorded yet: being scheduled), not counting those in *exclude*.
    InstanceGroupNotFound."""
    row = _group(session, group_uuid)
    statement = (
        select(InstanceGroupMember.instance_uuid)
        .join(Instance, Instance.uuid == InstanceGroupMember.instance_uuid)
        .where(
            InstanceGroupMember.group_id == row.id,
            Instance.deleted == 0,
            Instance.host.is_(None),
            Instance.vm_state == "building",
        )
    )
    skip = set(exclude)
    return sum(1 for instance_uuid in session.scalars(statement) if instance_uuid not in skip)


@_reader
def instance_group_count(
    session: Session, context: Any, project_id: str, user_id: str | None = None
) -> dict[str, int]:
    """How many groups *project_id* has and, of those, *user_id* created:
    ``{"project": n, "user": m}`` (``user`` 0 without *user_id*), in one query."""
    mine = InstanceGroup.user_id == user_id if user_id is not None else false()
    statement = select(
        func.count(InstanceGroup.id), func.coalesce(func.sum(case((mine, 1), else_=0)), 0)
    )
    total, own = session.execute(statement.where(InstanceGroup.project_id == project_id)).one()
    return {"project": int(total or 0), "user": int(own or 0)}


@_reader
def instance_group_member_count_by_user(
    session: Session, context: Any, group_uuid: str, user_id: str
) -> int:
    """How many of the group's live servers *user_id* owns (what the
    ``server_group_members`` quota counts); InstanceGroupNotFound."""
    row = _group(session, group_uuid)
    statement = (
        select(func.count(InstanceGroupMember.id))
        .join(Instance, Instance.uuid == InstanceGroupMember.instance_uuid)
        .where(
            InstanceGroupMember.group_id == row.id,
            Instance.deleted == 0,
            Instance.user_id == user_id,
        )
    )
    return int(session.scalar(statement) or 0)
