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

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server
from nubis.core.api.resources.server_action_routes import ActionHandlers, action_route
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import one_key
from nubis.core.api.wsgi import Reply, Request


class DeferredDelete(ActionHandlers):
    """The handlers of the ``restore`` and ``forceDelete`` actions."""

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
    return [
        action_route(
            handler,
            handler.restore,
            "Restore a soft-deleted server",
            policy=policies.DEFERRED_DELETE_RESTORE,
            action="restore",
            bodies=(BodySchema(one_key("restore", {})),),
        ),
        action_route(
            handler,
            handler.force_delete,
            "Delete a server at once (a soft-deleted one before it is reclaimed)",
            policy=policies.DEFERRED_DELETE_FORCE,
            action="forceDelete",
            bodies=(BodySchema(one_key("forceDelete", {})),),
            responses=(409,),
        ),
    ]
