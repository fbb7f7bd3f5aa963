"""``/v2.1/images``: the compute API's image proxy (microversions 2.1 to 2.35), as Nova
serves it over the image service -- here over nubis's own image registry, with the
image API's visibility and policy rules.

List (``name``, ``status``, ``changes-since``, ``minRam``, ``minDisk``, ``server`` --
snapshots of that server, by id or link: their ``instance_uuid`` property --, ``type``
-- ``snapshot`` or ``backup``: their ``image_type`` property --, any ``property-<name>``,
paging), detail (with the ``server`` a snapshot was taken of), show, delete, and an
image's ``metadata`` (its extra properties: list, replace, merge,
one key's show/set/delete; at most ``[quota] metadata_items``, then 403). Statuses are
Nova's: ``queued``/``saving`` are ``SAVING`` (progress 25/50), ``active`` is ``ACTIVE``
(100), ``killed`` ``ERROR``. From 2.36 these routes are gone (404), as in Nova.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import (
    PAGING,
    V21,
    isotime,
    limit_of,
    meta_item,
    next_link,
    page,
    utc_naive,
)
from nubis.core.api.resources.image_schema import check_property_name
from nubis.core.api.resources.images import Images
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query, meta_body, metadata_body
from nubis.core.api.wsgi import Reply, Request

TAG = "images (compute proxy)"
COLLECTION = f"{V21}/images"
ITEM = f"{COLLECTION}/{{image_id}}"
MAX_VERSION = "2.35"

_STATUS = {"queued": "SAVING", "saving": "SAVING", "active": "ACTIVE", "killed": "ERROR"}
_PROGRESS = {"queued": 25, "saving": 50, "active": 100}

LIST_QUERY = {
    **PAGING,
    "name": Query("string", "Images with exactly this name."),
    "status": Query("string", "Images in this (Nova) status, e.g. ACTIVE."),
    "changes-since": Query("datetime", "Images changed at or after this time."),
    "minRam": Query("integer", "Images needing at least this much RAM (MiB).", minimum=0),
    "minDisk": Query("integer", "Images needing at least this much disk (GiB).", minimum=0),
    "type": Query("string", "Images of this image_type property: snapshot or backup."),
    "server": Query("string", "Snapshots and backups of this server (its id or a link)."),
}

#: ``property-<name>=<value>``: images whose extra property <name> is <value> (Nova).
PROPERTY_PREFIX = "property-"


def _links(req: Request, image_id: str) -> list[dict[str, str]]:
    return [
        {"rel": "self", "href": req.url(f"{COLLECTION}/{image_id}")},
        {"rel": "bookmark", "href": req.url(f"/images/{image_id}")},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": req.url(f"/image/images/{image_id}"),
        },
    ]


def summary(req: Request, image: Any) -> dict[str, Any]:
    return {"id": image.uuid, "name": image.name, "links": _links(req, image.uuid)}


def detail(req: Request, image: Any) -> dict[str, Any]:
    view = summary(req, image)
    server = (image.properties or {}).get("instance_uuid")
    if server:
        view["server"] = {
            "id": server,
            "links": [
                {"rel": "self", "href": req.url(f"{V21}/servers/{server}")},
                {"rel": "bookmark", "href": req.url(f"/servers/{server}")},
            ],
        }
    view.update(
        {
            "minRam": image.min_ram or 0,
            "minDisk": image.min_disk or 0,
            "progress": _PROGRESS.get(image.status, 0),
            "status": _STATUS.get(image.status, "UNKNOWN"),
            "created": isotime(image.created_at),
            "updated": isotime(image.updated_at or image.created_at),
            "metadata": dict(image.properties or {}),
            "OS-EXT-IMG-SIZE:size": image.size or 0,
        }
    )
    return view


class ComputeImages:
    """Handlers of the /v2.1/images routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.images = Images(deps)

    def _list(self, req: Request, view: Any) -> dict[str, Any]:
        context = req.context
        filters: dict[str, Any] = {"community": True}
        if req.arg("name"):
            filters["name"] = req.arg("name")
        properties = {
            key[len(PROPERTY_PREFIX) :]: value
            for key, value in req.raw.args.items()
            if key.startswith(PROPERTY_PREFIX) and key != PROPERTY_PREFIX
        }
        if req.arg("type"):
            properties["image_type"] = req.arg("type")
        if req.arg("server"):
            properties["instance_uuid"] = str(req.arg("server")).rstrip("/").rsplit("/", 1)[-1]
        if properties:
            filters["properties"] = properties
        found = self.deps.images.list(
            context,
            filters=filters,
            visible_to=None if req.is_admin else context.project_id,
            sort=[("created_at", "asc")],
        )
        if req.arg("status"):
            found = [i for i in found if _STATUS.get(i.status) == req.arg("status").upper()]
        if req.arg("changes-since") is not None:
            since = req.arg("changes-since")
            found = [i for i in found if utc_naive(i.updated_at or i.created_at) >= since]
        if req.arg("minRam") is not None:
            found = [i for i in found if (i.min_ram or 0) >= req.arg("minRam")]
        if req.arg("minDisk") is not None:
            found = [i for i in found if (i.min_disk or 0) >= req.arg("minDisk")]
        limit = limit_of(req)
        shown = page(found, req.arg("marker"), limit, lambda i: str(i.uuid))
        result: dict[str, Any] = {"images": [view(req, i) for i in shown]}
        path = COLLECTION + ("/detail" if view is detail else "")
        more = next_link(req, path, shown, limit, lambda i: str(i.uuid))
        if more:
            result["images_links"] = more
        return result

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, summary)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail)

    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"image": detail(req, self.images.load(req, image_id))}

    def delete(self, req: Request, image_id: str) -> Reply:
        self.images.delete(req, image_id)
        return Reply(204)

    # --- metadata (the image's extra properties) -------------------------------------------

    def metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"metadata": dict(self.images.load(req, image_id).properties or {})}

    def metadata_item(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        properties = self.images.load(req, image_id).properties or {}
        if key not in properties:
            raise exception.MetadataItemNotFound(key=key)
        return {"meta": {key: properties[key]}}

    def _change(
        self, req: Request, image_id: str, items: dict[str, str], replace: bool = False
    ) -> dict[str, str]:
        image = self.images.load(req, image_id)
        req.authorize(policies.IMAGES_MODIFY, self.images.target(image))
        for key in items:
            check_property_name(key)
        properties = dict(items) if replace else {**(image.properties or {}), **items}
        allowed = int(req.conf.quota.metadata_items)
        if 0 <= allowed < len(properties):
            raise exception.MetadataLimitExceeded(allowed=allowed)
        self.deps.images.update(req.context, image, {"properties": properties})
        return properties

    def replace_metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"metadata": self._change(req, image_id, req.body["metadata"], replace=True)}

    def merge_metadata(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"metadata": self._change(req, image_id, req.body["metadata"])}

    def set_metadata_item(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        meta = meta_item(req, key)
        self._change(req, image_id, meta)
        return {"meta": {key: meta[key]}}

    def delete_metadata_item(self, req: Request, image_id: str, key: str) -> Reply:
        image = self.images.load(req, image_id)
        req.authorize(policies.IMAGES_MODIFY, self.images.target(image))
        properties = dict(image.properties or {})
        if key not in properties:
            raise exception.MetadataItemNotFound(key=key)
        del properties[key]
        self.deps.images.update(req.context, image, {"properties": properties})
        return Reply(204)


def routes(deps: Deps) -> list[Route]:
    h = ComputeImages(deps)
    meta = f"{ITEM}/metadata"

    def route(method: str, path: str, handler: Any, summary: str, rule: str, **kw: Any) -> Route:
        return Route(
            method, path, handler, summary, policy=rule, max_version=MAX_VERSION, tag=TAG, **kw
        )

    return [
        route("GET", COLLECTION, h.index, "List images", policies.IMAGES_LIST, query=LIST_QUERY),
        route(
            "GET",
            f"{COLLECTION}/detail",
            h.detail,
            "List images with details",
            policies.IMAGES_LIST,
            query=LIST_QUERY,
        ),
        route("GET", ITEM, h.show, "Show an image", policies.IMAGES_SHOW),
        route(
            "DELETE",
            ITEM,
            h.delete,
            "Delete an image",
            policies.IMAGES_DELETE,
            target="resource",
            status=204,
            responses=(409,),
        ),
        route("GET", meta, h.metadata, "An image's metadata", policies.IMAGES_SHOW),
        route(
            "PUT",
            meta,
            h.replace_metadata,
            "Replace an image's metadata",
            policies.IMAGES_MODIFY,
            target="resource",
            bodies=(BodySchema(metadata_body),),
        ),
        route(
            "POST",
            meta,
            h.merge_metadata,
            "Add or change an image's metadata items",
            policies.IMAGES_MODIFY,
            target="resource",
            bodies=(BodySchema(metadata_body),),
        ),
        route(
            "GET",
            f"{meta}/{{key}}",
            h.metadata_item,
            "One metadata item of an image",
            policies.IMAGES_SHOW,
        ),
        route(
            "PUT",
            f"{meta}/{{key}}",
            h.set_metadata_item,
            "Set one metadata item of an image",
            policies.IMAGES_MODIFY,
            target="resource",
            bodies=(BodySchema(meta_body),),
        ),
        route(
            "DELETE",
            f"{meta}/{{key}}",
            h.delete_metadata_item,
            "Delete one metadata item of an image",
            policies.IMAGES_MODIFY,
            target="resource",
            status=204,
        ),
    ]
