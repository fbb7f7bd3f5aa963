"""What the server actions on ``POST /servers/{id}/action`` share: a handler base that
loads the server the path names, and the route of one action (202 on success, checked
against the loaded server's project and user, documented under the ``servers`` tag)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import get_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Handler, Route
from nubis.core.api.wsgi import Request

ACTION_PATH = f"{SERVER}/action"


class ActionHandlers:
    """Base of a family of action handlers: *deps*, and :meth:`lookup` for the routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lookup(self, req: Request, server_id: str) -> Any:
        """The server the action path names (404 unless the caller may see it)."""
        return get_server(req, self.deps.compute_api, server_id)


def action_route(
    handlers: ActionHandlers,
    handler: Handler,
    summary: str,
    *,
    policy: str,
    action: str,
    bodies: Sequence[BodySchema],
    responses: tuple[int, ...] = (409, 503),
) -> Route:
    """The route of the server action *action* (the body's one key), answered by
    *handler* with 202; *policy* is checked against the server *handlers* loads."""
    return Route(
        "POST",
        ACTION_PATH,
        handler,
        summary,
        policy=policy,
        target="resource",
        lookup=handlers.lookup,
        action=action,
        bodies=tuple(bodies),
        status=202,
        tag=TAG,
        responses=responses,
    )
