"""``/flavors/{id}/os-flavor-access`` and the ``addTenantAccess``/``removeTenantAccess``
actions: which projects may use a private flavor (``openstack flavor create --private
--project``, ``flavor set/unset --project``), as Nova keeps them. Administrators only.

A project given access sees the flavor in its lists and shows and may boot servers of
it; taking access away leaves its existing servers alone. A public flavor has no access
list (404; adding to one is 409 from 2.7, as in Nova). Whether the project exists is not
checked: with Keystone as the identity service nubis does not ask it (Nova does, and
lets the request through when it cannot).
"""

from __future__ import annotations

from typing import Any

from nubis.core import objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.resources.flavors import TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Request
from nubis.core.db import api as db

COLLECTION = f"{V21}/flavors/{{flavor_id}}/os-flavor-access"
ACTION = f"{V21}/flavors/{{flavor_id}}/action"

_TENANT = {
    "type": "object",
    "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
    "required": ["tenant"],
    "additionalProperties": False,
}


def _action_body(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _TENANT},
        "required": [name],
        "additionalProperties": False,
    }


def _access_list(req: Request, flavorid: str) -> dict[str, Any]:
    projects = db.flavor_access_get(req.context, flavorid)
    return {"flavor_access": [{"flavor_id": flavorid, "tenant_id": p} for p in projects]}


class FlavorAccess:
    """Handlers of the flavor access routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request, flavor_id: str) -> dict[str, Any]:
        flavor = objects.Flavor.get_by_flavor_id(req.context, flavor_id)
        if flavor.is_public:
            raise Fault(404, "Access list not available for public flavors.")
        return _access_list(req, flavor.flavorid)

    def add(self, req: Request, flavor_id: str) -> dict[str, Any]:
        tenant = req.body["addTenantAccess"]["tenant"]
        flavor = objects.Flavor.get_by_flavor_id(req.context, flavor_id)
        if flavor.is_public and req.at_least("2.7"):
            raise Fault(409, "Can not add access to a public flavor.")
        db.flavor_access_add(req.context, flavor.flavorid, tenant)
        return _access_list(req, flavor.flavorid)

    def remove(self, req: Request, flavor_id: str) -> dict[str, Any]:
        tenant = req.body["removeTenantAccess"]["tenant"]
        db.flavor_access_remove(req.context, flavor_id, tenant)
        return _access_list(req, flavor_id)


def routes(deps: Deps) -> list[Route]:
    access = FlavorAccess(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            access.index,
            "List the projects that may use a private flavor",
            policy=policies.FLAVOR_ACCESS_LIST,
            tag=TAG,
        ),
        Route(
            "POST",
            ACTION,
            access.add,
            "Give a project access to a private flavor",
            policy=policies.FLAVOR_ACCESS_ADD,
            action="addTenantAccess",
            bodies=(BodySchema(_action_body("addTenantAccess")),),
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "POST",
            ACTION,
            access.remove,
            "Take a project's access to a private flavor",
            policy=policies.FLAVOR_ACCESS_REMOVE,
            action="removeTenantAccess",
            bodies=(BodySchema(_action_body("removeTenantAccess")),),
            tag=TAG,
        ),
    ]
