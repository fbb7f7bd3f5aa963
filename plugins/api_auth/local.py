"""``local``: the embedded identity service, nubis-api's default authentication.

nubis-api serves a minimal Identity v3 API under ``/identity``, enough for a normal
``clouds.yaml`` with password authentication (keystoneauth, openstacksdk, the
``openstack`` CLI) and for keystonemiddleware's token validation:

* ``GET /identity`` and ``GET /identity/v3``: version discovery;
* ``POST /identity/v3/auth/tokens``: password (or token) authentication scoped to a
  project; answers 201 with the token in ``X-Subject-Token`` and a service catalog
  whose compute, image and identity endpoints point at this nubis-api;
* ``GET``/``HEAD /identity/v3/auth/tokens``: validate ``X-Subject-Token`` (for the token's
  own user, administrators and the ``service`` role).

Users, projects and roles live in the database (:mod:`nubis.core.api.identity`,
``nubis-manage user ...``). Tokens are JWTs (PyJWT, HS256) signed with the key in
``[local_auth] token_key_file`` (created on first start, mode 0600; every nubis-api of a
deployment must share it), expiring after ``[local_auth] token_expiration`` seconds.
Each request's token is checked against the user's current state: a deleted or
disabled user, or a removed role, stops counting within ``[local_auth]
identity_cache_seconds``.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from oslo_config import cfg

from nubis.core import exception
from nubis.core.api import auth, identity
from nubis.core.api.exception import Unauthorized
from nubis.core.api.faults import Fault
from nubis.core.api.validation import validate
from nubis.core.api.wsgi import public_base_url

LOG = logging.getLogger(__name__)

GROUP = cfg.OptGroup("local_auth", title="The embedded identity service (auth_strategy local)")

OPTS = [
    cfg.IntOpt(
        "token_expiration",
        default=3600,
        min=60,
        help="Seconds a token is valid for after it is issued.",
    ),
    cfg.StrOpt(
        "token_key_file",
        default="$state_path/local-auth-token.key",
        help="File holding the key tokens are signed with; created (mode 0600) when "
        "missing. Every nubis-api of a deployment must read the same key.",
    ),
    cfg.FloatOpt(
        "identity_cache_seconds",
        default=5.0,
        min=0,
        help="How long a user's enabled state and roles are trusted before the database "
        "is asked again: a deleted user's tokens stop working within this time.",
    ),
]

PREFIX = "/identity"
V3 = PREFIX + "/v3"
TOKENS = V3 + "/auth/tokens"
ALGORITHM = "HS256"
TOKEN_TYPE = "nubis-local/1"
PRIVILEGED_ROLES = frozenset({"admin", "service"})


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[local_auth]`` (entry point ``oslo.config.opts: nubis.api.auth.local``)."""
    return [(GROUP.name, list(OPTS))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)


# --- request bodies --------------------------------------------------------------------

_DOMAIN = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
    "additionalProperties": False,
}
_NAMED = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 255},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "domain": _DOMAIN,
    },
    "anyOf": [{"required": ["id"]}, {"required": ["name"]}],
}
AUTH_BODY = {
    "type": "object",
    "properties": {
        "auth": {
            "type": "object",
            "properties": {
                "identity": {
                    "type": "object",
                    "properties": {
                        "methods": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["password", "token"]},
                            "minItems": 1,
                        },
                        "password": {
                            "type": "object",
                            "properties": {
                                "user": {
                                    **_NAMED,
                                    "properties": {
                                        **_NAMED["properties"],  # type: ignore[dict-item]
                                        "password": {"type": "string", "maxLength": 4096},
                                    },
                                    "required": ["password"],
                                }
                            },
                            "required": ["user"],
                        },
                        "token": {
                            "type": "object",
                            "properties": {"id": {"type": "string", "minLength": 1}},
                            "required": ["id"],
                        },
                    },
                    "required": ["methods"],
                },
                "scope": {
                    "oneOf": [
                        {"type": "string", "enum": ["unscoped"]},
                        {
                            "type": "object",
                            "properties": {"project": _NAMED},
                            "required": ["project"],
                        },
                    ]
                },
            },
            "required": ["identity"],
        }
    },
    "required": ["auth"],
}


