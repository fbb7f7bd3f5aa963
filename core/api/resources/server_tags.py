"""``/servers/{id}/tags`` (microversion 2.26+): a server's tags, as Nova serves them
(``openstack server set/unset --tag``).

* ``GET .../tags`` lists them (``{"tags": [...]}``, sorted); ``PUT .../tags`` with
  ``{"tags": [...]}`` (at most 50) replaces them and answers the new list;
  ``DELETE .../tags`` removes them all (204);
* ``GET .../tags/{tag}`` is 204 when the server has the tag, 404 when not;
  ``PUT .../tags/{tag}`` (no body) adds it: 201 with a ``Location`` header when it is
  new, 204 when the server has it already, 400 when the server has 50 tags already
  (even if the tag is one of them, as in Nova) or the tag is not 1-60 characters
  without '/' and ','; ``DELETE .../tags/{tag}`` removes it (204; 404 when absent).

A change is refused with 409 unless the server is active, paused, suspended or stopped
(Nova's rule; a task in progress does not matter). Every change runs in one database
transaction with the server's row locked (:mod:`nubis.core.db.api.instance_tags`), so
concurrent adds cannot pass the limit. Another project's server is a 404, as for every
server route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21, authorized_server
from nubis.core.api.resources.servers import SERVER, SERVER_TAGS, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

COLLECTION = f"{SERVER}/tags"
ITEM = f"{COLLECTION}/{{tag}}"
MIN_VERSION = "2.26"

TAGS_BODY = {
    "type": "object",
    "properties": {"tags": SERVER_TAGS},
    "required": ["tags"],
    "additionalProperties": False,
}
"""``PUT .../tags``: ``{"tags": [...]}``, Nova's ``update_all`` schema."""

NO_BODY = {"type": "null"}
"""``PUT .../tags/{tag}`` takes no body (Nova's ``update`` schema)."""


class ServerTags:
    """Handlers of the /servers/{id}/tags routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _server(self, req: Request, server_id: str, rule: str) -> Any:
        return authorized_server(req, self.deps.compute_api, server_id, rule)

    @staticmethod
    def _change(action: str, server_id: str, change: Callable[..., Any], *args: Any) -> Any:
        """Run a DB tag *change*; a server in the wrong vm state is Nova's 409."""
        try:
            return change(*args)
        except exception.InstanceInvalidState as exc:
            raise Fault(
                409,
                f"Cannot '{action}' instance {server_id} while it is in vm_state "
                f"{exc.kwargs.get('vm_state')}",
            ) from None

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_TAGS_INDEX)
        return {"tags": db.instance_tag_get_by_instance_uuid(req.context, instance.uuid)}

    def show(self, req: Request, server_id: str, tag: str) -> Reply:
        instance = self._server(req, server_id, policies.SERVER_TAGS_SHOW)
        if not db.instance_tag_exists(req.context, instance.uuid, tag):
            shown = db.instance_tag_shown(tag)
            raise exception.NotFound(f"Server {server_id} has no tag '{shown}'")
        return Reply(204)

    def update_all(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.SERVER_TAGS_UPDATE_ALL)
        tags = req.body["tags"]
        context = req.context
        changed = self._change(
            "update tags", server_id, db.instance_tag_set, context, instance.uuid, tags
        )
        return {"tags": changed}

    def update(self, req: Request, server_id: str, tag: str) -> Reply:
        instance = self._server(req, server_id, policies.SERVER_TAGS_UPDATE)
        added = self._change(
            "update tag", server_id, db.instance_tag_add, req.context, instance.uuid, tag
        )
        if not added:
            return Reply(204)
        location = req.url(f"{V21}/servers/{instance.uuid}/tags/{quote(tag, safe='')}")
        return Reply(201, None, [("Location", location)])

    def delete(self, req: Request, server_id: str, tag: str) -> Reply:
        instance = self._server(req, server_id, policies.SERVER_TAGS_DELETE)
        self._change(
            "delete tag", server_id, db.instance_tag_delete, req.context, instance.uuid, tag
        )
        return Reply(204)

    def delete_all(self, req: Request, server_id: str) -> Reply:
        instance = self._server(req, server_id, policies.SERVER_TAGS_DELETE_ALL)
        self._change(
            "delete tags", server_id, db.instance_tag_delete_all, req.context, instance.uuid
        )
        return Reply(204)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerTags(deps)

    def route(method: str, path: str, handler: Any, summary: str, rule: str, **kw: Any) -> Route:
        return Route(
            method,
            path,
            handler,
            summary,
            policy=rule,
            target="resource",
            tag=TAG,
            min_version=MIN_VERSION,
            **kw,
        )

    return [
        route(
            "GET", COLLECTION, handlers.index, "List a server's tags", policies.SERVER_TAGS_INDEX
        ),
        route(
            "PUT",
            COLLECTION,
            handlers.update_all,
            "Replace all of a server's tags",
            policies.SERVER_TAGS_UPDATE_ALL,
            bodies=(BodySchema(TAGS_BODY),),
            responses=(409,),
        ),
        route(
            "DELETE",
            COLLECTION,
            handlers.delete_all,
            "Remove every tag of a server",
            policies.SERVER_TAGS_DELETE_ALL,
            status=204,
            responses=(409,),
        ),
        route(
            "GET",
            ITEM,
            handlers.show,
            "Check that a server has a tag (204, or 404)",
            policies.SERVER_TAGS_SHOW,
            status=204,
        ),
        route(
            "PUT",
            ITEM,
            handlers.update,
            "Add a tag to a server (201 when new, 204 when it has it already)",
            policies.SERVER_TAGS_UPDATE,
            bodies=(BodySchema(NO_BODY),),
            status=201,
            responses=(409,),
        ),
        route(
            "DELETE",
            ITEM,
            handlers.delete,
            "Remove a tag from a server",
            policies.SERVER_TAGS_DELETE,
            status=204,
            responses=(409,),
        ),
    ]
