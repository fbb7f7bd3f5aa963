"""The WSGI application: one request through routing, microversion, authentication
check, body and query validation, policy, the handler, and the fault format.

Every response is JSON and carries ``x-openstack-request-id`` (and, for the compute
API, ``x-compute-request-id`` and the microversion headers): a request id made here,
which the request context carries through every RPC message into every service's log
records. A caller's own ``X-OpenStack-Request-ID`` (``req-<uuid>``, as Nova accepts it)
becomes the context's global request id, logged beside it; one in any other form is
ignored, as Nova ignores it. Whatever goes wrong
becomes a Nova-format fault (:mod:`nubis.core.api.faults`); an unexpected exception is
logged with its traceback and answered 500 without it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from oslo_config import cfg
from oslo_context import context as oslo_context
from werkzeug.wrappers import Request as WerkzeugRequest

from nubis.core import metrics
from nubis.core.api import auth, microversion, policy
from nubis.core.api.faults import Fault, from_exception
from nubis.core.api.faults import body as fault_body
from nubis.core.api.microversion import APIVersion
from nubis.core.api.routing import Route, Router
from nubis.core.api.validation import parse_json, parse_query, validate

LOG = logging.getLogger(__name__)

JSON = "application/json"

#: The form of a caller's ``X-OpenStack-Request-ID`` taken as the global request id.
GLOBAL_REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclasses.dataclass
class Reply:
    """What a handler may return instead of a plain body: status, body and headers."""

    status: int
    body: Any = None
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Stream:
    """A body sent as it is produced rather than as JSON (an image download): *chunks*
    of bytes, *length* bytes in all, of *content_type*."""

    chunks: Iterable[bytes]
    length: int
    content_type: str = "application/octet-stream"

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


class Request:
    """One API request as handlers see it."""

    def __init__(
        self,
        raw: WerkzeugRequest,
        conf: cfg.ConfigOpts,
        route: Route,
        version: APIVersion | None,
        context: Any,
        body: Any,
        query: dict[str, Any],
    ) -> None:
        self.raw = raw
        self.conf = conf
        self.route = route
        self.version = version or microversion.MIN_VERSION
        self.context = context
        self.body = body
        self.query = query

    @functools.cached_property
    def base_url(self) -> str:
        """The URL clients reach this API at, without a trailing slash (never taken
        from the request's Host header)."""
        return base_url_of(self.raw.environ, self.conf)

    def url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        """The absolute URL of *path* (e.g. ``/v2.1/servers/<id>``) with *query*."""
        link = self.base_url + path
        if query:
            link += "?" + urlencode(query, doseq=True)
        return link

    def at_least(self, version: str) -> bool:
        """Whether the request's microversion is *version* or newer."""
        return self.version >= version

    @property
    def is_admin(self) -> bool:
        return bool(self.context is not None and self.context.is_admin)

    def authorize(self, rule: str, target: Mapping[str, Any] | None = None) -> None:
        """Raise 403 unless the caller may do *rule* on *target* (default: own project)."""
        policy.authorize(self.context, rule, target, conf=self.conf)

    def can(self, rule: str, target: Mapping[str, Any] | None = None) -> bool:
        """Whether the caller may do *rule* on *target* (no exception)."""
        return policy.check(self.context, rule, target, conf=self.conf)

    def arg(self, name: str, default: Any = None) -> Any:
        """A validated query parameter (or *default* when absent)."""
        return self.query.get(name, default)


BASE_URL_KEY = "nubis.base_url"
"""The WSGI environ key under which the composed application
(:class:`~nubis.core.api.app.APIApp`) puts the URL clients reach nubis-api at; the
auth plugins read it (through :func:`base_url_of`) for the links they answer with."""


def public_base_url(conf: cfg.ConfigOpts, port: int | None = None) -> str:
    """``[api] public_endpoint`` if set, else ``http://<[api] listen>:<port>`` (127.0.0.1
    for a wildcard address; *port* defaults to ``[api] port``, give the bound one).

    Never the Host header of a request: a client must not be able to choose the URLs
    the service catalog and links send other clients to.
    """
    configured = str(conf.api.public_endpoint or "").rstrip("/")
    if configured:
        return configured
    host = str(conf.api.listen)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{conf.api.port if port is None else port}"


def base_url_of(environ: Mapping[str, Any], conf: cfg.ConfigOpts) -> str:
    """The URL clients reach this API at: the one the application put in *environ*, or
    :func:`public_base_url`."""
    return str(environ.get(BASE_URL_KEY) or public_base_url(conf))


class Application:
    """The WSGI application serving *routes*; see the module docstring. Every request's
    latency is recorded in :mod:`nubis.core.metrics` by method, route template and
    status."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        routes: Iterable[Route],
        www_authenticate: Callable[[], str | None] | None = None,
    ) -> None:
        self.conf = conf
        self.router = Router(routes)
        self._www_authenticate = www_authenticate or (lambda: None)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = time.monotonic()
        request_id = environ.setdefault("openstack.request_id", oslo_context.generate_request_id())
        inbound = environ.get("HTTP_X_OPENSTACK_REQUEST_ID", "")
        if GLOBAL_REQUEST_ID.fullmatch(inbound):
            environ.setdefault("openstack.global_request_id", inbound)
        raw = WerkzeugRequest(environ)
        headers: list[tuple[str, str]] = [("x-openstack-request-id", request_id)]
        version: APIVersion | None = None
        api = "meta"
        route: str | None = None  # the template, for the metrics
        path, legacy = legacy_v2_path(raw.path)
        try:
            routes, args, version = self.router.match(
                path, raw.method, lambda found: self._version_of(found, raw, legacy)
            )
            api = routes[0].api
            route = routes[0].path
            status, body, extra = self._serve(raw, routes, args, version)
            headers.extend(extra)
        except Exception as exc:  # every failure becomes a fault response
            fault = from_exception(exc)
            status, body = fault.status, fault_body(fault.status, fault.message)
            headers.extend(fault.headers)
            if fault.status == 401:
                challenge = self._www_authenticate()
                if challenge:
                    headers.append(("WWW-Authenticate", challenge))
        if api == "compute":
            headers.append(("x-compute-request-id", request_id))
            if version is not None and not legacy:
                headers.extend(microversion.response_headers(version))
        payload = b""
        stream = body if isinstance(body, Stream) else None
        if stream is not None:
            headers.append(("Content-Type", stream.content_type))
        elif body is not None and status != 204:
            payload = json.dumps(body).encode()
            headers.append(("Content-Type", JSON))
        length = stream.length if stream is not None else len(payload)
        headers.append(("Content-Length", str(length)))
        start_response(f"{status} {_reason(status)}", headers)
        took = time.monotonic() - started
        LOG.info(
            '%s "%s %s" status: %s len: %s time: %.4f',
            request_id,
            raw.method,
            raw.full_path.rstrip("?"),
            status,
            length,
            took,
        )
        metrics.api_request(raw.method, route, status, took)
        if stream is not None:
            if raw.method == "HEAD":
                stream.close()
                return []
            return stream.chunks
        return [] if raw.method == "HEAD" else [payload]

    @staticmethod
    def _version_of(
        routes: Sequence[Route], raw: WerkzeugRequest, legacy: bool
    ) -> APIVersion | None:
        if routes[0].api != "compute":
            return None
        if legacy:
            return microversion.MIN_VERSION
        return microversion.requested(raw.headers)

    def _serve(
        self,
        raw: WerkzeugRequest,
        routes: list[Route],
        args: dict[str, str],
        version: APIVersion | None,
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        route = routes[0]
        context = auth.context_from_environ(raw.environ)
        if context is not None:
            context.is_admin = policy.is_admin(context, self.conf)
        if context is None and not route.public:
            raise Fault(401, "The request you have made requires authentication.")
        body = None
        if raw.method in ("POST", "PUT") and route.content_type == JSON:
            body = self._json_body(raw)
            if route.action is not None:
                route = self._pick_action(raw, routes, args, version, context, body)
            schema = route.body_schema(version)
            if schema is not None:
                validate(schema, body)
        query = parse_query(route.query, raw.args)
        request = Request(raw, self.conf, route, version, context, body, query)
        if route.policy and route.target == "caller":
            request.authorize(route.policy)
        result = route.handler(request, **args)
        if isinstance(result, Reply):
            return result.status, result.body, result.headers
        return route.status, result, []

    def _pick_action(
        self,
        raw: WerkzeugRequest,
        routes: list[Route],
        args: dict[str, str],
        version: APIVersion | None,
        context: Any,
        body: Any,
    ) -> Route:
        """The action route *body* names; when it names an action not served here, the
        path's resource is looked up first (its 404 wins over the 400), as in Nova, which
        loads the server in the action's handler. A body naming no single action is
        refused at once."""
        try:
            return Router.pick_action(routes, body)
        except Fault:
            lookup = next((r.lookup for r in routes if r.lookup is not None), None)
            if lookup is not None and isinstance(body, dict) and len(body) == 1:
                lookup(Request(raw, self.conf, routes[0], version, context, body, {}), **args)
            raise

    def _json_body(self, raw: WerkzeugRequest) -> Any:
        limit = int(self.conf.api.max_request_body_size)
        if raw.content_length is not None and raw.content_length > limit:
            raise Fault(413, f"Request body is larger than the limit of {limit} bytes.")
        data = raw.stream.read(limit + 1)
        if len(data) > limit:
            raise Fault(413, f"Request body is larger than the limit of {limit} bytes.")
        if not data.strip():
            return None
        mimetype = raw.mimetype or JSON
        if mimetype != JSON and not mimetype.endswith("+json"):
            raise Fault(415, f"Unsupported Content-Type {mimetype}; send application/json.")
        return parse_json(data)


LEGACY_V2 = "/v2"


def legacy_v2_path(path: str) -> tuple[str, bool]:
    """The path to route and whether it is the legacy v2 API's, as Nova serves it: a
    ``/v2/...`` compute path is the ``/v2.1/...`` one at microversion 2.1 whatever the
    headers ask (and answers without microversion headers); ``/v2`` itself is its
    version document."""
    if path.startswith(LEGACY_V2 + "/") and path.rstrip("/") != LEGACY_V2:
        return "/v2.1" + path[len(LEGACY_V2) :], True
    return path, path.rstrip("/") == LEGACY_V2


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
