"""``/flavors``: list, detail, show, create, update (description, 2.55) and delete
flavors. Everyone authenticated sees the public flavors and the private ones their
project was given access to (:mod:`.flavor_access`); administrators see and manage all. Extra specs
are under :mod:`.flavor_extra_specs` (they join the flavor's views only from 2.61, past
nubis's microversions)."""

from __future__ import annotations

import uuid
from typing import Any

from nubis.core import objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import PAGING, V21, limit_of, links, next_link, page
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import (
    Query,
    boolean,
    description,
    name,
    non_negative_integer,
    positive_integer,
    to_bool,
    to_int,
)
from nubis.core.api.wsgi import Reply, Request

TAG = "flavors"

_FLAVOR_ID = {
    "type": ["string", "number", "null"],  # as Nova's: a number is kept as its text
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$",
}


def _create_schema(with_description: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": name,
        "id": _FLAVOR_ID,
        "ram": positive_integer,
        "vcpus": positive_integer,
        "disk": non_negative_integer,
        "OS-FLV-EXT-DATA:ephemeral": non_negative_integer,
        "swap": non_negative_integer,
        "rxtx_factor": {
            "type": ["number", "string"],
            "pattern": r"^[0-9]+(\.[0-9]+)?$",
            "minimum": 0,
            "exclusiveMinimum": 0,
            "maximum": 3.40282e38,
        },
        "os-flavor-access:is_public": boolean,
    }
    if with_description:
        properties["description"] = description
    return {
        "type": "object",
        "properties": {
            "flavor": {
                "type": "object",
                "properties": properties,
                "required": ["name", "ram", "vcpus", "disk"],
                "additionalProperties": False,
            }
        },
        "required": ["flavor"],
        "additionalProperties": False,
    }


CREATE_BODIES = (
    BodySchema(_create_schema(False), max_version="2.54"),
    BodySchema(_create_schema(True), min_version="2.55"),
)

UPDATE_BODY = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {"description": description},
            "required": ["description"],
            "additionalProperties": False,
        }
    },
    "required": ["flavor"],
    "additionalProperties": False,
}

SORT_KEYS = ("flavorid", "name", "memory_mb", "vcpus", "root_gb", "ephemeral_gb", "swap", "id")

LIST_QUERY = {
    **PAGING,
    "is_public": Query("string", "true (default), false, or none for both (administrators)."),
    "minRam": Query("integer", "Flavors with at least this much RAM (MiB).", minimum=0),
    "minDisk": Query("integer", "Flavors with at least this much disk (GiB).", minimum=0),
    "sort_key": Query("enum", "Sort by this attribute (default flavorid).", choices=SORT_KEYS),
    "sort_dir": Query("enum", "asc (default) or desc.", choices=("asc", "desc")),
}