class _KeystoneError(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def load_or_create_key(path: str) -> bytes:
    """The signing key in *path*, creating a random one (mode 0600) if it is missing.

    Publishing is atomic (a temporary file hard-linked into place), so processes
    starting together all end up with the one key.
    """
    for _ in range(50):
        try:
            with open(path, "rb") as f:
                text = f.read().strip()
            if len(text) >= 32:
                return text
            raise exception.ConfigurationError(
                option="[local_auth] token_key_file",
                reason=f"{path} holds {len(text)} bytes; a key needs at least 32",
            )
        except FileNotFoundError:
            pass
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(32).encode())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    raise exception.ConfigurationError(
        option="[local_auth] token_key_file", reason=f"could not create or read {path}"
    )


def _isotime(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


class LocalAuth(auth.AuthPlugin):
    """See the module docstring."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        if "local_auth" not in conf:
            register_opts(conf)
        self.options = conf.local_auth
        self.store = identity.IdentityStore()
        self._key: bytes | None = None
        self._key_lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, tuple[str, ...] | None]] = {}
        self._cache_lock = threading.Lock()

    # --- tokens ------------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(str(self.options.token_key_file))
            return self._key

    def issue(self, who: identity.Identity, methods: list[str]) -> tuple[str, dict[str, Any]]:
        """A signed token for *who* and its claims."""
        now = time.time()
        claims = {
            "typ": TOKEN_TYPE,
            "sub": who.user_id,
            "uname": who.user_name,
            "pid": who.project_id,
            "pname": who.project_name,
            "roles": list(who.roles),
            "methods": methods,
            "iat": int(now),
            "exp": int(now) + int(self.options.token_expiration),
            "jti": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM), claims

    def decode(self, token: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token of ours; Unauthorized otherwise."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub", "pid"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(reason="The token has expired.") from None
        except jwt.InvalidTokenError:
            raise Unauthorized(reason="The token is not valid.") from None
        if claims.get("typ") != TOKEN_TYPE:
            raise Unauthorized(reason="The token is not valid.")
        return claims

    def current_roles(self, user_id: str, project_id: str) -> tuple[str, ...] | None:
        """The user's roles now (cached briefly), or None for a deleted/disabled user."""
        key = (user_id, project_id)
        now = time.monotonic()
        ttl = float(self.options.identity_cache_seconds)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < ttl:
                return cached[1]
        roles = self.store.is_active(user_id, project_id)
        with self._cache_lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = (now, roles)
        return roles

    def validate(self, token: str) -> dict[str, Any]:
        """Claims of *token* with the user's current roles; Unauthorized if unusable."""
        claims = self.decode(token)
        roles = self.current_roles(claims["sub"], claims["pid"])
        if not roles:
            raise Unauthorized(reason="The token's user or role assignment no longer exists.")
        claims["roles"] = list(roles)
        return claims

    # --- WSGI --------------------------------------------------------------------------

    def middleware(self, app: auth.WSGIApp) -> auth.WSGIApp:
        self.key  # noqa: B018 -- read (or create) the key now: a bad path fails at start

        def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "") or "/"
            if path == PREFIX or path.startswith(PREFIX + "/"):
                return self._identity_api(environ, start_response)
            token = environ.get("HTTP_X_AUTH_TOKEN", "").strip()
            if token:
                try:
                    claims = self.validate(token)
                except Unauthorized:
                    auth.set_invalid(environ)
                else:
                    auth.set_identity(
                        environ,
                        user_id=claims["sub"],
                        user_name=claims.get("uname", claims["sub"]),
                        project_id=claims["pid"],
                        project_name=claims.get("pname", claims["pid"]),
                        roles=claims["roles"],
                    )
            else:
                auth.set_invalid(environ)
            return app(environ, start_response)

        return serve

    def www_authenticate(self) -> str | None:
        base = str(self.conf.api.public_endpoint or "").rstrip("/")
        return f'Keystone uri="{base}{PREFIX}"' if base else f'Keystone uri="{PREFIX}"'

    def _identity_api(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        from werkzeug.wrappers import Request

        request = Request(environ)
        path = request.path.rstrip("/") or "/"
        base = public_base_url(self.conf, request.host_url)
        headers: list[tuple[str, str]] = []
        status = 200
        body: Any
        try:
            if path == PREFIX and request.method in ("GET", "HEAD"):
                body = {"versions": {"values": [self._v3_document(base)]}}
            elif path == V3 and request.method in ("GET", "HEAD"):
                body = {"version": self._v3_document(base)}
            elif path == TOKENS and request.method == "POST":
                token, claims = self._authenticate(request)
                status, body = 201, {"token": self._token_body(claims, base)}
                headers.append(("X-Subject-Token", token))
            elif path == TOKENS and request.method in ("GET", "HEAD"):
                subject, claims = self._validate_request(request)
                catalog = request.args.get("nocatalog") is None
                body = {"token": self._token_body(claims, base, catalog)}
                headers.append(("X-Subject-Token", subject))
            elif path in (PREFIX, V3, TOKENS):
                raise _KeystoneError(
                    405, "Method Not Allowed", f"{request.method} is not allowed on {path}"
                )
            else:
                raise _KeystoneError(
                    404,
                    "Not Found",
                    f"{path} is not served by nubis's "
                    "identity service (only version discovery and "
                    "/v3/auth/tokens are)",
                )
        except Unauthorized as exc:
            status, body = 401, self._error(401, "Unauthorized", exc.message)
            headers.append(("WWW-Authenticate", f'Keystone uri="{base}{PREFIX}"'))
        except Fault as fault:
            status, body = fault.status, self._error(fault.status, "Bad Request", fault.message)
        except _KeystoneError as exc:
            status, body = exc.status, self._error(exc.status, exc.title, exc.message)
        except Exception:
            LOG.exception("identity request %s %s failed", request.method, path)
            status, body = 500, self._error(500, "Internal Server Error", "Unexpected error.")
        payload = json.dumps(body).encode()
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        reasons = {
            200: "OK",
            201: "Created",
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            405: "Method Not Allowed",
            413: "Request Entity Too Large",
            500: "Internal Server Error",
        }
        start_response(f"{status} {reasons.get(status, 'Error')}", headers)
        return [] if request.method == "HEAD" else [payload]

    @staticmethod
    def _error(status: int, title: str, message: str) -> dict[str, Any]:
        return {"error": {"code": status, "title": title, "message": message}}

    @staticmethod
    def _v3_document(base: str) -> dict[str, Any]:
        return {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base}{V3}/"}],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
            ],
        }

    def _read_json(self, request: Any) -> Any:
        limit = int(self.conf.api.max_request_body_size)
        data = request.stream.read(limit + 1)
        if len(data) > limit:
            raise _KeystoneError(
                413, "Request Entity Too Large", f"Request body is larger than {limit} bytes."
            )
        try:
            return json.loads(data or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Fault(400, f"Malformed request body: {exc}") from None

    @staticmethod
    def _in_default_domain(named: dict[str, Any]) -> bool:
        domain = named.get("domain") or {}
        return domain.get("id", identity.DEFAULT_DOMAIN[0]) == identity.DEFAULT_DOMAIN[0] and (
            domain.get("name", identity.DEFAULT_DOMAIN[1]) == identity.DEFAULT_DOMAIN[1]
        )

    def _authenticate(self, request: Any) -> tuple[str, dict[str, Any]]:
        body = self._read_json(request)
        validate(AUTH_BODY, body)
        auth_body = body["auth"]
        methods = auth_body["identity"]["methods"]
        scope = auth_body.get("scope")
        project = None
        if isinstance(scope, dict):
            wanted = scope["project"]
            if not self._in_default_domain(wanted):
                raise Unauthorized(reason="nubis's identity service has only the Default domain.")
            project = wanted.get("id") or wanted.get("name")
        if "password" in methods:
            password = auth_body["identity"].get("password")
            if password is None:
                raise Fault(
                    400,
                    "Invalid input for field/attribute auth.identity.password: "
                    "required by method password.",
                )
            user = password["user"]
            if not self._in_default_domain(user) and "id" not in user:
                raise Unauthorized(reason="nubis's identity service has only the Default domain.")
            who = self.store.authenticate(user.get("id") or user["name"], user["password"], project)
        else:
            token = auth_body["identity"].get("token")
            if token is None:
                raise Fault(
                    400,
                    "Invalid input for field/attribute auth.identity.token: "
                    "required by method token.",
                )
            claims = self.validate(token["id"])
            scope_id = project or claims["pid"]
            try:
                project_row = self.store.project(scope_id)
            except exception.NotFound:
                raise Unauthorized(reason=f"no role on project {scope_id}") from None
            roles = self.store.roles_on(claims["sub"], project_row.id)
            if not roles:
                raise Unauthorized(reason=f"no role on project {scope_id}")
            who = identity.Identity(
                claims["sub"],
                claims.get("uname", claims["sub"]),
                project_row.id,
                project_row.name,
                tuple(roles),
            )
        return self.issue(who, list(methods))

    def _validate_request(self, request: Any) -> tuple[str, dict[str, Any]]:
        caller_token = request.headers.get("X-Auth-Token", "")
        subject = request.headers.get("X-Subject-Token", "")
        if not caller_token:
            raise Unauthorized(reason="The request you have made requires authentication.")
        caller = self.validate(caller_token)
        if not subject:
            raise Fault(400, "Invalid input for header X-Subject-Token: required.")
        try:
            claims = self.validate(subject)
        except Unauthorized as exc:
            raise _KeystoneError(404, "Not Found", f"Could not find token: {exc.message}") from None
        if claims["sub"] != caller["sub"] and not PRIVILEGED_ROLES & set(caller["roles"]):
            raise _KeystoneError(
                403, "Forbidden", "You are not authorized to validate another user's token."
            )
        return subject, claims

    def catalog(self, base: str) -> list[dict[str, Any]]:
        region = str(self.conf.api.region_name)

        def service(kind: str, name: str, url: str) -> dict[str, Any]:
            return {
                "id": kind,
                "type": kind,
                "name": name,
                "endpoints": [
                    {
                        "id": f"{kind}-{interface}",
                        "interface": interface,
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                    for interface in ("public", "internal", "admin")
                ],
            }

        return [
            service("compute", "nova", f"{base}/v2.1"),
            service("image", "glance", f"{base}/image"),
            service("identity", "keystone", f"{base}{PREFIX}"),
        ]

    def _token_body(
        self, claims: dict[str, Any], base: str, catalog: bool = True
    ) -> dict[str, Any]:
        domain = {"id": identity.DEFAULT_DOMAIN[0], "name": identity.DEFAULT_DOMAIN[1]}
        body: dict[str, Any] = {
            "methods": claims.get("methods", ["password"]),
            "user": {
                "id": claims["sub"],
                "name": claims.get("uname"),
                "domain": domain,
                "password_expires_at": None,
            },
            "audit_ids": [claims.get("jti", "")],
            "expires_at": _isotime(claims["exp"]),
            "issued_at": _isotime(claims["iat"]),
            "project": {"id": claims["pid"], "name": claims.get("pname"), "domain": domain},
            "is_domain": False,
            "roles": [{"id": role, "name": role} for role in claims["roles"]],
        }
        if catalog:
            body["catalog"] = self.catalog(base)
        return body

    def openapi_paths(self) -> dict[str, Any]:
        error = {
            "description": "Keystone error",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
        ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
        return {
            PREFIX: {
                "get": {
                    "operationId": "get_identity",
                    "summary": "Identity versions",
                    "tags": ["identity"],
                    "security": [],
                    "responses": {"200": ok},
                }
            },
            V3: {
                "get": {
                    "operationId": "get_identity_v3",
                    "summary": "Identity v3",
                    "tags": ["identity"],
                    "security": [],
                    "responses": {"200": ok},
                }
            },
            TOKENS: {
                "post": {
                    "operationId": "post_identity_v3_auth_tokens",
                    "summary": "Issue a token (password or token method, project scope)",
                    "tags": ["identity"],
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": AUTH_BODY}},
                    },
                    "responses": {"201": ok, "400": error, "401": error, "413": error},
                },
                "get": {
                    "operationId": "get_identity_v3_auth_tokens",
                    "summary": "Validate the token in X-Subject-Token",
                    "tags": ["identity"],
                    "security": [{"token": []}],
                    "parameters": [
                        {
                            "name": "X-Subject-Token",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": ok,
                        "400": error,
                        "401": error,
                        "403": error,
                        "404": error,
                    },
                },
            },
        }
