"""Managing the embedded identity service's projects, users, roles and role assignments
the way Keystone v3 does (the data side of ``/identity/v3``; the ``local`` auth plugin
serves it over HTTP and applies the policy).

Contract:

* there is one domain, ``default``; projects and users are looked up by **id** here
  (Keystone's URLs carry ids; clients fall back to listing by name);
* a role's id is its name; the default roles (:data:`DEFAULT_ROLES`) always exist, and
  so does any role an assignment holds (``nubis-manage user add-role`` gives any
  lower-case name); other roles are created with :meth:`IdentityAdmin.create_role`;
* attributes Keystone keeps without a column (``email``, ``description`` of users,
  ``tags`` of projects, anything else a client sends) live in the row's ``extra`` JSON
  object and come back as top-level attributes;
* a project that still has instances cannot be deleted
  (:class:`~nubis.core.exception.IdentityProjectInUse`, 409): Keystone would delete it
  and leave the servers to nobody; deleting a project deletes its role assignments;
* changing a user's password or disabling it revokes its tokens (as
  :class:`~nubis.core.api.identity.IdentityStore` does); a disabled or deleted project
  invalidates the tokens scoped to it.

Errors: the :mod:`nubis.core.exception` ``Identity*`` classes (404/409) and
:class:`~nubis.core.exception.Invalid` (400) naming the field.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.api import identity
from nubis.core.api.exception import Unauthorized
from nubis.core.db import api as db
from nubis.core.exception import IdentityProjectNotFound, IdentityUserNotFound

DEFAULT_ROLES = ("admin", "member", "reader")
DOMAIN_ID, DOMAIN_NAME = identity.DEFAULT_DOMAIN
_UNHASHABLE = ""  # the password hash of a user created without a password: never matches
TEXT_BYTES = 65535


@dataclasses.dataclass(frozen=True)
class Role:
    """A role as the API shows it (its id is its name)."""

    name: str
    description: str | None = None

    @property
    def id(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class Assignment:
    """A role held by a user on a project; *prior_role*: for an effective assignment
    implied by another role, that role."""

    user_id: str
    project_id: str
    role: str
    prior_role: str | None = None


def extra_of(row: Any) -> dict[str, Any]:
    """The ``extra`` attributes of a user or project row (an empty dict if none)."""
    try:
        value = json.loads(row.extra or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _fits(field: str, text: str | None) -> str | None:
    """*text*, if it fits a TEXT column (64 KiB of UTF-8); Invalid naming *field* if not."""
    if text is not None and len(text.encode("utf-8", "surrogatepass")) > TEXT_BYTES:
        raise exception.Invalid(
            message=f"Invalid input for field '{field}': at most {TEXT_BYTES} bytes of UTF-8"
        )
    return text


def _merge_extra(row: Any, changes: dict[str, Any]) -> str | None:
    """*row*'s extra with *changes* applied (a None value removes the attribute)."""
    extra = extra_of(row) if row is not None else {}
    for key, value in changes.items():
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
    text = json.dumps(extra, sort_keys=True) if extra else None
    return _fits("extra attributes (" + ", ".join(sorted(changes)) + ")", text)


