"""``nubis-manage user ...``: the users of the embedded identity service
(``[api] auth_strategy = local``).

* ``user create NAME --password PW [--project P] [--role R]...`` — a user; with a
  project, the roles there (default ``member``), the project created if needed;
* ``user list`` — users, whether enabled, and their roles per project;
* ``user delete NAME`` — a user and its role assignments (its tokens stop working);
* ``user disable NAME`` — the user can no longer authenticate and its tokens are
  revoked; ``user enable NAME`` — again allowed, and unlocked if a lockout
  (``[local_auth] lockout_failure_attempts``) held it;
* ``user role-add NAME --project P --role R`` / ``user role-remove ...``;
* ``user password NAME --password PW`` — also revokes the user's tokens and unlocks it;
* ``user bootstrap [--clouds-yaml PATH]`` — make sure the users ``admin`` (admin of
  project ``admin``) and ``demo`` (member of project ``demo``) exist, give them fresh
  random passwords, and write a ``clouds.yaml`` (mode 0600, default
  ``$state_path/clouds.yaml``) with the clouds ``nubis-admin`` and ``nubis-demo``
  pointing at this deployment's identity service.

``--password -`` reads the password from standard input's first line (so it stays out
of the process list and shell history).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from nubis.core.conf import CONF


def _store() -> Any:
    from nubis.core.api.identity import IdentityStore

    return IdentityStore()


def _password() -> str:
    password = str(CONF.category.password)
    if password == "-":
        password = sys.stdin.readline().rstrip("\n")
    return password


def user_create() -> int:
    roles = tuple(CONF.category.role or ["member"])
    user = _store().create_user(
        CONF.category.user_name, _password(), project=CONF.category.project, roles=roles
    )
    where = (
        f" with {', '.join(roles)} on project {CONF.category.project}"
        if CONF.category.project
        else ""
    )
    print(f"created user {user.name} ({user.id}){where}")
    return 0


def user_list() -> int:
    users = _store().users()
    if not users:
        print("no users")
        return 0
    print(f"{'name':<20} {'id':<32} {'enabled':<8} roles")
    for user, assignments in users:
        roles = ", ".join(f"{role}@{project}" for project, role in assignments) or "-"
        print(f"{user.name:<20} {user.id:<32} {str(bool(user.enabled)).lower():<8} {roles}")
    return 0


def user_delete() -> int:
    user = _store().delete_user(CONF.category.user_name)
    print(f"deleted user {user.name} ({user.id})")
    return 0


def user_enable() -> int:
    user = _store().set_enabled(CONF.category.user_name, True)
    print(f"user {user.name} ({user.id}) is enabled")
    return 0


def user_disable() -> int:
    user = _store().set_enabled(CONF.category.user_name, False)
    print(f"user {user.name} ({user.id}) is disabled; its tokens are revoked")
    return 0


def role_add() -> int:
    args = CONF.category
    _store().add_role(args.user_name, args.project, args.role)
    print(f"user {args.user_name} has role {args.role} on project {args.project}")
    return 0


def role_remove() -> int:
    args = CONF.category
    if _store().remove_role(args.user_name, args.project, args.role):
        print(f"removed role {args.role} on {args.project} from {args.user_name}")
    else:
        print(f"user {args.user_name} did not have role {args.role} on {args.project}")
    return 0


def user_password() -> int:
    _store().set_password(CONF.category.user_name, _password())
    print(f"password of user {CONF.category.user_name} changed; its tokens are revoked")
    return 0


BOOTSTRAP_USERS = (("admin", "admin", "admin"), ("demo", "demo", "member"))


def identity_url() -> str:
    """The identity service's URL as clients of this deployment reach it."""
    base = str(CONF.api.public_endpoint or "").rstrip("/")
    if not base:
        host = str(CONF.api.listen)
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        base = f"http://{host}:{CONF.api.port}"
    return f"{base}/identity"