class Flavors:
    """Handlers of the /flavors routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _visible(self, req: Request) -> list[Any]:
        wanted = req.arg("is_public")
        is_public: bool | None = True
        if req.is_admin and wanted is not None:
            lowered = wanted.lower()
            if lowered == "none":
                is_public = None
            elif lowered in ("true", "false", "1", "0", "yes", "no", "t", "f"):
                is_public = to_bool(lowered)
            else:
                raise Fault(
                    400,
                    f"Invalid input for query parameter is_public. Value: {wanted}. "
                    "It is not true, false or none.",
                )
        filters: dict[str, Any] = {}
        accessible_to = None
        if is_public is True:
            # as Nova: the public flavors and the private ones the project may use
            accessible_to = req.context.project_id or ""
        elif is_public is False:
            filters["is_public"] = False
        flavors = list(
            objects.FlavorList.get_all(req.context, filters=filters, accessible_to=accessible_to)
        )
        if req.arg("minRam") is not None:
            flavors = [f for f in flavors if f.memory_mb >= req.arg("minRam")]
        if req.arg("minDisk") is not None:
            flavors = [f for f in flavors if (f.root_gb or 0) >= req.arg("minDisk")]
        key = req.arg("sort_key", "flavorid")
        flavors.sort(
            key=lambda f: (getattr(f, key) is None, getattr(f, key) or 0, f.id),
            reverse=req.arg("sort_dir") == "desc",
        )
        return flavors

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        limit = limit_of(req)
        flavors = page(self._visible(req), req.arg("marker"), limit, lambda f: f.flavorid)
        view = flavor_view if detail else summary_view
        result: dict[str, Any] = {"flavors": [view(req, f) for f in flavors]}
        path = f"{V21}/flavors" + ("/detail" if detail else "")
        more = next_link(req, path, flavors, limit, lambda f: f.flavorid)
        if more:
            result["flavors_links"] = more
        return result

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def show(self, req: Request, flavor_id: str) -> dict[str, Any]:
        return {"flavor": flavor_view(req, visible_flavor(req, flavor_id))}

    def create(self, req: Request) -> dict[str, Any]:
        body = req.body["flavor"]
        flavorid = body.get("id")
        if flavorid is None or flavorid == "auto":
            flavorid = str(uuid.uuid4())
        flavor = objects.Flavor(req.context)
        flavor.flavorid = str(flavorid)
        flavor.name = body["name"]
        flavor.memory_mb = to_int(body["ram"])
        flavor.vcpus = to_int(body["vcpus"])
        flavor.root_gb = to_int(body["disk"])
        flavor.ephemeral_gb = to_int(body.get("OS-FLV-EXT-DATA:ephemeral", 0))
        flavor.swap = to_int(body.get("swap", 0))
        flavor.rxtx_factor = float(body.get("rxtx_factor", 1.0))
        flavor.is_public = to_bool(body.get("os-flavor-access:is_public", True))
        flavor.disabled = False
        flavor.description = body.get("description")
        flavor.create()
        # Nova gives no project access to a private flavor it creates (its bug 1209101,
        # kept for compatibility): addTenantAccess does.
        return {"flavor": flavor_view(req, flavor)}

    def update(self, req: Request, flavor_id: str) -> dict[str, Any]:
        flavor = objects.Flavor.get_by_flavor_id(req.context, flavor_id)
        flavor.description = req.body["flavor"]["description"]
        flavor.save()
        return {"flavor": flavor_view(req, flavor)}

    def delete(self, req: Request, flavor_id: str) -> Reply:
        flavor = objects.Flavor.get_by_flavor_id(req.context, flavor_id)
        flavor.destroy()
        return Reply(202)


def visible_flavor(req: Request, flavor_id: str) -> Any:
    """The flavor *flavor_id* if the caller may see it (public, its project was given
    access, or an administrator); FlavorNotFound otherwise."""
    accessible_to = None if req.is_admin else (req.context.project_id or "")
    return objects.Flavor.get_by_flavor_id(req.context, flavor_id, accessible_to=accessible_to)


def summary_view(req: Request, flavor: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "links": links(req, "flavors", flavor.flavorid),
    }
    if req.at_least("2.55"):
        view["description"] = flavor.description
    return view


def flavor_view(req: Request, flavor: Any) -> dict[str, Any]:
    view = summary_view(req, flavor)
    view.update(
        {
            "ram": flavor.memory_mb,
            "vcpus": flavor.vcpus,
            "disk": flavor.root_gb or 0,
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb or 0,
            "swap": flavor.swap or "",
            "rxtx_factor": flavor.rxtx_factor if flavor.rxtx_factor is not None else 1.0,
            "os-flavor-access:is_public": bool(flavor.is_public),
            "OS-FLV-DISABLED:disabled": bool(flavor.disabled),
        }
    )
    return view


def routes(deps: Deps) -> list[Route]:
    flavors = Flavors(deps)
    item = f"{V21}/flavors/{{flavor_id}}"
    return [
        Route(
            "GET",
            f"{V21}/flavors",
            flavors.index,
            "List flavors",
            policy=policies.FLAVORS_INDEX,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/flavors/detail",
            flavors.detail,
            "List flavors with details",
            policy=policies.FLAVORS_INDEX,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route("GET", item, flavors.show, "Show a flavor", policy=policies.FLAVORS_SHOW, tag=TAG),
        Route(
            "POST",
            f"{V21}/flavors",
            flavors.create,
            "Create a flavor",
            policy=policies.FLAVOR_CREATE,
            bodies=CREATE_BODIES,
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "PUT",
            item,
            flavors.update,
            "Change a flavor's description",
            policy=policies.FLAVOR_UPDATE,
            bodies=(BodySchema(UPDATE_BODY),),
            min_version="2.55",
            tag=TAG,
        ),
        Route(
            "DELETE",
            item,
            flavors.delete,
            "Delete a flavor",
            policy=policies.FLAVOR_DELETE,
            status=202,
            tag=TAG,
        ),
    ]
