"""Version discovery of the compute API: ``GET /`` lists the versions (``v2.0``, the
legacy API, first, as Nova lists it), ``GET /v2.1`` describes v2.1 with the
microversion range served, ``GET /v2`` describes v2.0. All public. The legacy v2 API
is the v2.1 API at microversion 2.1 (:func:`nubis.core.api.wsgi.legacy_v2_path`)."""

from __future__ import annotations

from typing import Any

from nubis.core.api import microversion
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request

UPDATED = "2013-07-23T11:33:21Z"
V20_UPDATED = "2011-01-21T11:33:21Z"


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


def v20_document(req: Request) -> dict[str, Any]:
    return {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": V20_UPDATED,
        "links": [{"rel": "self", "href": req.url("/v2/")}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
        ],
    }


def root(req: Request) -> dict[str, Any]:
    documents = []
    for document in (v20_document(req), v21_document(req)):
        document.pop("media-types")
        document["links"] = document["links"][:1]
        documents.append(document)
    return {"versions": documents}


def v20(req: Request) -> dict[str, Any]:
    return {"version": v20_document(req)}


def v21(req: Request) -> dict[str, Any]:
    return {"version": v21_document(req)}


def routes(deps: Deps) -> list[Route]:
    return [
        Route("GET", "/", root, "Compute API versions", public=True, api="meta", tag="versions"),
        Route(
            "GET",
            "/v2",
            v20,
            "The legacy v2 compute API (v2.1 at microversion 2.1 under /v2/)",
            public=True,
            api="meta",
            tag="versions",
        ),
        Route(
            "GET",
            V21,
            v21,
            "The v2.1 compute API and its microversion range",
            public=True,
            tag="versions",
        ),
    ]
