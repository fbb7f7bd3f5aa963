"""The identity tables of the API service (revisions 0002, 0003, 0006): projects, users,
roles, role assignments.

Projects and users are found by id or by name; both are updated (renamed too) and deleted
(with their role assignments; no soft delete); a failed password check is counted
atomically; a role on a project is added, removed and listed; roles created through the
API are created, listed and deleted (with their assignments).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db import errors
from nubis.core.db.api._rows import _add, _all, _first, _update_one
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import (
    IdentityProject,
    IdentityRole,
    IdentityRoleAssignment,
    IdentityUser,
)


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
def identity_user_auth_failed(
    session: Session, context: Any, user_id: str, at: datetime.datetime
) -> IdentityUser:
    """Count one more failed password check of the user (``failed_auth_count + 1``, in
    the database, so concurrent failures all count), at *at*; return the user as it is
    now. IdentityUserNotFound."""
    user = _update_one(
        session,
        context,
        IdentityUser,
        IdentityUser.id == user_id,
        {"failed_auth_count": IdentityUser.failed_auth_count + 1, "failed_auth_at": at},
    )
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


def _rename_check(session: Session, model: Any, row_id: str, values: Mapping[str, Any]) -> bool:
    """Whether *values* renames the row to a name another row of *model* has."""
    if "name" not in values:
        return False
    other = _first(session, select(model).where(model.name == values["name"], model.id != row_id))
    return other is not None


def _update_named(session: Session, context: Any, model: Any, row_id: str, values: Any) -> Any:
    if _rename_check(session, model, row_id, values):
        return "duplicate"
    try:
        return _update_one(session, context, model, model.id == row_id, values)
    except sa_exc.IntegrityError as error:
        if errors.is_duplicate_entry(error):
            return "duplicate"
        raise


@_writer
def identity_project_update(
    session: Session, context: Any, project_id: str, values: Mapping[str, Any]
) -> IdentityProject:
    """Update a project (name, description, enabled, extra) and return it;
    IdentityProjectNotFound, IdentityProjectExists (the new name is taken)."""
    project = _update_named(session, context, IdentityProject, project_id, values)
    if project == "duplicate":
        raise exception.IdentityProjectExists(name=values["name"])
    if project is None:
        raise exception.IdentityProjectNotFound(project=project_id)
    return project


@_writer
def identity_project_delete(session: Session, context: Any, project_id: str) -> None:
    """Delete a project with its role assignments (for real), and forget it as the
    default project of its users; IdentityProjectNotFound."""
    session.execute(
        delete(IdentityRoleAssignment).where(IdentityRoleAssignment.project_id == project_id)
    )
    session.execute(
        update(IdentityUser)
        .where(IdentityUser.default_project_id == project_id)
        .values(default_project_id=None)
    )
    result = session.execute(delete(IdentityProject).where(IdentityProject.id == project_id))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise exception.IdentityProjectNotFound(project=project_id)


@_writer
def identity_user_rename_update(
    session: Session, context: Any, user_id: str, values: Mapping[str, Any]
) -> IdentityUser:
    """:func:`identity_user_update` that may also rename the user; IdentityUserExists
    when the new name is taken."""
    user = _update_named(session, context, IdentityUser, user_id, values)
    if user == "duplicate":
        raise exception.IdentityUserExists(name=values["name"])
    if user is None:
        raise exception.IdentityUserNotFound(user=user_id)
    return user


@_writer
def identity_role_create(session: Session, context: Any, values: Mapping[str, Any]) -> IdentityRole:
    """Create a role (values: id, name, description); IdentityRoleExists."""
    return _add(
        session, IdentityRole(**values), lambda: exception.IdentityRoleExists(name=values["name"])
    )


@_reader
def identity_role_get_all(session: Session, context: Any) -> list[IdentityRole]:
    """Return every role created through the API, by name."""
    return _all(session, select(IdentityRole).order_by(IdentityRole.name))


@_reader
def identity_roles_in_use(session: Session, context: Any) -> list[str]:
    """Return the names of the roles some assignment holds, sorted."""
    rows = session.execute(select(IdentityRoleAssignment.role).distinct())
    return sorted(str(row[0]) for row in rows)


@_writer
def identity_role_delete(session: Session, context: Any, name: str) -> bool:
    """Delete the role row *name* (if any) and every assignment of it; return whether
    either existed."""
    assignments = session.execute(
        delete(IdentityRoleAssignment).where(IdentityRoleAssignment.role == name)
    )
    role = session.execute(delete(IdentityRole).where(IdentityRole.name == name))
    return bool(assignments.rowcount or role.rowcount)  # type: ignore[attr-defined]
