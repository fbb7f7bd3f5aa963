"""Quota limits as stored (``quotas``, ``project_user_quotas``, ``quota_classes``) and
the usage counts quotas are checked against, counted from the live rows (Nova's
counting quotas: there are no reservations to keep in step).

A stored limit overrides the one below it (configured default < class ``default`` <
project < user); resolving them is :mod:`nubis.core.quota`'s business, not this layer's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, String, case, delete, false, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import Instance, ProjectUserQuota, Quota, QuotaClass


@_reader
def quota_get_overrides(
    session: Session,
    context: Any,
    project_id: str | None = None,
    user_id: str | None = None,
    class_name: str = "default",
) -> dict[str, dict[str, int]]:
    """The stored limits that override the configured defaults, read in one
    query: ``{"class": ..., "project": ..., "user": ...}``, each by resource (the
    class *class_name*'s, *project_id*'s own, *user_id*'s within that project; empty
    when not asked for)."""
    return _overrides(session, project_id, user_id, class_name)


@_reader
def quota_get_instance_limits_and_usage(
    session: Session, context: Any, project_id: str, user_id: str
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """What a server create's quota check reads, in one transaction (two queries):
    ``(quota_get_overrides(project_id, user_id), quota_usage_instances(project_id,
    user_id))``."""
    return (
        _overrides(session, project_id, user_id, "default"),
        _instance_usage(session, project_id, user_id),
    )


def _overrides(
    session: Session, project_id: str | None, user_id: str | None, class_name: str
) -> dict[str, dict[str, int]]:
    layers: list[Select[Any]] = [
        select(literal("class", String), QuotaClass.resource, QuotaClass.hard_limit).where(
            QuotaClass.class_name == class_name
        )
    ]
    if project_id is not None:
        layers.append(
            select(literal("project", String), Quota.resource, Quota.hard_limit).where(
                Quota.project_id == project_id
            )
        )
    if project_id is not None and user_id is not None:
        layers.append(
            select(
                literal("user", String), ProjectUserQuota.resource, ProjectUserQuota.hard_limit
            ).where(ProjectUserQuota.project_id == project_id, ProjectUserQuota.user_id == user_id)
        )
    found: dict[str, dict[str, int]] = {"class": {}, "project": {}, "user": {}}
    for layer, resource, limit in session.execute(union_all(*layers)):
        found[layer][resource] = limit
    return found


@_reader
def quota_get_user_limit_sums(
    session: Session, context: Any, project_id: str, exclude_user: str | None = None
) -> dict[str, int]:
    """Per resource, the sum of the project's users' own limits (not counting
    *exclude_user*'s): what a project limit may not go below."""
    statement = select(ProjectUserQuota.resource, func.sum(ProjectUserQuota.hard_limit)).where(
        ProjectUserQuota.project_id == project_id, ProjectUserQuota.hard_limit >= 0
    )
    if exclude_user is not None:
        statement = statement.where(ProjectUserQuota.user_id != exclude_user)
    rows = session.execute(statement.group_by(ProjectUserQuota.resource))
    return {resource: int(total or 0) for resource, total in rows}


def _upsert(session: Session, model: Any, keys: dict[str, str], limit: int) -> None:
    where = [getattr(model, name) == value for name, value in keys.items()]
    row = session.scalar(select(model).where(*where).with_for_update())
    if row is None:
        session.add(model(**keys, hard_limit=limit))
    else:
        row.hard_limit = limit
    session.flush()


@_writer
def quota_set(
    session: Session,
    context: Any,
    project_id: str,
    limits: dict[str, int],
    user_id: str | None = None,
) -> None:
    """Store the project's (or, with *user_id*, the user's) limits in *limits*, all in
    one transaction."""
    for resource, limit in limits.items():
        if user_id is None:
            keys = {"project_id": project_id, "resource": resource}
            _upsert(session, Quota, keys, limit)
        else:
            keys = {"project_id": project_id, "user_id": user_id, "resource": resource}
            _upsert(session, ProjectUserQuota, keys, limit)


@_writer
def quota_class_set(
    session: Session, context: Any, class_name: str, limits: dict[str, int]
) -> None:
    """Store the class's limits in *limits*, all in one transaction."""
    for resource, limit in limits.items():
        _upsert(session, QuotaClass, {"class_name": class_name, "resource": resource}, limit)


@_writer
def quota_destroy_all(
    session: Session, context: Any, project_id: str, user_id: str | None = None
) -> None:
    """Forget the project's own limits and its users' (or, with *user_id*, that user's
    only): the defaults apply again."""
    user_rows = delete(ProjectUserQuota).where(ProjectUserQuota.project_id == project_id)
    if user_id is not None:
        session.execute(user_rows.where(ProjectUserQuota.user_id == user_id))
        return
    session.execute(user_rows)
    session.execute(delete(Quota).where(Quota.project_id == project_id))


@_reader
def quota_usage_instances(
    session: Session, context: Any, project_id: str, user_id: str | None = None
) -> dict[str, dict[str, int]]:
    """``instances``, ``cores`` and ``ram`` in use by the project's live servers, and by
    *user_id*'s among them, in one query: ``{"project": {...}, "user": {...}}`` (user
    counts are zero without *user_id*). Every instance row not deleted counts, whatever
    its state, but a soft-deleted one (vm_state ``soft-delete``: Nova counts them out,
    and checks the quota again when one is restored)."""
    return _instance_usage(session, project_id, user_id)


def _instance_usage(
    session: Session, project_id: str, user_id: str | None
) -> dict[str, dict[str, int]]:
    mine = Instance.user_id == user_id if user_id is not None else false()
    count, cores, ram, my_count, my_cores, my_ram = session.execute(
        select(
            func.count(Instance.id),
            func.coalesce(func.sum(Instance.vcpus), 0),
            func.coalesce(func.sum(Instance.memory_mb), 0),
            func.coalesce(func.sum(case((mine, 1), else_=0)), 0),
            func.coalesce(func.sum(case((mine, Instance.vcpus), else_=0)), 0),
            func.coalesce(func.sum(case((mine, Instance.memory_mb), else_=0)), 0),
        ).where(
            Instance.deleted == 0,
            Instance.project_id == project_id,
            or_(Instance.vm_state != "soft-delete", Instance.vm_state.is_(None)),
        )
    ).one()
    return {
        "project": {"instances": int(count), "cores": int(cores), "ram": int(ram)},
        "user": {"instances": int(my_count), "cores": int(my_cores), "ram": int(my_ram)},
    }
