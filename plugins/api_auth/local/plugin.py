"""The ``local`` auth plugin: the identity front of nubis-api (see the package
docstring for what it serves and how tokens and throttling work)."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from oslo_config import cfg

from nubis.core import exception
from nubis.core.api import auth, identity
from nubis.core.api.exception import RetryLater, Unauthorized
from nubis.core.api.faults import Fault
from nubis.core.api.validation import parse_json, validate
from nubis.core.api.wsgi import base_url_of
from nubis.plugins.api_auth.local.errors import TITLES, KeystoneError, error_body
from nubis.plugins.api_auth.local.keys import load_or_create_key
from nubis.plugins.api_auth.local.options import register_opts
from nubis.plugins.api_auth.local.schemas import AUTH_BODY
from nubis.plugins.api_auth.local.throttle import AddressThrottle, too_many
from nubis.plugins.api_auth.local.v3_api import V3API

LOG = logging.getLogger(__name__)

PREFIX = "/identity"
V3 = PREFIX + "/v3"
TOKENS = V3 + "/auth/tokens"
ALGORITHM = "HS256"
TOKEN_TYPE = "nubis-local/1"
PRIVILEGED_ROLES = frozenset({"admin", "service"})


_KeystoneError = KeystoneError


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
        self.store = identity.IdentityStore(self._lockout())
        self.throttle = AddressThrottle()
        self._key: bytes | None = None
        self._key_lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, identity.TokenState | None]] = {}
        self._cache_lock = threading.Lock()
        self.v3 = V3API(self)

    def _lockout(self) -> identity.LockoutPolicy:
        return identity.LockoutPolicy(
            int(self.options.lockout_failure_attempts), float(self.options.lockout_duration)
        )

    def _apply_options(self) -> None:
        """Options that may have changed (they are read at each authentication)."""
        self.store.lockout = self._lockout()
        identity.configure_hashing(
            int(self.options.password_hash_concurrency), float(self.options.password_hash_wait)
        )

    # --- tokens ------------------------------------------------------------------------

    @property
    def key(self) -> bytes:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(str(self.options.token_key_file))
            return self._key

    def issue(
        self,
        who: identity.Identity,
        methods: list[str],
        renewing: dict[str, Any] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """A signed token for *who* and its claims. *renewing*: the claims of the token
        this one renews, whose expiry it keeps (as Keystone does) and whose audit id it
        chains."""
        now = time.time()
        expires = int(now) + int(self.options.token_expiration)
        chain: list[str] = []
        if renewing is not None:
            expires = min(expires, int(renewing["exp"]))
            chain = list(renewing.get("ajti") or [str(renewing.get("jti", ""))])[:1]
        claims = {
            "typ": TOKEN_TYPE,
            "sub": who.user_id,
            "uname": who.user_name,
            "pid": who.project_id,
            "pname": who.project_name,
            "roles": list(who.roles),
            "methods": methods,
            "iat": round(now, 6),
            "exp": expires,
            "jti": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
        }
        if chain:
            claims["ajti"] = chain
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

    def current_state(self, user_id: str, project_id: str) -> identity.TokenState | None:
        """The user's roles and token revocation time now (cached briefly), or None for
        a deleted/disabled user."""
        key = (user_id, project_id)
        now = time.monotonic()
        ttl = float(self.options.identity_cache_seconds)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < ttl:
                return cached[1]
        state = self.store.token_state(user_id, project_id)
        with self._cache_lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[key] = (now, state)
        return state

    def forget_state(self) -> None:
        """Forget the cached token states (after a change to users, projects or roles)."""
        with self._cache_lock:
            self._cache.clear()

    def current_roles(self, user_id: str, project_id: str) -> tuple[str, ...] | None:
        """The user's roles now (cached briefly), or None for a deleted/disabled user."""
        state = self.current_state(user_id, project_id)
        return None if state is None else state.roles

    def validate(self, token: str) -> dict[str, Any]:
        """Claims of *token* with the user's current roles; Unauthorized if unusable."""
        claims = self.decode(token)
        state = self.current_state(claims["sub"], claims["pid"])
        if state is None or not state.roles:
            raise Unauthorized(reason="The token's user or role assignment no longer exists.")
        if state.valid_after is not None and float(claims["iat"]) <= state.valid_after:
            raise Unauthorized(reason="The token has been revoked.")
        claims["roles"] = list(state.roles)
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
        base = base_url_of(environ, self.conf)
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
                answer = self.v3.serve(request, base, path)
                if answer is None:
                    raise _KeystoneError(
                        404,
                        "Not Found",
                        f"{path} is not served by nubis's identity service (see the "
                        "identity section of docs/api.md for what is)",
                    )
                status, body = answer
        except Unauthorized as exc:
            status, body = 401, self._error(401, "Unauthorized", exc.message)
            headers.append(("WWW-Authenticate", f'Keystone uri="{base}{PREFIX}"'))
        except RetryLater as exc:
            status = int(exc.code)
            title = "Too Many Requests" if status == 429 else "Service Unavailable"
            body = self._error(status, title, exc.message)
            headers.append(("Retry-After", str(exc.retry_after)))
        except Fault as fault:
            status, body = fault.status, self._error(fault.status, "Bad Request", fault.message)
        except _KeystoneError as exc:
            status, body = exc.status, self._error(exc.status, exc.title, exc.message)
        except Exception:
            LOG.exception("identity request %s %s failed", request.method, path)
            status, body = 500, self._error(500, "Internal Server Error", "Unexpected error.")
        if body is None:  # 204
            payload = b""
            headers.append(("Content-Length", "0"))
        else:
            payload = json.dumps(body).encode()
            headers += [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
            ]
        reasons = {200: "OK", 201: "Created", 204: "No Content", **TITLES}
        start_response(f"{status} {reasons.get(status, 'Error')}", headers)
        return [] if request.method == "HEAD" else [payload]

    @staticmethod
    def _error(status: int, title: str, message: str) -> dict[str, Any]:
        return error_body(status, title, message)

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

    def read_json(self, request: Any) -> Any:
        """The request's JSON body (413 past ``[api] max_request_body_size``, 400 if
        not JSON)."""
        limit = int(self.conf.api.max_request_body_size)
        data = request.stream.read(limit + 1)
        if len(data) > limit:
            raise _KeystoneError(
                413, "Request Entity Too Large", f"Request body is larger than {limit} bytes."
            )
        return parse_json(data or b"null")

    @staticmethod
    def _in_default_domain(named: dict[str, Any]) -> bool:
        domain = named.get("domain") or {}
        return domain.get("id", identity.DEFAULT_DOMAIN[0]) == identity.DEFAULT_DOMAIN[0] and (
            domain.get("name", identity.DEFAULT_DOMAIN[1]) == identity.DEFAULT_DOMAIN[1]
        )

    def _authenticate(self, request: Any) -> tuple[str, dict[str, Any]]:
        body = self.read_json(request)
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
            who = self._check_password(
                request, user.get("id") or user["name"], user["password"], project
            )
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
            return self.issue(who, list(methods), renewing=claims)
        return self.issue(who, list(methods))

    def _check_password(
        self, request: Any, user: str, password: str, project: str | None
    ) -> identity.Identity:
        """The password authentication, throttled (see the module docstring)."""
        found: list[identity.Identity] = []
        self.check_address(
            request, lambda: found.append(self.store.authenticate(user, password, project))
        )
        return found[0]

    def check_address(self, request: Any, check: Callable[[], None]) -> None:
        """Run the password *check* under the per-address throttle and the current
        lockout and hashing options: 429 while the address is throttled; an
        Unauthorized from *check* counts as the address's failure."""
        self._apply_options()
        address = str(request.remote_addr or "-")
        attempts = int(self.options.address_failure_attempts)
        window = float(self.options.address_failure_window)
        wait = self.throttle.retry_after(address, attempts, window)
        if wait is not None:
            LOG.warning(
                "throttled password authentication from %s: %d failures within %g s",
                address,
                attempts,
                window,
            )
            raise too_many(attempts, window, wait)
        try:
            check()
        except Unauthorized:
            self.throttle.failed(address, attempts)
            raise

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
            "audit_ids": [claims.get("jti", ""), *claims.get("ajti", [])],
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
            **self.v3.openapi_paths(),
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
