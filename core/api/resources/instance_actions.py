"""``/servers/{id}/os-instance-actions``: the history of a server (``openstack server
event list``) and one action with its events. Events' tracebacks and hosts are for
administrators."""

from __future__ import annotations

from typing import Any

from nubis.core import exception, objects
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import (
    PAGING,
    V21,
    get_server,
    isotime_micro,
    limit_of,
    next_link,
    page,
    target_of,
    utc_naive,
)
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

TAG = "os-instance-actions"

LIST_QUERY = {
    **PAGING,
    "changes-since": Query("datetime", "Actions changed at or after this time (2.58+)."),
}


class InstanceActions:
    """Handlers of the /servers/{id}/os-instance-actions routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _server(self, req: Request, server_id: str, rule: str) -> Any:
        """The instance. From 2.21 deleted ones too, as Nova shows their actions: this
        request's (read-only) context reads deleted rows from here on."""
        if req.at_least("2.21"):
            req.context.read_deleted = "yes"
        instance = get_server(req, self.deps.compute_api, server_id)
        req.authorize(rule, target_of(instance))
        return instance

    def view(self, req: Request, action: Any) -> dict[str, Any]:
        view = {
            "action": action.action,
            "instance_uuid": action.instance_uuid,
            "message": action.message,
            "project_id": action.project_id,
            "request_id": action.request_id,
            "start_time": isotime_micro(action.start_time),
            "user_id": action.user_id,
        }
        if req.at_least("2.58"):
            view["updated_at"] = isotime_micro(action.updated_at or action.created_at)
        return view

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.INSTANCE_ACTIONS_LIST)
        actions = list(self.deps.compute_api.get_instance_actions(req.context, instance.uuid))
        result: dict[str, Any] = {}
        if req.at_least("2.58"):
            since = req.arg("changes-since")
            if since is not None:
                actions = [
                    a
                    for a in actions
                    if utc_naive(a.updated_at or a.created_at or a.start_time) >= since
                ]
            limit = limit_of(req)
            actions = page(actions, req.arg("marker"), limit, lambda a: a.request_id)
            path = f"{V21}/servers/{server_id}/os-instance-actions"
            more = next_link(req, path, actions, limit, lambda a: a.request_id)
            if more:
                result["links"] = more
        result["instanceActions"] = [self.view(req, a) for a in actions]
        return result

    def show(self, req: Request, server_id: str, request_id: str) -> dict[str, Any]:
        instance = self._server(req, server_id, policies.INSTANCE_ACTIONS_SHOW)
        context = req.context
        try:
            action = objects.InstanceAction.get_by_request_id(context, instance.uuid, request_id)
        except exception.InstanceActionNotFound:
            raise exception.InstanceActionNotFound(
                request_id=request_id, instance_uuid=instance.uuid
            ) from None
        view = self.view(req, action)
        target = target_of(instance)
        if req.is_admin or (
            req.at_least("2.51") and req.can(policies.INSTANCE_ACTIONS_EVENTS, target)
        ):
            details = req.can(policies.INSTANCE_ACTIONS_EVENTS_DETAILS, target)
            events = objects.InstanceActionEventList.get_by_action(context, action.id)
            view["events"] = [self.event_view(req, e, details) for e in events]
        return {"instanceAction": view}

    @staticmethod
    def event_view(req: Request, event: Any, details: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            "event": event.event,
            "start_time": isotime_micro(event.start_time),
            "finish_time": isotime_micro(event.finish_time),
            "result": event.result,
        }
        if details:
            view["traceback"] = event.traceback
        if req.at_least("2.62") and details:
            view["host"] = event.host
        return view


def routes(deps: Deps) -> list[Route]:
    actions = InstanceActions(deps)
    base = f"{V21}/servers/{{server_id}}/os-instance-actions"
    return [
        Route(
            "GET",
            base,
            actions.index,
            "List a server's actions",
            policy=policies.INSTANCE_ACTIONS_LIST,
            target="resource",
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{base}/{{request_id}}",
            actions.show,
            "Show one action of a server, with its events",
            policy=policies.INSTANCE_ACTIONS_SHOW,
            target="resource",
            tag=TAG,
        ),
    ]
