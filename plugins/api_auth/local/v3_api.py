"""Identity v3 management under ``/identity/v3``: domains (only ``default``), projects,
users, roles, role assignments, the self-service password change and
``/v3/auth/projects`` -- Keystone's requests, answers and error format, on
:class:`~nubis.core.api.identity_admin.IdentityAdmin`.

Policy (Keystone's defaults, as a project-scoped cloud sees them): a token with the
``admin`` role manages everything; any user may read itself, the project its token is
scoped to, the Default domain, its own projects (``/v3/users/{self}/projects``,
``/v3/auth/projects``) and its own role assignments (``/v3/role_assignments?user.id=
{self}``); anything else answers 403. The password change
(``POST /v3/users/{id}/password``) needs no token, as in Keystone: the original password
is the proof (it counts towards the user's lockout and the client address's throttle).

List filters Keystone does not know are ignored, as Keystone ignores them; a filter it
knows with a bad value answers 400. Writes forget the plugin's cached token state, so a
removed role, a disabled user or project stops counting at once on this nubis-api (on
others within ``[local_auth] identity_cache_seconds``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from nubis.core import exception
from nubis.core.api import identity
from nubis.core.api.exception import Unauthorized
from nubis.core.api.identity_admin import DOMAIN_ID, IdentityAdmin
from nubis.core.api.validation import validate
from nubis.plugins.api_auth.local import v3_views as views
from nubis.plugins.api_auth.local.errors import KeystoneError
from nubis.plugins.api_auth.local.v3_schemas import (
    PASSWORD_CHANGE,
    PROJECT_CREATE,
    PROJECT_UPDATE,
    ROLE_CREATE,
    SERVER_OWNED,
    USER_CREATE,
    USER_UPDATE,
)

V3 = views.V3
Handler = Callable[..., tuple[int, Any]]
_FALSE = ("0", "false", "no", "off")
_TRUE = ("", "1", "true", "yes", "on")


class Host(Protocol):
    """What the v3 API uses of the ``local`` auth plugin that serves it."""

    store: identity.IdentityStore

    def validate(self, token: str) -> dict[str, Any]: ...

    def read_json(self, request: Any) -> Any: ...

    def forget_state(self) -> None: ...

    def check_address(self, request: Any, check: Callable[[], None]) -> None: ...


def _flag(request: Any, name: str) -> bool:
    """Keystone's boolean query flag: present and not false-like."""
    value = request.args.get(name)
    return value is not None and value.lower() not in _FALSE


def _enabled_filter(request: Any) -> bool | None:
    value = request.args.get("enabled")
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise KeystoneError.of(
        400, f"Invalid input for query parameter 'enabled': {value!r}; give true or false."
    )


def _forbidden(action: str) -> KeystoneError:
    return KeystoneError.of(
        403, f"You are not authorized to perform the requested action: identity:{action}."
    )


def _not_found(exc: exception.NotFound) -> KeystoneError:
    kind = type(exc).__name__.removeprefix("Identity").removesuffix("NotFound").lower()
    target = (exc.kwargs.get(kind) if hasattr(exc, "kwargs") else None) or str(exc)
    return KeystoneError.of(404, f"Could not find {kind}: {target}.")


def _body_of(request: Any, host: Host, schema: dict[str, Any], key: str) -> dict[str, Any]:
    body = host.read_json(request)
    validate(schema, body)
    resource: dict[str, Any] = dict(body[key])
    for name in SERVER_OWNED:
        if name in resource and name != "domain_id":
            raise KeystoneError.of(
                400,
                f"Invalid input for field '{key}.{name}': the server sets it; leave it out.",
            )
    return resource


