"""``/os-quota-sets`` and ``/os-quota-class-sets``: quota limits as Nova shows and
changes them (``openstack quota show/set/delete``, ``quota show --default``,
``quota show --usage``).

A project's readers see its quotas (and, with ``user_id``, a user's within it); only
administrators change them. What a response lists depends on the microversion, as in
Nova: the nova-network resources go at 2.36 (quota sets) and 2.50 (quota classes), the
personality-file ones at 2.57; quota classes show ``server_groups`` and
``server_group_members`` only from 2.50. A new limit is refused (400) below what the
project's users' own limits add up to or, for a user, below what the user uses or above
what the project leaves, unless ``force`` is true. Whether the project or user exists is
not checked (Nova asks Keystone and lets the request through when it cannot).
"""

from __future__ import annotations

from typing import Any

from nubis.core import quota
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query, boolean, to_bool
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

TAG = "os-quota-sets"
CLASS_TAG = "os-quota-class-sets"
SETS = f"{V21}/os-quota-sets/{{tenant_id}}"
CLASS_SETS = f"{V21}/os-quota-class-sets/{{id}}"
MAX_LIMIT = 0x7FFFFFFF

USER_QUERY = {"user_id": Query("string", "A user of the project: that user's quotas.")}

_LIMIT = {
    "type": ["integer", "string"],
    "pattern": r"^-?[0-9]+$",
    "minimum": -1,
    "maximum": MAX_LIMIT,
}


def shown_resources(req: Request, *, for_class: bool = False) -> list[str]:
    """The resources a quota set (or, *for_class*, a quota class set) lists at the
    request's microversion."""
    network_gone = req.at_least("2.50" if for_class else "2.36")
    hidden: set[str] = set()
    if network_gone:
        hidden.update(quota.NETWORK_RESOURCES)
    if req.at_least("2.57"):
        hidden.update(quota.INJECTED_FILE_RESOURCES)
    if for_class and not req.at_least("2.50"):
        hidden.update(quota.SERVER_GROUP_RESOURCES)
    return [resource for resource in quota.RESOURCES if resource not in hidden]


