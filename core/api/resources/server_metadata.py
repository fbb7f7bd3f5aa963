"""``/servers/{id}/metadata``: a server's user metadata, as Nova serves it (``openstack
server set/unset --property``).

List, replace all (``PUT``), merge (``POST``), show, set and delete one key. Keys are
1-255 characters, values at most 255; a server has at most its project's
``metadata_items`` quota (128 by default) of them. A change is refused with 409 while
the server is busy (a task running) or not active, paused, suspended or stopped, as in
Nova, and to non-administrators while the server is locked
(:mod:`nubis.core.compute.instance_lock`). Each change runs in one database
transaction with the server's row locked, so concurrent changes keep each other's keys.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception, quota
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, meta_item
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import meta_body, metadata_body
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute import instance_lock
from nubis.core.db import api as db

COLLECTION = f"{SERVER}/metadata"
ITEM = f"{COLLECTION}/{{key}}"


class ServerMetadata:
    """Handlers of the /servers/{id}/metadata routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _server(self, req: Request, server_id: str, rule: str) -> Any:
        return authorized_server(req, self.deps.compute_api, server_id, rule)

    def _change(self, req: Request, instance: Any, **change: Any) -> dict[str, str]:
        instance_lock.check_unlocked(req.context, instance)
        return db.instance_metadata_update(
            req.context,
            instance.uuid,
            max_items=quota.limits(req.context, req.conf, instance.project_id)["metadata_items"],
            **change,
        )

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_METADATA_INDEX)
        return {"metadata": dict(instance.user_metadata or {})}

    def show(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_METADATA_SHOW)
        values = instance.user_metadata or {}
        if key not in values:
            raise exception.MetadataItemNotFound(key=key)
        return {"meta": {key: values[key]}}

    def replace(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_METADATA_UPDATE_ALL)
        items = req.body["metadata"]
        return {"metadata": self._change(req, instance, items=items, replace=True)}

    def merge(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_METADATA_CREATE)
        return {"metadata": self._change(req, instance, items=req.body["metadata"])}

    def set_item(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_METADATA_UPDATE)
        meta = meta_item(req, key)
        self._change(req, instance, items=meta)
        return {"meta": {key: meta[key]}}

    def delete_item(self, req: Request, server_id: str, key: str) -> Reply:
        instance = self._server(req, server_id, policies.SERVER_METADATA_DELETE)
        self._change(req, instance, delete=key)
        return Reply(204)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerMetadata(deps)

    def route(method: str, path: str, handler: Any, summary: str, rule: str, **kw: Any) -> Route:
        return Route(method, path, handler, summary, policy=rule, target="resource", tag=TAG, **kw)

    return [
        route(
            "GET",
            COLLECTION,
            handlers.index,
            "List a server's metadata",
            policies.SERVER_METADATA_INDEX,
        ),
        route(
            "PUT",
            COLLECTION,
            handlers.replace,
            "Replace all of a server's metadata",
            policies.SERVER_METADATA_UPDATE_ALL,
            bodies=(BodySchema(metadata_body),),
            responses=(409,),
        ),
        route(
            "POST",
            COLLECTION,
            handlers.merge,
            "Add or change metadata items",
            policies.SERVER_METADATA_CREATE,
            bodies=(BodySchema(metadata_body),),
            responses=(409,),
        ),
        route("GET", ITEM, handlers.show, "Show one metadata item", policies.SERVER_METADATA_SHOW),
        route(
            "PUT",
            ITEM,
            handlers.set_item,
            "Set one metadata item",
            policies.SERVER_METADATA_UPDATE,
            bodies=(BodySchema(meta_body),),
            responses=(409,),
        ),
        route(
            "DELETE",
            ITEM,
            handlers.delete_item,
            "Delete one metadata item",
            policies.SERVER_METADATA_DELETE,
            status=204,
            responses=(409,),
        ),
    ]
