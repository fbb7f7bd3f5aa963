"""Helpers the resources share: time format, links, paging, loading a server the caller
may see."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from nubis.core import exception
from nubis.core.api.faults import Fault
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

T = TypeVar("T")

V21 = "/v2.1"

PAGING = {
    "limit": Query("integer", "Most items to return (capped at [api] max_limit).", minimum=0),
    "marker": Query("string", "Id of the last item of the previous page."),
}


def utc_naive(value: datetime.datetime) -> datetime.datetime:
    """*value* in UTC without a zone (the database's and query parameters' form); a
    naive *value* is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def isotime(value: datetime.datetime | None) -> str | None:
    """``2024-05-01T12:00:00Z`` (UTC, seconds) or None."""
    return None if value is None else utc_naive(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def isotime_micro(value: datetime.datetime | None) -> str | None:
    """``2024-05-01T12:00:00.123456`` (UTC, microseconds, no zone: Nova's format for
    migrations and instance actions) or None."""
    return None if value is None else utc_naive(value).isoformat(timespec="microseconds")


def links(req: Request, collection: str, item_id: Any) -> list[dict[str, str]]:
    """Nova's self and bookmark links of one item of *collection* (e.g. ``servers``)."""
    return [
        {"rel": "self", "href": req.url(f"{V21}/{collection}/{item_id}")},
        {"rel": "bookmark", "href": req.url(f"/{collection}/{item_id}")},
    ]


def limit_of(req: Request) -> int:
    """The page size asked for, capped at ``[api] max_limit``."""
    max_limit = int(req.conf.api.max_limit)
    asked = req.arg("limit")
    return max_limit if asked is None else min(int(asked), max_limit)


def next_link(
    req: Request, path: str, items: Sequence[Any], limit: int, marker_of: Callable[[Any], str]
) -> list[dict[str, str]]:
    """``[{"rel": "next", "href": ...}]`` when a full page was returned, else ``[]``."""
    if not items or len(items) < limit:
        return []
    params = {k: v for k, v in req.raw.args.items(multi=True) if k not in ("marker",)}
    params["limit"] = str(limit)
    params["marker"] = marker_of(items[-1])
    return [{"rel": "next", "href": req.url(path, params)}]


def page(items: Sequence[T], marker: str | None, limit: int, key: Callable[[T], str]) -> list[T]:
    """Slice *items* after the one whose *key* is *marker* (400 if none is), *limit* long."""
    start = 0
    if marker is not None:
        for index, item in enumerate(items):
            if key(item) == marker:
                start = index + 1
                break
        else:
            raise Fault(400, f"marker {marker} could not be found")
    return list(items[start : start + limit])


def get_server(req: Request, compute_api: Any, server_id: str) -> Any:
    """The instance *server_id*; 404 unless the caller's project owns it or is admin."""
    context = req.context
    instance = compute_api.get(context, server_id)
    if not req.is_admin and instance.project_id != context.project_id:
        raise exception.InstanceNotFound(instance_id=server_id)
    return instance


def target_of(instance: Any) -> dict[str, Any]:
    """The policy target of an instance: its project and user."""
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def authorized_server(req: Request, compute_api: Any, server_id: str, rule: str) -> Any:
    """:func:`get_server`, then *rule* checked against it (403 when it refuses)."""
    instance = get_server(req, compute_api, server_id)
    req.authorize(rule, target_of(instance))
    return instance


def meta_item(req: Request, key: str) -> dict[str, str]:
    """The ``meta`` of a ``PUT .../metadata/{key}`` body, 400 unless it sets *key*."""
    meta: dict[str, str] = req.body["meta"]
    if key not in meta:
        raise Fault(
            400,
            f"Request body and URI mismatch: the body sets {next(iter(meta))!r}, the URI "
            f"names {key!r}.",
        )
    return meta
