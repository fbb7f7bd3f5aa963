"""Routes: what each (method, path, microversion range) of the API does and checks.

A :class:`Route` declares everything about one operation that the machinery acts on
and the OpenAPI document describes: the handler, the policy rule, the body schema per
microversion, the query parameters, the success status, whether it needs a token.
``POST .../action`` routes are one :class:`Route` per action name (``os-start``,
``reboot`` ...) sharing the path; the body's single key picks one.

:class:`Router` matches a request to its route with werkzeug's URL map. A path that
exists but not at the requested microversion is a 404, as in Nova, and so is a
trailing slash after a collection that also serves ``<collection>/{id}`` with the same
method (``GET /os-simple-tenant-usage/``: an item with an empty id, not the list).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug import exceptions as wz_exceptions
from werkzeug.routing import Map, Rule

from nubis.core.api.faults import Fault
from nubis.core.api.microversion import APIVersion
from nubis.core.api.validation import Query

Handler = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class BodySchema:
    """The request body schema of a route between two microversions (inclusive)."""

    schema: Mapping[str, Any]
    min_version: str | None = None
    max_version: str | None = None


@dataclasses.dataclass(frozen=True)
class Route:
    """One API operation; see the module docstring.

    * ``path`` uses ``{name}`` placeholders, e.g. ``/v2.1/servers/{server_id}``;
    * ``policy``: the oslo.policy rule. With ``target="caller"`` the machinery checks it
      against the caller's own project before the handler runs; with
      ``target="resource"`` the handler checks it against the resource it loaded;
    * ``bodies``: the accepted body schema per microversion range (empty: no body);
    * ``api``: ``compute`` routes honour microversion headers; ``image`` and ``meta``
      routes do not;
    * ``public``: served without authentication (version documents, the OpenAPI
      document);
    * ``responses``: extra documented error statuses beyond 400/401/403/404;
    * ``content_type``: the request body's media type. Only ``application/json`` bodies
      are read and validated by the machinery; a route with another type (an image
      upload, a JSON patch) reads ``req.raw`` itself and checks the type.
    * ``lookup``: for an action route, ``lookup(req, **path_args)`` loads the resource
      the action path names and raises its 404 when the caller cannot see it. Before a
      body naming an action not served here is refused (400), the machinery calls the
      ``lookup`` of a route sharing the path, so a missing server answers 404 first, as
      in Nova (which serves more actions, each loading the server first).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    policy: str | None = None
    target: str = "caller"
    bodies: tuple[BodySchema, ...] = ()
    query: Mapping[str, Query] = dataclasses.field(default_factory=dict)
    min_version: str | None = None
    max_version: str | None = None
    status: int = 200
    public: bool = False
    api: str = "compute"
    action: str | None = None
    tag: str = ""
    response_schema: Mapping[str, Any] | None = None
    responses: tuple[int, ...] = ()
    content_type: str = "application/json"
    lookup: Handler | None = None

    def matches(self, version: APIVersion | None) -> bool:
        if version is None:
            return True
        return version.matches(self.min_version, self.max_version)

    def body_schema(self, version: APIVersion | None) -> Mapping[str, Any] | None:
        """The body schema at *version*, or None when the route takes no body."""
        for body in self.bodies:
            if version is None or version.matches(body.min_version, body.max_version):
                return body.schema
        return None


def _empty_id(method: str, path: str) -> Fault:
    return Fault(404, f"The resource could not be found: {method} of an empty id under {path}.")


def _werkzeug_path(path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


class Router:
    """Matches requests to :class:`Route` objects."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: list[Route] = list(routes)
        self._by_key: dict[tuple[str, str], list[Route]] = {}
        for route in self.routes:
            self._by_key.setdefault((route.path, route.method), []).append(route)
        rules = [
            Rule(_werkzeug_path(path), endpoint=(path, method), methods=[method])
            for path, method in self._by_key
        ]
        # (collection, method) pairs that also serve "<collection>/{id}" with that method
        self._items_of = {
            (path[: path.rindex("/")], method)
            for path, method in self._by_key
            if re.search(r"/\{\w+\}$", path)
        }
        self.map = Map(rules, strict_slashes=False, merge_slashes=False)

    def match(
        self, path: str, method: str, version_of: Callable[[Sequence[Route]], APIVersion | None]
    ) -> tuple[list[Route], dict[str, str], APIVersion | None]:
        """Return (candidate routes, path arguments, version) for a request.

        *version_of* is asked for the request's microversion once the path is known
        (it raises for a bad header). Candidates are the routes of that path and
        method serving that version: one route, or several actions. Raises a 404 or
        405 Fault when nothing matches.
        """
        trailing_slash = len(path) > 1 and path.endswith("/")
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        adapter = self.map.bind("nubis", path_info=path)
        lookup = "GET" if method == "HEAD" else method
        try:
            (route_path, route_method), args = adapter.match(path_info=path, method=lookup)
        except wz_exceptions.MethodNotAllowed as exc:
            if trailing_slash:
                # ``DELETE /images/``: an item with an empty id, not the collection (Nova)
                raise _empty_id(method, path) from None
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            raise Fault(
                405,
                f"Method {method} is not allowed here; allowed: {allowed}",
                headers=[("Allow", allowed)],
            ) from None
        except wz_exceptions.HTTPException:
            raise Fault(404, "The resource could not be found.") from None
        if trailing_slash and (route_path, route_method) in self._items_of:
            # ``GET /os-simple-tenant-usage/``: an item with an empty id, not the
            # collection (Nova's routes never match an empty path segment)
            raise _empty_id(method, path)
        routes = self._by_key[(route_path, route_method)]
        version = version_of(routes)
        serving = [route for route in routes if route.matches(version)]
        if not serving:
            raise Fault(
                404,
                f"The resource could not be found: {route_method} {route_path} is not "
                f"available at microversion {version}.",
            )
        return serving, dict(args), version

    @staticmethod
    def pick_action(routes: Sequence[Route], body: Any) -> Route:
        """Return the action route *body* (``{"<action>": ...}``) names; 400 otherwise."""
        known = {route.action: route for route in routes if route.action}
        if not isinstance(body, dict) or len(body) != 1:
            raise Fault(
                400,
                "An action body is an object with exactly one key naming the action; "
                f"actions here: {', '.join(sorted(known))}",
            )
        (name,) = body
        if name not in known:
            raise Fault(
                400, f"There is no such action: {name}; actions here: {', '.join(sorted(known))}"
            )
        return known[name]
