"""The users, projects and roles of the embedded identity service (``[api]
auth_strategy = local``), kept in nubis's database.

Passwords are stored as argon2id hashes (argon2-cffi); a hash made with weaker
parameters than the library's current defaults is replaced at the next successful
login. Roles follow Keystone's defaults: ``admin`` implies ``member``, which implies
``reader``; a token carries the roles with what they imply. Projects are created when a
role on them is first given.

Protections (configured by the ``local`` auth plugin from ``[local_auth]``):

* hashing is bounded: at most :func:`configure_hashing`'s *concurrency* argon2
  computations run at once in this process (each takes 64 MiB); a check that cannot
  start within *wait* seconds is refused with :class:`~.exception.ServiceBusy` (503
  with ``Retry-After``) rather than queued without bound;
* lockout, with Keystone's ``lockout_failure_attempts`` / ``lockout_duration``
  semantics (:class:`LockoutPolicy`): after that many consecutive failed password
  checks the user cannot authenticate, even with the right password, until the
  duration has passed since the last failure (0: until an administrator enables the
  user again or sets a new password); a successful check resets the count. While
  locked, the password is not even checked (no hashing cost for the attacker to
  impose). The refusal is the same 401 as for a wrong password;
* revocation: changing a user's password or disabling the user revokes every token
  issued before (``tokens_valid_after``); deleting the user does too (no user, no
  token).

``nubis-manage user ...`` (:mod:`nubis.core.cmd.manage_identity`) manages them; the
``local`` auth plugin authenticates against them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import argon2
from argon2 import exceptions as argon2_exceptions
from oslo_utils import timeutils

from nubis.core import exception
from nubis.core.api.exception import ServiceBusy, Unauthorized
from nubis.core.context import get_admin_context
from nubis.core.db import api as db
from nubis.core.exception import IdentityProjectNotFound, IdentityUserNotFound

LOG = logging.getLogger(__name__)

IMPLIED_ROLES: dict[str, tuple[str, ...]] = {"admin": ("member", "reader"), "member": ("reader",)}
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
NAME_PATTERN = re.compile(r"^[^\x00-\x1f/:\ud800-\udfff]{1,255}$")
DEFAULT_DOMAIN = ("default", "Default")
_SURROGATE = re.compile("[\ud800-\udfff]")

DEFAULT_HASH_CONCURRENCY = 2
DEFAULT_HASH_WAIT = 5.0

_HASHER = argon2.PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password anyone has")
_DENIED = "The request you have made requires authentication."


class _HashSlots:
    """At most *concurrency* argon2 computations at once; see the module docstring."""

    def __init__(self, concurrency: int, wait: float) -> None:
        self.concurrency = concurrency
        self.wait = wait
        self.semaphore = threading.BoundedSemaphore(concurrency)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        semaphore = self.semaphore
        if not semaphore.acquire(timeout=max(0.0, self.wait)):
            raise ServiceBusy(
                reason=f"Too many password checks are running (at most {self.concurrency} at "
                "once: [local_auth] password_hash_concurrency); retry shortly.",
                retry_after=1,
            )
        try:
            yield
        finally:
            semaphore.release()


_slots = _HashSlots(DEFAULT_HASH_CONCURRENCY, DEFAULT_HASH_WAIT)
_slots_lock = threading.Lock()


def configure_hashing(concurrency: int, wait: float) -> None:
    """Allow *concurrency* password hash computations at once in this process, each
    waiting at most *wait* seconds for its turn (see the module docstring)."""
    global _slots
    with _slots_lock:
        if _slots.concurrency != concurrency:
            _slots = _HashSlots(concurrency, wait)  # running ones release the old one
        else:
            _slots.wait = wait


def hashing_slot() -> contextlib.AbstractContextManager[None]:
    """One of the bounded hashing slots (ServiceBusy if none frees up in time)."""
    return _slots.slot()


def hash_password(password: str) -> str:
    """An argon2id hash of *password*."""
    with hashing_slot():
        return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether *password* matches *password_hash* (False for a malformed hash)."""
    with hashing_slot():
        try:
            return bool(_HASHER.verify(password_hash, password))
        except (argon2_exceptions.VerificationError, argon2_exceptions.InvalidHashError):
            return False


@dataclasses.dataclass(frozen=True)
class LockoutPolicy:
    """Keystone's lockout: *failure_attempts* consecutive failed password checks lock the
    user for *duration* seconds after the last one (0: until enabled again or given a
    new password); *failure_attempts* 0 disables lockout."""

    failure_attempts: int = 0
    duration: float = 1800.0


@dataclasses.dataclass(frozen=True)
class TokenState:
    """What decides whether a user's token scoped to a project still counts: the roles
    the user has there now, and the time before which its tokens are revoked."""

    roles: tuple[str, ...]
    valid_after: float | None
    """Epoch seconds; tokens issued at or before it are revoked (None: none are)."""


def _epoch(moment: datetime.datetime | None) -> float | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=datetime.UTC).timestamp()


