"""``/os-aggregates`` (administrators): host aggregates, as Nova serves them
(``openstack aggregate ...``).

An aggregate is a named group of compute hosts with metadata; its ``availability_zone``
metadata item puts its hosts in that availability zone (:mod:`nubis.core.compute.
aggregates` holds the rules, :mod:`nubis.core.compute.availability_zones` what zones
are made of). Aggregates are named by their integer ``id`` (not an integer: 400; no such
aggregate: 404). Every answer is 200, as Nova's (delete too, with no body). A view
shows ``id``, ``name``, ``availability_zone``, ``created_at``, ``updated_at``,
``deleted`` (false), ``deleted_at`` (null), ``hosts`` and ``metadata`` (the zone among
it), and from 2.41 ``uuid``; a create's answer has no ``hosts`` nor ``metadata``.

Actions (``POST .../action``): ``add_host`` (a compute host: 404 otherwise, 409 when
the aggregate has it or the host's zone would conflict), ``remove_host`` (404 when the
aggregate does not have it) and ``set_metadata`` (a null value deletes an item).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21, isotime_micro
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import hostname, name, one_object
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute.aggregates import AggregateAPI

TAG = "os-aggregates"
COLLECTION = f"{V21}/os-aggregates"
ITEM = f"{COLLECTION}/{{aggregate_id}}"
ACTION = f"{ITEM}/action"

_AZ = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^(?!\s)[^\x00-\x1f:]*(?<!\s)$",
}
"""An availability zone: a name without ``:``, or null."""

_SPACED_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[^\x00-\x1f]*[^\s\x00-\x1f][^\x00-\x1f]*$",
}
"""A name that may have leading or trailing spaces (stripped), as Nova's update takes."""


CREATE_BODY = one_object("aggregate", {"name": name, "availability_zone": _AZ}, ["name"])
UPDATE_BODY = one_object("aggregate", {"name": _SPACED_NAME, "availability_zone": _AZ}, [])
UPDATE_BODY["properties"]["aggregate"]["minProperties"] = 1
ADD_HOST_BODY = one_object("add_host", {"host": hostname}, ["host"])
REMOVE_HOST_BODY = one_object("remove_host", {"host": hostname}, ["host"])
SET_METADATA_BODY = one_object(
    "set_metadata",
    {
        "metadata": {
            "type": "object",
            "patternProperties": {
                r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "null"], "maxLength": 255},
            },
            "additionalProperties": False,
        }
    },
    ["metadata"],
)

_MAX_ID = 2**31 - 1


def aggregate_id_of(raw: str) -> int:
    """The aggregate id in a path: 400 unless an integer; AggregateNotFound (404) for an
    integer no aggregate can have."""
    try:
        value = int(raw)
    except ValueError:
        raise Fault(
            400, f"Invalid input for field/attribute id. Value: {raw}. id must be an integer."
        ) from None
    if not 1 <= value <= _MAX_ID:
        raise exception.AggregateNotFound(aggregate_id=raw)
    return value


def view(req: Request, aggregate: Any, *, full: bool = True) -> dict[str, Any]:
    """Nova's view of *aggregate* (without ``hosts`` and ``metadata`` unless *full*)."""
    result: dict[str, Any] = {
        "id": aggregate.id,
        "name": aggregate.name,
        "availability_zone": aggregate.availability_zone,
        "created_at": isotime_micro(aggregate.created_at),
        "updated_at": isotime_micro(aggregate.updated_at),
        "deleted": False,
        "deleted_at": None,
    }
    if full:
        result["hosts"] = list(aggregate.hosts)
        result["metadata"] = dict(aggregate.metadata)
    if req.at_least("2.41"):
        result["uuid"] = aggregate.uuid
    return result