class V3API:
    """Serves the management part of ``/identity/v3`` for *host* (see the module
    docstring)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.admin = IdentityAdmin(host.store)
        self.routes: list[tuple[tuple[str, ...], dict[str, Handler]]] = [
            (("domains",), {"GET": self.list_domains}),
            (("domains", "*"), {"GET": self.show_domain}),
            (("projects",), {"GET": self.list_projects, "POST": self.create_project}),
            (
                ("projects", "*"),
                {
                    "GET": self.show_project,
                    "PATCH": self.update_project,
                    "DELETE": self.delete_project,
                },
            ),
            (("projects", "*", "users", "*", "roles"), {"GET": self.list_grants}),
            (
                ("projects", "*", "users", "*", "roles", "*"),
                {"GET": self.check_grant, "PUT": self.grant, "DELETE": self.revoke},
            ),
            (("users",), {"GET": self.list_users, "POST": self.create_user}),
            (
                ("users", "*"),
                {"GET": self.show_user, "PATCH": self.update_user, "DELETE": self.delete_user},
            ),
            (("users", "*", "password"), {"POST": self.change_password}),
            (("users", "*", "projects"), {"GET": self.list_user_projects}),
            (("roles",), {"GET": self.list_roles, "POST": self.create_role}),
            (("roles", "*"), {"GET": self.show_role, "DELETE": self.delete_role}),
            (("role_assignments",), {"GET": self.list_assignments}),
            (("auth", "projects"), {"GET": self.auth_projects}),
            (("auth", "domains"), {"GET": self.auth_domains}),
        ]

    # --- dispatch ----------------------------------------------------------------------

    def route(self, path: str) -> tuple[dict[str, Handler], list[str]] | None:
        """The handlers of *path* (under /identity/v3) and its ids, or None."""
        if not path.startswith(V3 + "/"):
            return None
        parts = path[len(V3) + 1 :].split("/")
        for pattern, handlers in self.routes:
            if len(pattern) == len(parts) and all(
                p == "*" and part or p == part for p, part in zip(pattern, parts, strict=True)
            ):
                return handlers, [part for p, part in zip(pattern, parts, strict=True) if p == "*"]
        return None

    def serve(self, request: Any, base: str, path: str) -> tuple[int, Any] | None:
        """The answer (status, body; None body for no content) to *request*, or None if
        *path* is not one of ours. Raises KeystoneError, Unauthorized or Fault."""
        found = self.route(path)
        if found is None:
            return None
        handlers, ids = found
        method = "GET" if request.method == "HEAD" else request.method
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted({*handlers, *(["HEAD"] if "GET" in handlers else [])}))
            raise KeystoneError.of(
                405, f"{request.method} is not allowed on {path} (allowed: {allowed})."
            )
        try:
            result = handler(request, base, *ids)
        except exception.NotFound as exc:
            raise _not_found(exc) from None
        except (
            exception.IdentityUserExists,
            exception.IdentityProjectExists,
            exception.IdentityRoleExists,
        ) as exc:
            kind = type(exc).__name__.removeprefix("Identity").removesuffix("Exists").lower()
            raise KeystoneError.of(
                409,
                f"Conflict occurred attempting to store {kind} - Duplicate entry found with "
                f"name {exc.kwargs.get('name')} at domain ID {DOMAIN_ID}.",
            ) from None
        except exception.IdentityProjectInUse as exc:
            raise KeystoneError.of(409, str(exc)) from None
        except exception.Invalid as exc:
            raise KeystoneError.of(400, str(exc)) from None
        if request.method not in ("GET", "HEAD"):
            self.host.forget_state()
        return result

    def caller(self, request: Any) -> dict[str, Any]:
        """The claims of the request's token (Unauthorized without a valid one)."""
        token = request.headers.get("X-Auth-Token", "").strip()
        if not token:
            raise Unauthorized(reason="The request you have made requires authentication.")
        return self.host.validate(token)

    def admin_only(self, request: Any, action: str) -> dict[str, Any]:
        claims = self.caller(request)
        if "admin" not in claims["roles"]:
            raise _forbidden(action)
        return claims

    def admin_or_self(self, request: Any, action: str, user_id: str) -> dict[str, Any]:
        claims = self.caller(request)
        if "admin" not in claims["roles"] and claims["sub"] != user_id:
            raise _forbidden(action)
        return claims

    # --- domains -----------------------------------------------------------------------

    def list_domains(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "list_domains")
        name = request.args.get("name")
        enabled = _enabled_filter(request)
        domain = views.domain(base)
        keep = (name is None or name == domain["name"]) and enabled is not False
        return 200, views.collection("domains", [domain] if keep else [], f"{base}{V3}/domains")

    def show_domain(self, request: Any, base: str, domain_id: str) -> tuple[int, Any]:
        claims = self.caller(request)
        if domain_id != DOMAIN_ID:
            if "admin" not in claims["roles"]:
                raise _forbidden("get_domain")
            raise KeystoneError.of(404, f"Could not find domain: {domain_id}.")
        return 200, {"domain": views.domain(base)}

    # --- projects ----------------------------------------------------------------------

    def list_projects(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "list_projects")
        rows = self.admin.projects(request.args.get("name"), _enabled_filter(request))
        if request.args.get("domain_id", DOMAIN_ID) != DOMAIN_ID or _flag(request, "is_domain"):
            rows = []
        if request.args.get("parent_id", DOMAIN_ID) != DOMAIN_ID:
            rows = []
        items = [views.project(row, base) for row in rows]
        return 200, views.collection("projects", items, f"{base}{V3}/projects")

    def create_project(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "create_project")
        body = _body_of(request, self.host, PROJECT_CREATE, "project")
        for fixed in ("domain_id", "parent_id", "is_domain", "options"):
            body.pop(fixed, None)  # the schema allows only what nubis has
        row = self.admin.create_project(
            body.pop("name"), body.pop("description", None), body.pop("enabled", True), body
        )
        return 201, {"project": views.project(row, base)}

    def show_project(self, request: Any, base: str, project_id: str) -> tuple[int, Any]:
        claims = self.caller(request)
        if "admin" not in claims["roles"] and claims["pid"] != project_id:
            raise _forbidden("get_project")
        return 200, {"project": views.project(self.admin.project(project_id), base)}

    def update_project(self, request: Any, base: str, project_id: str) -> tuple[int, Any]:
        self.admin_only(request, "update_project")
        body = _body_of(request, self.host, PROJECT_UPDATE, "project")
        for fixed in ("domain_id", "parent_id", "is_domain", "options"):
            body.pop(fixed, None)
        row = self.admin.update_project(project_id, body)
        return 200, {"project": views.project(row, base)}

    def delete_project(self, request: Any, base: str, project_id: str) -> tuple[int, Any]:
        self.admin_only(request, "delete_project")
        self.admin.delete_project(project_id)
        return 204, None

    # --- users -------------------------------------------------------------------------

    def list_users(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "list_users")
        rows = self.admin.users(request.args.get("name"), _enabled_filter(request))
        if request.args.get("domain_id", DOMAIN_ID) != DOMAIN_ID:
            rows = []
        items = [views.user(row, base) for row in rows]
        return 200, views.collection("users", items, f"{base}{V3}/users")

    def create_user(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "create_user")
        body = _body_of(request, self.host, USER_CREATE, "user")
        body.pop("domain_id", None)
        body.pop("options", None)
        row = self.admin.create_user(
            body.pop("name"),
            body.pop("password", None),
            body.pop("enabled", True),
            body.pop("default_project_id", None),
            body,
        )
        return 201, {"user": views.user(row, base)}

    def show_user(self, request: Any, base: str, user_id: str) -> tuple[int, Any]:
        self.admin_or_self(request, "get_user", user_id)
        return 200, {"user": views.user(self.admin.user(user_id), base)}

    def update_user(self, request: Any, base: str, user_id: str) -> tuple[int, Any]:
        self.admin_only(request, "update_user")
        body = _body_of(request, self.host, USER_UPDATE, "user")
        body.pop("domain_id", None)
        body.pop("options", None)
        return 200, {"user": views.user(self.admin.update_user(user_id, body), base)}

    def delete_user(self, request: Any, base: str, user_id: str) -> tuple[int, Any]:
        self.admin_only(request, "delete_user")
        self.admin.delete_user(user_id)
        return 204, None

    def change_password(self, request: Any, base: str, user_id: str) -> tuple[int, Any]:
        body = self.host.read_json(request)
        validate(PASSWORD_CHANGE, body)
        change = body["user"]
        self.host.check_address(
            request,
            lambda: self.admin.change_password(
                user_id, change["original_password"], change["password"]
            ),
        )
        return 204, None

    def list_user_projects(self, request: Any, base: str, user_id: str) -> tuple[int, Any]:
        self.admin_or_self(request, "list_user_projects", user_id)
        items = [views.project(row, base) for row in self.admin.user_projects(user_id)]
        return 200, views.collection("projects", items, f"{base}{V3}/users/{user_id}/projects")

    def auth_projects(self, request: Any, base: str) -> tuple[int, Any]:
        claims = self.caller(request)
        rows = self.admin.user_projects(claims["sub"], enabled_only=True)
        items = [views.project(row, base) for row in rows]
        return 200, views.collection("projects", items, f"{base}{V3}/auth/projects")

    def auth_domains(self, request: Any, base: str) -> tuple[int, Any]:
        self.caller(request)
        return 200, views.collection("domains", [], f"{base}{V3}/auth/domains")

    # --- roles -------------------------------------------------------------------------

    def list_roles(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "list_roles")
        roles = self.admin.roles(request.args.get("name"))
        if request.args.get("domain_id"):
            roles = []  # nubis has no domain-specific roles
        items = [views.role(role, base) for role in roles]
        return 200, views.collection("roles", items, f"{base}{V3}/roles")

    def show_role(self, request: Any, base: str, role_id: str) -> tuple[int, Any]:
        self.admin_only(request, "get_role")
        return 200, {"role": views.role(self.admin.role(role_id), base)}

    def create_role(self, request: Any, base: str) -> tuple[int, Any]:
        self.admin_only(request, "create_role")
        body = self.host.read_json(request)
        validate(ROLE_CREATE, body)
        role = self.admin.create_role(body["role"]["name"], body["role"].get("description"))
        return 201, {"role": views.role(role, base)}

    def delete_role(self, request: Any, base: str, role_id: str) -> tuple[int, Any]:
        self.admin_only(request, "delete_role")
        self.admin.delete_role(role_id)
        return 204, None

    # --- role assignments --------------------------------------------------------------

    def list_grants(self, request: Any, base: str, project_id: str, user_id: str) -> Any:
        self.admin_only(request, "list_grants")
        items = [views.role(role, base) for role in self.admin.granted(project_id, user_id)]
        url = f"{base}{V3}/projects/{project_id}/users/{user_id}/roles"
        return 200, views.collection("roles", items, url)

    def check_grant(self, request: Any, base: str, project_id: str, user_id: str, role: str) -> Any:
        self.admin_only(request, "check_grant")
        if not any(r.id == role for r in self.admin.granted(project_id, user_id)):
            self.admin.role(role)  # 404 for an unknown role first
            raise KeystoneError.of(
                404,
                f"Could not find role assignment: role {role} of user {user_id} "
                f"on project {project_id}.",
            )
        return 204, None

    def grant(self, request: Any, base: str, project_id: str, user_id: str, role: str) -> Any:
        self.admin_only(request, "create_grant")
        self.admin.grant(project_id, user_id, role)
        return 204, None

    def revoke(self, request: Any, base: str, project_id: str, user_id: str, role: str) -> Any:
        self.admin_only(request, "revoke_grant")
        self.admin.revoke(project_id, user_id, role)
        return 204, None

    def list_assignments(self, request: Any, base: str) -> tuple[int, Any]:
        claims = self.caller(request)
        args = request.args
        user_id = args.get("user.id")
        if "admin" not in claims["roles"] and user_id != claims["sub"]:
            raise _forbidden("list_role_assignments")
        unsupported = [
            name
            for name in (
                "group.id",
                "scope.domain.id",
                "scope.system",
                "scope.OS-INHERIT:inherited_to",
            )
            if args.get(name) is not None
        ]
        if unsupported and _flag(request, "effective") and "group.id" in unsupported:
            raise KeystoneError.of(
                400, "Invalid input for query parameter 'group.id': not allowed with effective."
            )
        items: list[Any] = []
        if not unsupported:  # nubis has no groups, domain or system assignments
            items = self.admin.assignments(
                user_id,
                args.get("scope.project.id"),
                args.get("role.id"),
                _flag(request, "effective"),
            )
        names = None
        if _flag(request, "include_names"):
            names = {
                "users": {row.id: row.name for row in self.admin.users()},
                "projects": {row.id: row.name for row in self.admin.projects()},
            }
        url = f"{base}{V3}/role_assignments"
        shown = [views.assignment(item, base, names) for item in items]
        return 200, views.collection("role_assignments", shown, url)

    # --- OpenAPI -----------------------------------------------------------------------

    def openapi_paths(self) -> dict[str, Any]:
        """The OpenAPI description of every route here."""
        schemas = {
            ("projects",): PROJECT_CREATE,
            ("projects", "*"): PROJECT_UPDATE,
            ("users",): USER_CREATE,
            ("users", "*"): USER_UPDATE,
            ("users", "*", "password"): PASSWORD_CHANGE,
            ("roles",): ROLE_CREATE,
        }
        names = {"projects": "project_id", "users": "user_id", "roles": "role_id"}
        names["domains"] = "domain_id"
        error = {
            "description": "Keystone error",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
        paths: dict[str, Any] = {}
        for pattern, handlers in self.routes:
            params, parts = [], []
            for index, part in enumerate(pattern):
                if part == "*":
                    name = names.get(pattern[index - 1], f"{pattern[index - 1]}_id")
                    params.append(name)
                    parts.append("{" + name + "}")
                else:
                    parts.append(part)
            path = f"{V3}/{'/'.join(parts)}"
            operations: dict[str, Any] = {}
            for method, handler in handlers.items():
                success = {"POST": "201", "PUT": "204", "DELETE": "204"}.get(method, "200")
                if handler in (self.check_grant, self.change_password):
                    success = "204"
                operation: dict[str, Any] = {
                    "operationId": f"identity_v3_{handler.__name__}",
                    "summary": (handler.__name__.replace("_", " ")).capitalize(),
                    "tags": ["identity"],
                    "security": [] if handler == self.change_password else [{"token": []}],
                    "parameters": [
                        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                        for p in params
                    ],
                    "responses": {
                        success: {"description": "OK"}
                        if success == "204"
                        else {
                            "description": "OK",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **{code: error for code in ("400", "401", "403", "404", "409")},
                    },
                }
                if method in ("POST", "PATCH") and pattern in schemas:
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": schemas[pattern]}},
                    }
                operations[method.lower()] = operation
            paths[path] = operations
        return paths