def _update_body(key: str, resources: list[str], force: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {resource: _LIMIT for resource in resources}
    if force:
        properties["force"] = boolean
    return {
        "type": "object",
        "properties": {
            key: {"type": "object", "properties": properties, "additionalProperties": False}
        },
        "required": [key],
        "additionalProperties": False,
    }


def _without(*groups: tuple[str, ...]) -> list[str]:
    dropped = {resource for group in groups for resource in group}
    return [resource for resource in quota.RESOURCES if resource not in dropped]


SET_BODIES = (
    BodySchema(_update_body("quota_set", list(quota.RESOURCES), True), max_version="2.35"),
    BodySchema(
        _update_body("quota_set", _without(quota.NETWORK_RESOURCES), True),
        min_version="2.36",
        max_version="2.56",
    ),
    BodySchema(
        _update_body(
            "quota_set", _without(quota.NETWORK_RESOURCES, quota.INJECTED_FILE_RESOURCES), True
        ),
        min_version="2.57",
    ),
)
CLASS_BODIES = (
    BodySchema(_update_body("quota_class_set", list(quota.RESOURCES), False), max_version="2.49"),
    BodySchema(
        _update_body("quota_class_set", _without(quota.NETWORK_RESOURCES), False),
        min_version="2.50",
        max_version="2.56",
    ),
    BodySchema(
        _update_body(
            "quota_class_set",
            _without(quota.NETWORK_RESOURCES, quota.INJECTED_FILE_RESOURCES),
            False,
        ),
        min_version="2.57",
    ),
)


def _shown(req: Request, values: dict[str, Any], ident: str | None, **kw: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": ident} if ident is not None else {}
    shown.update({resource: values[resource] for resource in shown_resources(req, **kw)})
    return shown


def _new_limits(body: dict[str, Any]) -> dict[str, int]:
    """The limits a body sets, as integers (an empty value is skipped, as in Nova)."""
    return {
        key: int(value)
        for key, value in body.items()
        if key != "force" and (value or value == 0) and value != ""
    }


class QuotaSets:
    """Handlers of the /os-quota-sets routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @staticmethod
    def _authorized(req: Request, rule: str, tenant_id: str) -> None:
        req.authorize(rule, {"project_id": tenant_id})

    def show(self, req: Request, tenant_id: str) -> dict[str, Any]:
        self._authorized(req, policies.QUOTA_SETS_SHOW, tenant_id)
        values = quota.limits(req.context, req.conf, tenant_id, req.arg("user_id"))
        return {"quota_set": _shown(req, values, tenant_id)}

    def detail(self, req: Request, tenant_id: str) -> dict[str, Any]:
        self._authorized(req, policies.QUOTA_SETS_DETAIL, tenant_id)
        user_id = req.arg("user_id")
        limits = quota.limits(req.context, req.conf, tenant_id, user_id)
        used = quota.usage(req.context, tenant_id, user_id)
        values = {
            resource: {"in_use": used[resource], "limit": limits[resource], "reserved": 0}
            for resource in quota.RESOURCES
        }
        return {"quota_set": _shown(req, values, tenant_id)}

    def defaults(self, req: Request, tenant_id: str) -> dict[str, Any]:
        return {"quota_set": _shown(req, quota.defaults(req.context, req.conf), tenant_id)}

    def update(self, req: Request, tenant_id: str) -> dict[str, Any]:
        self._authorized(req, policies.QUOTA_SETS_UPDATE, tenant_id)
        user_id = req.arg("user_id")
        body = req.body["quota_set"]
        new = _new_limits(body)
        if not to_bool(body.get("force", False)):
            ranges = quota.settable_range(req.context, req.conf, tenant_id, user_id)
            for resource, limit in new.items():
                _check_range(resource, limit, *ranges[resource])
        db.quota_set(req.context, tenant_id, new, user_id=user_id)
        values = quota.limits(req.context, req.conf, tenant_id, user_id)
        return {"quota_set": _shown(req, values, None)}

    def delete(self, req: Request, tenant_id: str) -> Reply:
        self._authorized(req, policies.QUOTA_SETS_DELETE, tenant_id)
        db.quota_destroy_all(req.context, tenant_id, user_id=req.arg("user_id"))
        return Reply(202)


def _check_range(resource: str, limit: int, minimum: int, maximum: int) -> None:
    def unbounded(value: int) -> float:
        return float("inf") if value == -1 else value

    if unbounded(limit) < unbounded(minimum):
        raise Fault(
            400,
            f"Quota limit {limit} for {resource} must be greater than or equal to already "
            f"used and reserved {minimum}.",
        )
    if unbounded(limit) > unbounded(maximum):
        raise Fault(
            400, f"Quota limit {limit} for {resource} must be less than or equal to {maximum}."
        )


class QuotaClassSets:
    """Handlers of the /os-quota-class-sets routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def show(self, req: Request, id: str) -> dict[str, Any]:
        values = quota.class_limits(req.context, req.conf, id)
        return {"quota_class_set": _shown(req, values, id, for_class=True)}

    def update(self, req: Request, id: str) -> dict[str, Any]:
        if not 1 <= len(id) <= 255:
            raise Fault(400, "quota_class_name has to be 1 to 255 characters long.")
        db.quota_class_set(req.context, id, _new_limits(req.body["quota_class_set"]))
        values = quota.class_limits(req.context, req.conf, id)
        return {"quota_class_set": _shown(req, values, None, for_class=True)}


def routes(deps: Deps) -> list[Route]:
    sets = QuotaSets(deps)
    classes = QuotaClassSets(deps)
    return [
        Route(
            "GET",
            SETS,
            sets.show,
            "Show a project's quotas (a user's with user_id)",
            policy=policies.QUOTA_SETS_SHOW,
            target="resource",
            query=USER_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{SETS}/detail",
            sets.detail,
            "Show a project's quotas with what is in use",
            policy=policies.QUOTA_SETS_DETAIL,
            target="resource",
            query=USER_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{SETS}/defaults",
            sets.defaults,
            "Show the default quotas",
            policy=policies.QUOTA_SETS_DEFAULTS,
            tag=TAG,
        ),
        Route(
            "PUT",
            SETS,
            sets.update,
            "Change a project's quotas (a user's with user_id)",
            policy=policies.QUOTA_SETS_UPDATE,
            target="resource",
            query=USER_QUERY,
            bodies=SET_BODIES,
            tag=TAG,
        ),
        Route(
            "DELETE",
            SETS,
            sets.delete,
            "Return a project's quotas (a user's with user_id) to the defaults",
            policy=policies.QUOTA_SETS_DELETE,
            target="resource",
            query=USER_QUERY,
            status=202,
            tag=TAG,
        ),
        Route(
            "GET",
            CLASS_SETS,
            classes.show,
            "Show a quota class",
            policy=policies.QUOTA_CLASS_SETS_SHOW,
            tag=CLASS_TAG,
        ),
        Route(
            "PUT",
            CLASS_SETS,
            classes.update,
            "Change a quota class",
            policy=policies.QUOTA_CLASS_SETS_UPDATE,
            bodies=CLASS_BODIES,
            tag=CLASS_TAG,
        ),
    ]
