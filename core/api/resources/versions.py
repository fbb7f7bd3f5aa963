"""Version discovery of the compute API: ``GET /`` lists the versions, ``GET /v2.1``
describes v2.1 with the microversion range served. Both are public."""

from __future__ import annotations

from typing import Any

from nubis.core.api import microversion
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request

UPDATED = "2013-07-23T11:33:21Z"


def v21_document(req: Request) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(microversion.MAX_VERSION),
        "min_version": str(microversion.MIN_VERSION),
        "updated": UPDATED,
        "links": [
            {"rel": "self", "href": req.url(f"{V21}/")},
            {"rel": "describedby", "type": "application/json", "href": req.url("/openapi.json")},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.compute+json;version=2.1",
            }
        ],
    }


def root(req: Request) -> dict[str, Any]:
    document = v21_document(req)
    document.pop("media-types")
    document["links"] = document["links"][:1]
    return {"versions": [document]}


def v21(req: Request) -> dict[str, Any]:
    return {"version": v21_document(req)}


def routes(deps: Deps) -> list[Route]:
    return [
        Route("GET", "/", root, "Compute API versions", public=True, api="meta", tag="versions"),
        Route(
            "GET",
            V21,
            v21,
            "The v2.1 compute API and its microversion range",
            public=True,
            tag="versions",
        ),
    ]