class IdentityAdmin:
    """Keystone-style management over an :class:`~nubis.core.api.identity.IdentityStore`."""

    def __init__(self, store: identity.IdentityStore) -> None:
        self.store = store
        self.context = store.context

    # --- projects --------------------------------------------------------------------

    def project(self, project_id: str) -> Any:
        """The project with id *project_id* (not name); IdentityProjectNotFound."""
        row = self.store.project(project_id)
        if row.id != project_id:
            raise IdentityProjectNotFound(project=project_id)
        return row

    def projects(self, name: str | None = None, enabled: bool | None = None) -> list[Any]:
        """Every project, by name, optionally only the one so named / the (dis)abled."""
        return [
            row
            for row in self.store.projects()
            if (name is None or row.name == name) and (enabled is None or row.enabled == enabled)
        ]

    def create_project(
        self, name: str, description: str | None, enabled: bool, extra: dict[str, Any]
    ) -> Any:
        """Create a project; IdentityProjectExists if the name is taken."""
        identity.check_name("project", name)
        return db.identity_project_create(
            self.context,
            {
                "id": uuid.uuid4().hex,
                "name": name,
                "description": _fits("description", description),
                "enabled": enabled,
                "extra": _merge_extra(None, extra),
            },
        )

    def update_project(self, project_id: str, changes: dict[str, Any]) -> Any:
        """Apply *changes* (name, description, enabled; other keys go to extra)."""
        row = self.project(project_id)
        values: dict[str, Any] = {
            k: changes.pop(k) for k in ("name", "description", "enabled") if k in changes
        }
        if "name" in values:
            identity.check_name("project", values["name"])
        if "description" in values:
            _fits("description", values["description"])
        if changes:
            values["extra"] = _merge_extra(row, changes)
        if not values:
            return row
        return db.identity_project_update(self.context, row.id, values)

    def delete_project(self, project_id: str) -> None:
        """Delete the project and its role assignments; IdentityProjectInUse while it
        still has instances."""
        row = self.project(project_id)
        servers = db.instance_get_all(self.context, {"project_id": row.id}, limit=1)
        if servers:
            raise exception.IdentityProjectInUse(project=row.name, what="servers")
        db.identity_project_delete(self.context, row.id)

    def user_projects(self, user_id: str, enabled_only: bool = False) -> list[Any]:
        """The projects on which the user holds a role, by name."""
        self.user(user_id)
        held = {a.project_id for a in db.identity_role_assignments_get(self.context, user_id)}
        return [p for p in self.projects() if p.id in held and (p.enabled or not enabled_only)]

    # --- users -----------------------------------------------------------------------

    def user(self, user_id: str) -> Any:
        """The user with id *user_id* (not name); IdentityUserNotFound."""
        row = self.store.user(user_id)
        if row.id != user_id:
            raise IdentityUserNotFound(user=user_id)
        return row

    def users(self, name: str | None = None, enabled: bool | None = None) -> list[Any]:
        """Every user, by name, optionally only the one so named / the (dis)abled."""
        return [
            row
            for row in db.identity_user_get_all(self.context)
            if (name is None or row.name == name) and (enabled is None or row.enabled == enabled)
        ]

    def _default_project(self, project_id: str | None) -> str | None:
        if project_id is None:
            return None
        try:
            return str(self.project(project_id).id)
        except IdentityProjectNotFound:
            raise exception.Invalid(
                message=f"Invalid input for field 'default_project_id': no project has id "
                f"{project_id!r}; give the id of an existing project"
            ) from None

    def create_user(
        self,
        name: str,
        password: str | None,
        enabled: bool,
        default_project_id: str | None,
        extra: dict[str, Any],
    ) -> Any:
        """Create a user (without a password it cannot authenticate); IdentityUserExists."""
        identity.check_name("user", name)
        if password is not None:
            identity.check_password(password)
        return db.identity_user_create(
            self.context,
            {
                "id": uuid.uuid4().hex,
                "name": name,
                "password_hash": identity.hash_password(password) if password else _UNHASHABLE,
                "enabled": enabled,
                "default_project_id": self._default_project(default_project_id),
                "extra": _merge_extra(None, extra),
            },
        )

    def update_user(self, user_id: str, changes: dict[str, Any]) -> Any:
        """Apply *changes* (name, password, enabled, default_project_id; other keys go to
        extra). A new password or disabling revokes the user's tokens; enabling unlocks."""
        row = self.user(user_id)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = changes.pop("name")
            identity.check_name("user", values["name"])
        if "default_project_id" in changes:
            values["default_project_id"] = self._default_project(changes.pop("default_project_id"))
        if "password" in changes:
            password = changes.pop("password")
            if password is None:
                values["password_hash"] = _UNHASHABLE
            else:
                identity.check_password(password)
                values["password_hash"] = identity.hash_password(password)
            values.update(
                tokens_valid_after=timeutils.utcnow(), failed_auth_count=0, failed_auth_at=None
            )
        if "enabled" in changes:
            values["enabled"] = bool(changes.pop("enabled"))
            if values["enabled"]:
                values.update(failed_auth_count=0, failed_auth_at=None)
            elif row.enabled:
                values["tokens_valid_after"] = timeutils.utcnow()
        if changes:
            values["extra"] = _merge_extra(row, changes)
        if not values:
            return row
        return db.identity_user_rename_update(self.context, row.id, values)

    def delete_user(self, user_id: str) -> None:
        db.identity_user_delete(self.context, self.user(user_id).id)

    def change_password(self, user_id: str, original: str, password: str) -> None:
        """The user's own password change: *original* must be its current password
        (checked with the store's lockout and hashing bounds; Unauthorized if not)."""
        row = self.user(user_id)
        identity.check_password(password)
        locked = self.store.is_locked(row)
        if locked or not identity.verify_password(row.password_hash, original):
            if not locked:
                self.store.count_failure(row)
            raise Unauthorized(reason="The original password is not correct.")
        if not row.enabled:
            raise Unauthorized(reason="The user is disabled.")
        self.update_user(row.id, {"password": password})

    # --- roles -----------------------------------------------------------------------

    def roles(self, name: str | None = None) -> list[Role]:
        """Every role (the defaults, the created ones, the ones assignments hold), by name."""
        found = {role: Role(role) for role in DEFAULT_ROLES}
        found.update({r: Role(r) for r in db.identity_roles_in_use(self.context)})
        found.update({r.name: Role(r.name, r.description) for r in self._created_roles()})
        return [found[key] for key in sorted(found) if name is None or key == name]

    def _created_roles(self) -> list[Any]:
        return list(db.identity_role_get_all(self.context))

    def role(self, role_id: str) -> Role:
        """The role *role_id* (its name); IdentityRoleNotFound."""
        for role in self.roles(role_id):
            return role
        raise exception.IdentityRoleNotFound(role=role_id)

    def create_role(self, name: str, description: str | None) -> Role:
        """Create a role; IdentityRoleExists if it exists already (a default one too)."""
        identity.check_role(name)
        if self.roles(name):
            raise exception.IdentityRoleExists(name=name)
        row = db.identity_role_create(
            self.context,
            {"id": name, "name": name, "description": _fits("description", description)},
        )
        return Role(row.name, row.description)

    def delete_role(self, role_id: str) -> None:
        """Delete a role and every assignment of it; the default roles cannot be
        deleted (Invalid)."""
        role = self.role(role_id)
        if role.name in DEFAULT_ROLES:
            raise exception.Invalid(
                message=f"role {role.name} is a default role of nubis and cannot be deleted"
            )
        db.identity_role_delete(self.context, role.name)

    # --- role assignments --------------------------------------------------------------

    def grant(self, project_id: str, user_id: str, role_id: str) -> None:
        project, user, role = self.project(project_id), self.user(user_id), self.role(role_id)
        db.identity_role_assignment_add(self.context, user.id, project.id, role.name)

    def revoke(self, project_id: str, user_id: str, role_id: str) -> None:
        """Take the role; IdentityRoleNotFound (404) if the user does not hold it there."""
        project, user, role = self.project(project_id), self.user(user_id), self.role(role_id)
        if not db.identity_role_assignment_remove(self.context, user.id, project.id, role.name):
            raise exception.IdentityRoleNotFound(
                role=f"{role.name} of user {user.id} on project {project.id}"
            )

    def granted(self, project_id: str, user_id: str) -> list[Role]:
        """The roles the user holds on the project (directly assigned ones)."""
        project, user = self.project(project_id), self.user(user_id)
        held = {a.role for a in db.identity_role_assignments_get(self.context, user.id, project.id)}
        return [role for role in self.roles() if role.name in held]

    def assignments(
        self,
        user_id: str | None = None,
        project_id: str | None = None,
        role_id: str | None = None,
        effective: bool = False,
    ) -> list[Assignment]:
        """The role assignments matching the filters; *effective*: with the roles the
        assigned ones imply (Keystone's ``effective``), each implied one once."""
        rows = db.identity_role_assignments_get(self.context, user_id, project_id)
        found = [Assignment(row.user_id, row.project_id, row.role) for row in rows]
        if effective:  # direct ones first: a role both held and implied is listed as held
            found += [
                Assignment(row.user_id, row.project_id, implied, row.role)
                for row in rows
                for implied in identity.IMPLIED_ROLES.get(row.role, ())
            ]
        result: list[Assignment] = []
        seen: set[tuple[str, str, str]] = set()
        for item in found:
            key = (item.user_id, item.project_id, item.role)
            if key not in seen and (role_id is None or item.role == role_id):
                seen.add(key)
                result.append(item)
        return result