class Aggregates:
    """Handlers of the /os-aggregates routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.api = AggregateAPI()

    def index(self, req: Request) -> dict[str, Any]:
        return {"aggregates": [view(req, a) for a in self.api.get_all(req.context)]}

    def create(self, req: Request) -> dict[str, Any]:
        body = req.body["aggregate"]
        aggregate = self.api.create(req.context, body["name"], body.get("availability_zone"))
        return {"aggregate": view(req, aggregate, full=False)}

    def show(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        return {"aggregate": view(req, self.api.get(req.context, aggregate_id_of(aggregate_id)))}

    def update(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        identifier = aggregate_id_of(aggregate_id)
        values = dict(req.body["aggregate"])
        if "name" in values:
            values["name"] = values["name"].strip()
        return {"aggregate": view(req, self.api.update(req.context, identifier, values))}

    def delete(self, req: Request, aggregate_id: str) -> Reply:
        self.api.delete(req.context, aggregate_id_of(aggregate_id))
        return Reply(200)

    def add_host(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        identifier = aggregate_id_of(aggregate_id)
        host = req.body["add_host"]["host"]
        return {"aggregate": view(req, self.api.add_host(req.context, identifier, host))}

    def remove_host(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        identifier = aggregate_id_of(aggregate_id)
        host = req.body["remove_host"]["host"]
        try:
            aggregate = self.api.remove_host(req.context, identifier, host)
        except (exception.AggregateNotFound, exception.AggregateHostNotFound) as error:
            raise Fault(
                404, f"Cannot remove host {host} in aggregate {aggregate_id}: {error}"
            ) from None
        return {"aggregate": view(req, aggregate)}

    def set_metadata(self, req: Request, aggregate_id: str) -> dict[str, Any]:
        identifier = aggregate_id_of(aggregate_id)
        metadata = req.body["set_metadata"]["metadata"]
        return {"aggregate": view(req, self.api.update_metadata(req.context, identifier, metadata))}


def routes(deps: Deps) -> list[Route]:
    aggregates = Aggregates(deps)
    common: dict[str, Any] = {"tag": TAG}
    return [
        Route(
            "GET",
            COLLECTION,
            aggregates.index,
            "List host aggregates",
            policy=policies.AGGREGATES_INDEX,
            **common,
        ),
        Route(
            "POST",
            COLLECTION,
            aggregates.create,
            "Create a host aggregate, in an availability zone if one is given",
            policy=policies.AGGREGATES_CREATE,
            bodies=(BodySchema(CREATE_BODY),),
            responses=(409,),
            **common,
        ),
        Route(
            "GET",
            ITEM,
            aggregates.show,
            "Show a host aggregate with its hosts and metadata",
            policy=policies.AGGREGATES_SHOW,
            **common,
        ),
        Route(
            "PUT",
            ITEM,
            aggregates.update,
            "Rename a host aggregate or set its availability zone",
            policy=policies.AGGREGATES_UPDATE,
            bodies=(BodySchema(UPDATE_BODY),),
            responses=(409,),
            **common,
        ),
        Route(
            "DELETE",
            ITEM,
            aggregates.delete,
            "Delete a host aggregate (400 while it has hosts)",
            policy=policies.AGGREGATES_DELETE,
            **common,
        ),
        Route(
            "POST",
            ACTION,
            aggregates.add_host,
            "Add a compute host to a host aggregate",
            policy=policies.AGGREGATES_ADD_HOST,
            bodies=(BodySchema(ADD_HOST_BODY),),
            action="add_host",
            responses=(409,),
            **common,
        ),
        Route(
            "POST",
            ACTION,
            aggregates.remove_host,
            "Remove a host from a host aggregate",
            policy=policies.AGGREGATES_REMOVE_HOST,
            bodies=(BodySchema(REMOVE_HOST_BODY),),
            action="remove_host",
            responses=(409,),
            **common,
        ),
        Route(
            "POST",
            ACTION,
            aggregates.set_metadata,
            "Set or delete metadata items of a host aggregate",
            policy=policies.AGGREGATES_SET_METADATA,
            bodies=(BodySchema(SET_METADATA_BODY),),
            action="set_metadata",
            **common,
        ),
    ]
