"""The OpenAPI 3.1 document of nubis-api, generated from the route table.

Each operation carries its path and query parameters, its request body schema (the one
of the newest microversion range the route serves; ``POST .../action`` lists every
action as ``oneOf``), its success status and the fault statuses it may answer, the
policy rule that guards it (``x-policy``) and the microversion range it exists in
(``x-openstack-min-version`` / ``x-openstack-max-version``). The optional
``OpenStack-API-Version`` header parameter lists the versions worth trying.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from nubis.core.api import faults, microversion
from nubis.core.api.routing import BodySchema, Route
from nubis.core.version import VERSION

_FAULT_REF = {"$ref": "#/components/schemas/Fault"}
_COMMON_ERRORS = (400, 401, 403, 404)


def _fault_response(status: int) -> dict[str, Any]:
    return {
        "description": faults.FAULT_NAMES.get(status, faults.DEFAULT_FAULT),
        "content": {"application/json": {"schema": _FAULT_REF}},
    }


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _newest_body(route: Route) -> BodySchema | None:
    """The body schema of *route* at the newest microversion served (a route may
    declare Nova's bodies of microversions beyond it)."""
    served = [
        body
        for body in route.bodies
        if body.min_version is None or microversion.MAX_VERSION >= body.min_version
    ]
    return served[-1] if served else None


def _version_header(routes: list[Route]) -> dict[str, Any] | None:
    if routes[0].api != "compute":
        return None
    versions: list[str] = []
    for route in routes:
        low = route.min_version or str(microversion.MIN_VERSION)
        high = route.max_version or "latest"
        newest_body = _newest_body(route)
        if newest_body is not None and newest_body.min_version:
            low = newest_body.min_version
        for version in (low, high):
            if f"compute {version}" not in versions:
                versions.append(f"compute {version}")
    return {
        "name": microversion.HEADER,
        "in": "header",
        "required": False,
        "description": "The compute API microversion; none means the minimum.",
        "schema": {"type": "string", "enum": versions},
    }


def _operation(routes: list[Route]) -> dict[str, Any]:
    route = routes[0]
    operation: dict[str, Any] = {
        "operationId": re.sub(r"\W+", "_", f"{route.method}_{route.path}").strip("_").lower(),
        "summary": route.summary
        if not route.action
        else "Server actions: " + ", ".join(r.action or "" for r in routes),
        "tags": [route.tag or route.api],
        "parameters": _path_parameters(route.path),
        "responses": {},
    }
    for name, spec in route.query.items():
        operation["parameters"].append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": spec.description,
                "schema": spec.schema(),
            }
        )
    header = _version_header(routes)
    if header is not None:
        operation["parameters"].append(header)
    bodies = [body.schema for body in map(_newest_body, routes) if body is not None]
    if bodies:
        schema = bodies[0] if len(bodies) == 1 else {"oneOf": bodies}
        operation["requestBody"] = {
            "required": True,
            "content": {route.content_type: {"schema": schema}},
        }
    elif route.content_type != "application/json":
        operation["requestBody"] = {
            "required": True,
            "content": {route.content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    statuses = sorted({r.status for r in routes})
    for status in statuses:
        description = "Accepted" if status == 202 else "No content" if status == 204 else "OK"
        response: dict[str, Any] = {"description": description}
        if status not in (202, 204):
            response["content"] = {"application/json": {"schema": {"type": "object"}}}
        operation["responses"][str(status)] = response
    errors = set(_COMMON_ERRORS) if not route.public else {400, 404}
    if route.api == "compute":
        errors.add(406)
    if bodies or route.content_type != "application/json":
        errors.update((413, 415))
    for r in routes:
        errors.update(r.responses)
    for status in sorted(errors):
        operation["responses"][str(status)] = _fault_response(status)
    operation["security"] = [] if route.public else [{"token": []}]
    policies = sorted({r.policy for r in routes if r.policy})
    if policies:
        operation["x-policy"] = policies
    operation["x-openstack-min-version"] = min(
        (r.min_version or str(microversion.MIN_VERSION) for r in routes),
        key=microversion.APIVersion.parse,
    )
    highs = [r.max_version for r in routes]
    operation["x-openstack-max-version"] = (
        str(microversion.MAX_VERSION)
        if None in highs
        else max((h for h in highs if h), key=microversion.APIVersion.parse)
    )
    return operation


def document(
    routes: Iterable[Route], extra_paths: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The OpenAPI document of *routes* plus *extra_paths* (an auth plugin's own)."""
    grouped: dict[tuple[str, str], list[Route]] = {}
    for route in routes:
        grouped.setdefault((route.path, route.method), []).append(route)
    paths: dict[str, Any] = {}
    for (path, method), group in grouped.items():
        paths.setdefault(path, {})[method.lower()] = _operation(group)
    for path, item in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nubis API",
            "version": VERSION,
            "description": (
                "The OpenStack Compute API v2.1 subset nubis serves (microversions "
                f"{microversion.MIN_VERSION} to {microversion.MAX_VERSION}), the image "
                "listing, and the embedded identity service when auth_strategy is local. "
                "Bodies are documented at the newest microversion of each route."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {"Fault": faults.schema()},
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}
            },
        },
    }