def effective_roles(roles: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """*roles* with the roles they imply, sorted."""
    result = set(roles)
    for role in roles:
        result.update(IMPLIED_ROLES.get(role, ()))
    return sorted(result)


def check_name(kind: str, name: str) -> None:
    """Invalid unless *name* is a usable user or project name."""
    if not NAME_PATTERN.match(name or "") or name != name.strip():
        raise exception.Invalid(
            message=f"{kind} name {name!r}: give 1-255 characters without control "
            "characters, '/' or ':' and without surrounding spaces"
        )


def check_role(role: str) -> None:
    """Invalid unless *role* is a usable role name."""
    if not ROLE_PATTERN.match(role or ""):
        raise exception.Invalid(
            message=f"role {role!r}: a role is a lower-case name such as admin, member or reader"
        )


def check_password(password: str) -> None:
    """Invalid unless *password* is a usable password."""
    if not password or len(password) > 4096:
        raise exception.Invalid(message="a password must be 1-4096 characters")
    if _SURROGATE.search(password):
        raise exception.Invalid(
            message="a password must be Unicode text (it holds a lone UTF-16 surrogate)"
        )


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a token speaks for: a user, the project it is scoped to and the roles
    (implied ones included) the user has there."""

    user_id: str
    user_name: str
    project_id: str
    project_name: str
    roles: tuple[str, ...]


class IdentityStore:
    """Users, projects and role assignments in the database; *lockout* is the policy
    :meth:`authenticate` applies (default: none)."""

    def __init__(self, lockout: LockoutPolicy | None = None) -> None:
        self.context = get_admin_context()
        self.lockout = lockout or LockoutPolicy()

    # --- projects --------------------------------------------------------------------

    def project(self, id_or_name: str) -> Any:
        """The project whose id or name is *id_or_name*; IdentityProjectNotFound."""
        return db.identity_project_get(self.context, id_or_name)

    def ensure_project(self, name: str) -> Any:
        """The project named (or with id) *name*, created if there is none."""
        try:
            return self.project(name)
        except IdentityProjectNotFound:
            pass
        check_name("project", name)
        try:
            return db.identity_project_create(
                self.context, {"id": uuid.uuid4().hex, "name": name, "enabled": True}
            )
        except exception.NubisException:
            return self.project(name)  # created by a racing sibling

    def projects(self) -> list[Any]:
        return list(db.identity_project_get_all(self.context))

    # --- users -----------------------------------------------------------------------

    def user(self, id_or_name: str) -> Any:
        """The user whose id or name is *id_or_name*; IdentityUserNotFound."""
        return db.identity_user_get(self.context, id_or_name)

    def create_user(
        self,
        name: str,
        password: str,
        project: str | None = None,
        roles: tuple[str, ...] = ("member",),
    ) -> Any:
        """Create user *name*; with *project*, give it *roles* there (creating the
        project if needed) and make it the user's default project."""
        check_name("user", name)
        check_password(password)
        for role in roles:
            check_role(role)
        project_row = self.ensure_project(project) if project else None
        user = db.identity_user_create(
            self.context,
            {
                "id": uuid.uuid4().hex,
                "name": name,
                "password_hash": hash_password(password),
                "enabled": True,
                "default_project_id": project_row.id if project_row is not None else None,
            },
        )
        if project_row is not None:
            for role in roles:
                db.identity_role_assignment_add(self.context, user.id, project_row.id, role)
        return user

    def set_password(self, name: str, password: str) -> None:
        """Set the user's password; this revokes its tokens and unlocks it."""
        check_password(password)
        user = self.user(name)
        db.identity_user_update(
            self.context,
            user.id,
            {
                "password_hash": hash_password(password),
                "tokens_valid_after": timeutils.utcnow(),
                "failed_auth_count": 0,
                "failed_auth_at": None,
            },
        )

    def set_enabled(self, name: str, enabled: bool) -> Any:
        """Enable (and unlock) or disable the user; disabling revokes its tokens."""
        user = self.user(name)
        values: dict[str, Any] = {"enabled": enabled}
        if enabled:
            values.update(failed_auth_count=0, failed_auth_at=None)
        else:
            values["tokens_valid_after"] = timeutils.utcnow()
        return db.identity_user_update(self.context, user.id, values)

    def delete_user(self, name: str) -> Any:
        user = self.user(name)
        db.identity_user_delete(self.context, user.id)
        return user

    def add_role(self, user_name: str, project: str, role: str) -> None:
        """Give *role* on *project* (created if needed) to the user."""
        check_role(role)
        user = self.user(user_name)
        project_row = self.ensure_project(project)
        db.identity_role_assignment_add(self.context, user.id, project_row.id, role)
        if user.default_project_id is None:
            db.identity_user_update(self.context, user.id, {"default_project_id": project_row.id})

    def remove_role(self, user_name: str, project: str, role: str) -> bool:
        user = self.user(user_name)
        project_row = self.project(project)
        return bool(db.identity_role_assignment_remove(self.context, user.id, project_row.id, role))

    def users(self) -> list[tuple[Any, list[tuple[str, str]]]]:
        """Every user with its (project name, role) assignments."""
        names = {p.id: p.name for p in self.projects()}
        result = []
        for user in db.identity_user_get_all(self.context):
            assignments = db.identity_role_assignments_get(self.context, user_id=user.id)
            result.append(
                (user, [(names.get(a.project_id, a.project_id), a.role) for a in assignments])
            )
        return result

    def roles_on(self, user_id: str, project_id: str) -> list[str]:
        """The roles (implied ones included) the user has on the project."""
        assignments = db.identity_role_assignments_get(
            self.context, user_id=user_id, project_id=project_id
        )
        return effective_roles([a.role for a in assignments])

    # --- authentication ----------------------------------------------------------------

    def authenticate(self, user: str, password: str, project: str | None = None) -> Identity:
        """The identity of *user* (name or id) with *password*, scoped to *project*
        (name or id; default: the user's default project).

        Raises Unauthorized (401) with the same message whatever was wrong, so that a
        caller cannot tell a wrong password from an unknown user.
        """
        try:
            row = self.user(user)
        except IdentityUserNotFound:
            verify_password(_DUMMY_HASH, password)  # same cost as a real check
            raise Unauthorized(reason=_DENIED) from None
        if self.is_locked(row):
            LOG.warning(
                "refused authentication of user %s (%s): locked out after %d failed "
                "password checks",
                row.name,
                row.id,
                row.failed_auth_count,
            )
            raise Unauthorized(reason=_DENIED)
        if not verify_password(row.password_hash, password):
            self.count_failure(row)
            raise Unauthorized(reason=_DENIED)
        if not row.enabled:
            raise Unauthorized(reason=_DENIED)
        changes: dict[str, Any] = {}
        if row.failed_auth_count:
            changes.update(failed_auth_count=0, failed_auth_at=None)
        if _HASHER.check_needs_rehash(row.password_hash):
            changes["password_hash"] = hash_password(password)
        if changes:
            db.identity_user_update(self.context, row.id, changes)
        scope = project or row.default_project_id
        if not scope:
            raise Unauthorized(
                reason=f"user {row.name} has no default project; ask for a project scope"
            )
        try:
            project_row = self.project(scope)
        except IdentityProjectNotFound:
            raise Unauthorized(reason=f"user {row.name} has no role on project {scope}") from None
        roles = self.roles_on(row.id, project_row.id)
        if not roles or not project_row.enabled:
            raise Unauthorized(reason=f"user {row.name} has no role on project {scope}")
        return Identity(row.id, row.name, project_row.id, project_row.name, tuple(roles))

    def is_locked(self, row: Any) -> bool:
        """Whether the lockout policy refuses user *row* now (Keystone's rule; an
        expired lock resets the count)."""
        policy = self.lockout
        if not policy.failure_attempts or (row.failed_auth_count or 0) < policy.failure_attempts:
            return False
        if not policy.duration:
            return True
        last = row.failed_auth_at
        if last is not None and timeutils.utcnow() < last + datetime.timedelta(
            seconds=policy.duration
        ):
            return True
        db.identity_user_update(
            self.context, row.id, {"failed_auth_count": 0, "failed_auth_at": None}
        )
        return False

    def count_failure(self, row: Any) -> None:
        """Count a failed password check of user *row* (towards its lockout)."""
        try:
            updated = db.identity_user_auth_failed(self.context, row.id, timeutils.utcnow())
        except IdentityUserNotFound:
            return  # deleted meanwhile
        attempts = self.lockout.failure_attempts
        if attempts and updated.failed_auth_count == attempts:
            LOG.warning(
                "user %s (%s) is locked out after %d consecutive failed password checks (%s)",
                updated.name,
                updated.id,
                attempts,
                f"for {self.lockout.duration:g} s"
                if self.lockout.duration
                else "until enabled again or given a new password",
            )

    def token_state(self, user_id: str, project_id: str) -> TokenState | None:
        """The user's current roles on the project and token revocation time, or None if
        the user is gone or disabled (tokens of such users stop working). A deleted or
        disabled project has no roles, so tokens scoped to it stop working too."""
        try:
            row = self.user(user_id)
        except IdentityUserNotFound:
            return None
        if not row.enabled:
            return None
        try:
            project = self.project(project_id)
        except IdentityProjectNotFound:
            project = None
        if project is None or project.id != project_id or not project.enabled:
            return TokenState((), _epoch(row.tokens_valid_after))  # no roles: no token
        return TokenState(tuple(self.roles_on(row.id, project_id)), _epoch(row.tokens_valid_after))

    def is_active(self, user_id: str, project_id: str) -> tuple[str, ...] | None:
        """The user's current roles on the project, or None if the user is gone or
        disabled (tokens of such users stop working)."""
        state = self.token_state(user_id, project_id)
        return None if state is None else state.roles