def user_bootstrap() -> int:
    import secrets

    from nubis.core.exception import IdentityUserNotFound

    path = os.path.abspath(
        CONF.category.clouds_yaml or os.path.join(CONF.state_path, "clouds.yaml")
    )
    option = "--clouds-yaml" if CONF.category.clouds_yaml else "[DEFAULT] state_path"
    _check_writable(path, option)  # before any password changes
    store = _store()
    clouds = ["clouds:"]
    for user, project, role in BOOTSTRAP_USERS:
        password = secrets.token_urlsafe(18)
        try:
            store.user(user)
        except IdentityUserNotFound:
            store.create_user(user, password, project=project, roles=(role,))
        else:
            store.set_password(user, password)
            store.add_role(user, project, role)
        clouds += [
            f"  nubis-{user}:",
            "    auth:",
            f"      auth_url: {identity_url()}",
            f"      username: {user}",
            f"      password: {password}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {CONF.api.region_name}",
            "    identity_api_version: 3",
        ]
    write_private_file(path, "\n".join(clouds) + "\n", option)
    print(f"users admin and demo are ready; their clouds are in {path}:")
    print(f"  export OS_CLIENT_CONFIG_FILE={path}")
    print("  openstack --os-cloud nubis-admin ...   or   openstack --os-cloud nubis-demo ...")
    return 0


def _check_writable(path: str, option: str) -> None:
    from nubis.core.conf import paths
    from nubis.core.exception import ConfigurationError

    if os.path.isdir(path):
        raise ConfigurationError(option=option, reason=f"{path} is a directory")
    problem = paths.directory_problem(os.path.dirname(path))
    if problem:
        raise ConfigurationError(option=option, reason=problem)


def write_private_file(path: str, text: str, option: str) -> None:
    """Replace *path* atomically with *text*, readable by its owner only (0600).

    The text goes to a temporary file of a unique name created exclusively (mode 0600
    from the start: never a moment readable by others, never someone else's file or
    link followed), is flushed to disk and renamed over *path*. A missing folder is
    created mode 0700.
    """
    import tempfile

    from nubis.core.conf import paths

    folder = os.path.dirname(os.path.abspath(path))
    paths.make_private_dir(folder, option)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def add_parsers(subparsers: Any) -> None:
    parser = subparsers.add_parser("user", help="users of the embedded identity service")
    sub = parser.add_subparsers(dest="action", required=True)

    create = sub.add_parser("create", help="create a user")
    create.add_argument("user_name", metavar="NAME")
    create.add_argument("--password", required=True, help="the password, or - for stdin")
    create.add_argument("--project", help="give the user roles on this project")
    create.add_argument(
        "--role",
        action="append",
        help="role on --project (repeatable; default member); admin implies member implies reader",
    )
    create.set_defaults(func=user_create)

    sub.add_parser("list", help="list users and their roles").set_defaults(func=user_list)

    delete = sub.add_parser("delete", help="delete a user")
    delete.add_argument("user_name", metavar="NAME")
    delete.set_defaults(func=user_delete)

    for action, func, text in (
        ("enable", user_enable, "let a user authenticate again (and lift a lockout)"),
        ("disable", user_disable, "stop a user from authenticating; revoke its tokens"),
    ):
        parser_ = sub.add_parser(action, help=text)
        parser_.add_argument("user_name", metavar="NAME")
        parser_.set_defaults(func=func)

    for action, func, text in (
        ("role-add", role_add, "give a user a role on a project"),
        ("role-remove", role_remove, "take a role away"),
    ):
        parser_ = sub.add_parser(action, help=text)
        parser_.add_argument("user_name", metavar="NAME")
        parser_.add_argument("--project", required=True)
        parser_.add_argument("--role", required=True)
        parser_.set_defaults(func=func)

    password = sub.add_parser("password", help="set a user's password")
    password.add_argument("user_name", metavar="NAME")
    password.add_argument("--password", required=True, help="the password, or - for stdin")
    password.set_defaults(func=user_password)

    bootstrap = sub.add_parser(
        "bootstrap", help="users admin and demo with fresh passwords, and a clouds.yaml"
    )
    bootstrap.add_argument(
        "--clouds-yaml", help="where to write it (default $state_path/clouds.yaml)"
    )
    bootstrap.set_defaults(func=user_bootstrap)
