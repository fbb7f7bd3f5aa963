"""``/os-server-groups``: server groups, as Nova serves them up to microversion 2.63
(``openstack server group create/list/show/delete``).

A group belongs to the project and user that create it and has one policy, given as a
one-item list ``policies``: ``affinity`` or ``anti-affinity``, from 2.15 also
``soft-affinity`` and ``soft-anti-affinity`` (2.64's ``policy`` and ``rules`` are past
nubis's microversions). Servers join a group when they are created with the scheduler
hint ``group`` (:mod:`.servers`), and the scheduler places them by its policy. A view
shows the group's ``members`` (its servers that are not deleted), ``metadata`` (always
``{}``, as in Nova) and, from 2.13, ``project_id`` and ``user_id``.

The list shows the caller's project's groups; an administrator giving ``all_projects``
(with any value, as Nova reads it) sees every project's. ``limit`` (0: ``[api]
max_limit``, also its cap) and ``offset`` page it. Show and delete check their rule
against the group's project: a member of another project gets 403, as in Nova; an
unknown group is a 404. A create past the ``server_groups`` quota is refused with 403
("Quota exceeded, too many server groups."), and rechecked once the group is recorded
(``[quota] recheck_quota``). Create answers 200, delete 204, as Nova.
"""

from __future__ import annotations

import copy
from typing import Any

from nubis.core import exception, quota
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query, name
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

TAG = "os-server-groups"
COLLECTION = f"{V21}/os-server-groups"
ITEM = f"{COLLECTION}/{{server_group_id}}"

_CREATE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "server_group": {
            "type": "object",
            "properties": {
                "name": name,
                "policies": {
                    # One policy, as a one-item list (a string from 2.64).
                    "type": "array",
                    "prefixItems": [
                        {"type": "string", "enum": ["anti-affinity", "affinity"]},
                    ],
                    "items": False,
                    "uniqueItems": True,
                    "minItems": 1,
                    "maxItems": 1,
                },
            },
            "required": ["name", "policies"],
            "additionalProperties": False,
        }
    },
    "required": ["server_group"],
    "additionalProperties": False,
}
"""Nova's create body up to 2.14."""

_CREATE_V215 = copy.deepcopy(_CREATE)
"""From 2.15: the soft policies too."""
_POLICIES_V215 = _CREATE_V215["properties"]["server_group"]["properties"]["policies"]
_POLICIES_V215["prefixItems"][0]["enum"] += ["soft-anti-affinity", "soft-affinity"]

CREATE_BODIES = (
    BodySchema(_CREATE, max_version="2.14"),
    BodySchema(_CREATE_V215, min_version="2.15"),
)

LIST_QUERY = {
    "all_projects": Query(
        "string", "Administrators: every project's groups (given with any value, as Nova)."
    ),
    "limit": Query(
        "integer", "Most groups to return (0: [api] max_limit, also its cap).", minimum=0
    ),
    "offset": Query("integer", "Groups to skip first.", minimum=0),
}


class ServerGroups:
    """Handlers of the /os-server-groups routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        context = req.context
        req.authorize(policies.SERVER_GROUPS_INDEX, {"project_id": context.project_id})
        max_limit = int(req.conf.api.max_limit)
        limit = min(req.arg("limit") or max_limit, max_limit)
        offset = req.arg("offset") or 0
        project_id: str | None = context.project_id
        if req.arg("all_projects") is not None and req.is_admin:
            req.authorize(
                policies.SERVER_GROUPS_INDEX_ALL_PROJECTS, {"project_id": context.project_id}
            )
            project_id = None
        rows = db.instance_group_get_all(context, project_id, limit=limit, offset=offset)
        members = db.instance_group_members_get(context, [row.uuid for row in rows])
        return {"server_groups": [self._view(req, row, members[row.uuid]) for row in rows]}

    def show(self, req: Request, server_group_id: str) -> dict[str, Any]:
        row = self._group(req, server_group_id, policies.SERVER_GROUPS_SHOW)
        members = db.instance_group_members_get(req.context, [row.uuid])[row.uuid]
        return {"server_group": self._view(req, row, members)}

    def create(self, req: Request) -> dict[str, Any]:
        context = req.context
        req.authorize(policies.SERVER_GROUPS_CREATE, {"project_id": context.project_id})
        body = req.body["server_group"]
        quota.check_server_groups(context, req.conf, context.project_id, context.user_id)
        row = db.instance_group_create(
            context,
            {
                "name": body["name"],
                "policy": body["policies"][0],
                "project_id": context.project_id,
                "user_id": context.user_id,
            },
        )
        if req.conf.quota.recheck_quota:
            try:  # a concurrent create may have taken the last place meanwhile
                quota.check_server_groups(
                    context, req.conf, context.project_id, context.user_id, delta=0
                )
            except exception.ServerGroupLimitExceeded:
                db.instance_group_delete(context, row.uuid)
                raise
        return {"server_group": self._view(req, row, [])}

    def delete(self, req: Request, server_group_id: str) -> Reply:
        row = self._group(req, server_group_id, policies.SERVER_GROUPS_DELETE)
        db.instance_group_delete(req.context, row.uuid)
        return Reply(204)

    @staticmethod
    def _group(req: Request, group_uuid: str, rule: str) -> Any:
        """The group (404 when there is none), once *rule* allows it (403)."""
        row = db.instance_group_get(req.context, group_uuid)
        req.authorize(rule, {"project_id": row.project_id})
        return row

    @staticmethod
    def _view(req: Request, row: Any, members: list[str]) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": row.uuid,
            "name": row.name,
            "policies": [row.policy],
            "members": members,
            "metadata": {},
        }
        if req.at_least("2.13"):
            view["project_id"] = row.project_id
            view["user_id"] = row.user_id
        return view


def routes(deps: Deps) -> list[Route]:
    groups = ServerGroups(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            groups.index,
            "List server groups",
            policy=policies.SERVER_GROUPS_INDEX,
            target="resource",
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "POST",
            COLLECTION,
            groups.create,
            "Create a server group",
            policy=policies.SERVER_GROUPS_CREATE,
            target="resource",
            bodies=CREATE_BODIES,
            tag=TAG,
        ),
        Route(
            "GET",
            ITEM,
            groups.show,
            "Show a server group",
            policy=policies.SERVER_GROUPS_SHOW,
            target="resource",
            tag=TAG,
        ),
        Route(
            "DELETE",
            ITEM,
            groups.delete,
            "Delete a server group (its servers stay)",
            policy=policies.SERVER_GROUPS_DELETE,
            target="resource",
            status=204,
            tag=TAG,
        ),
    ]
