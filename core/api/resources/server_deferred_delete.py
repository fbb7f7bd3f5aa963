"""``POST /servers/{id}/action`` ``restore`` and ``forceDelete`` (Nova's
``os-deferred-delete``), both answered 202 with no body.

With ``[DEFAULT] reclaim_instance_interval`` > 0, ``DELETE /servers/{id}`` soft-deletes
(:mod:`nubis.core.compute.api_deferred_delete`): the server shows SOFT_DELETED until its
host reclaims it. ``restore`` brings a soft-deleted server back (409 in any other
state; 403 when the project's instance quota has no room for it again);
``forceDelete`` deletes a server at once, soft-deleted or not, as Nova's does (409 only
for a lock or a live migration, as a delete). A member acts on their own project's
servers (``os_compute_api:os-deferred-delete:restore``, ``...:force``).
"""

from __future__ import annotations

from typing import Any

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, get_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Reply, Request


def _any_value(key: str) -> dict[str, Any]:
    """Nova's body schema of these actions: the key, with any value."""
    return {
        "type": "object",
        "properties": {key: {}},
        "required": [key],
        "additionalProperties": False,
    }


class DeferredDelete:
    """The handlers of the ``restore`` and ``forceDelete`` actions."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lookup(self, req: Request, server_id: str) -> Any:
        """The server the action path names (404 unless the caller may see it)."""
        return get_server(req, self.deps.compute_api, server_id)

    def restore(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.DEFERRED_DELETE_RESTORE)
        compute_api.restore(req.context, instance)
        return Reply(202)

    def force_delete(self, req: Request, server_id: str) -> Reply:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.DEFERRED_DELETE_FORCE)
        compute_api.delete(req.context, instance)  # Nova's force_delete: a delete, any state
        return Reply(202)


def routes(deps: Deps) -> list[Route]:
    handler = DeferredDelete(deps)
    path = f"{SERVER}/action"
    return [
        Route(
            "POST",
            path,
            handler.restore,
            "Restore a soft-deleted server",
            policy=policies.DEFERRED_DELETE_RESTORE,
            target="resource",
            lookup=handler.lookup,
            action="restore",
            bodies=(BodySchema(_any_value("restore")),),
            status=202,
            tag=TAG,
            responses=(409, 503),
        ),
        Route(
            "POST",
            path,
            handler.force_delete,
            "Delete a server at once (a soft-deleted one before it is reclaimed)",
            policy=policies.DEFERRED_DELETE_FORCE,
            target="resource",
            lookup=handler.lookup,
            action="forceDelete",
            bodies=(BodySchema(_any_value("forceDelete")),),
            status=202,
            tag=TAG,
            responses=(409,),
        ),
    ]
