"""``/flavors/{id}/os-extra_specs``: a flavor's extra specs, free-form key/value pairs
as Nova keeps them (``openstack flavor set/unset --property``, ``flavor show``).

Everyone who can see the flavor reads them (from 2.61 they are also in the flavor's
views); administrators add, change and remove them. Keys are 1-255 characters of
letters, digits and ``-_:. ``; values are strings or numbers of at most 255
characters, always returned as strings (a create or update echoes its body as given,
as Nova does). Nova validates known keys only from 2.86, past nubis's microversions,
so no key is refused for its meaning here. Each change runs in one transaction with
the flavor's row locked, so concurrent changes keep each other's keys.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.resources.flavors import TAG, visible_flavor
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Reply, Request
from nubis.core.db import api as db

COLLECTION = f"{V21}/flavors/{{flavor_id}}/os-extra_specs"
ITEM = f"{COLLECTION}/{{key}}"
MAX_VALUE_LENGTH = 255

_SPECS = {
    "type": "object",
    "patternProperties": {
        r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "number"], "maxLength": 255},
    },
    "additionalProperties": False,
}
CREATE_BODY = {
    "type": "object",
    "properties": {"extra_specs": _SPECS},
    "required": ["extra_specs"],
    "additionalProperties": False,
}
UPDATE_BODY = {**_SPECS, "minProperties": 1, "maxProperties": 1}


def _as_stored(specs: dict[str, Any]) -> dict[str, str]:
    """The specs as text; 400 for a number longer than 255 characters (a length the
    schema cannot check on a number)."""
    stored = {}
    for key, value in specs.items():
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise Fault(
                400,
                f"Invalid input for extra_specs value of {key!r}: {text[:20]}... is longer "
                f"than {MAX_VALUE_LENGTH} characters.",
            )
        stored[key] = text
    return stored


class FlavorExtraSpecs:
    """Handlers of the /flavors/{id}/os-extra_specs routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request, flavor_id: str) -> dict[str, Any]:
        flavor = visible_flavor(req, flavor_id)
        return {"extra_specs": db.flavor_extra_specs_get(req.context, flavor.flavorid)}

    def show(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        flavor = visible_flavor(req, flavor_id)
        specs = db.flavor_extra_specs_get(req.context, flavor.flavorid)
        if key not in specs:
            raise exception.FlavorExtraSpecsNotFound(flavor_id=flavor_id, extra_specs_key=key)
        return {key: specs[key]}

    def create(self, req: Request, flavor_id: str) -> dict[str, Any]:
        specs = req.body["extra_specs"]
        db.flavor_extra_specs_update_or_create(req.context, flavor_id, _as_stored(specs))
        return {"extra_specs": specs}

    def update(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        body: dict[str, Any] = req.body
        if key not in body:
            raise Fault(
                400,
                f"Request body and URI mismatch: the body sets {next(iter(body))!r}, the URI "
                f"names {key!r}.",
            )
        db.flavor_extra_specs_update_or_create(req.context, flavor_id, _as_stored(body))
        return body

    def delete(self, req: Request, flavor_id: str, key: str) -> Reply:
        db.flavor_extra_specs_delete(req.context, flavor_id, key)
        return Reply(200)


def routes(deps: Deps) -> list[Route]:
    specs = FlavorExtraSpecs(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            specs.index,
            "List a flavor's extra specs",
            policy=policies.FLAVOR_EXTRA_SPECS_INDEX,
            tag=TAG,
        ),
        Route(
            "POST",
            COLLECTION,
            specs.create,
            "Add or change extra specs of a flavor (others are kept)",
            policy=policies.FLAVOR_EXTRA_SPECS_CREATE,
            bodies=(BodySchema(CREATE_BODY),),
            tag=TAG,
        ),
        Route(
            "GET",
            ITEM,
            specs.show,
            "Show one extra spec of a flavor",
            policy=policies.FLAVOR_EXTRA_SPECS_SHOW,
            tag=TAG,
        ),
        Route(
            "PUT",
            ITEM,
            specs.update,
            "Set one extra spec of a flavor",
            policy=policies.FLAVOR_EXTRA_SPECS_UPDATE,
            bodies=(BodySchema(UPDATE_BODY),),
            tag=TAG,
        ),
        Route(
            "DELETE",
            ITEM,
            specs.delete,
            "Remove one extra spec of a flavor",
            policy=policies.FLAVOR_EXTRA_SPECS_DELETE,
            tag=TAG,
        ),
    ]
