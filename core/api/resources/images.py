"""``/image``: the Image service v2 listing clients use to resolve image names
(``openstack image list``, ``server create --image NAME``): version discovery, list and
show. Images are added with ``nubis-manage image import``; the API does not upload.

Everyone authenticated sees public images and their own project's; administrators see
all. Paging follows Glance: ``limit``/``marker`` and a relative ``next`` link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import isotime
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request
from nubis.core.exception import ImageNotFound

TAG = "images"
PREFIX = "/image"

LIST_QUERY = {
    "limit": Query("integer", "Most images to return.", minimum=0),
    "marker": Query("string", "Id of the last image of the previous page."),
    "name": Query("string", "Images with exactly this name."),
    "status": Query("string", "Images in this status (active)."),
    "visibility": Query(
        "enum",
        "Images of this visibility.",
        choices=("public", "private", "shared", "community", "all"),
    ),
    "owner": Query("string", "Images owned by this project."),
    "sort_key": Query("enum", "Sort by this attribute (only created_at).", choices=("created_at",)),
    "sort_dir": Query("enum", "asc or desc (Glance's default).", choices=("asc", "desc")),
}


def version_document(req: Request) -> dict[str, Any]:
    return {
        "id": "v2.9",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": req.url(f"{PREFIX}/v2/")}],
    }


class Images:
    """Handlers of the /image routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def versions(self, req: Request) -> dict[str, Any]:
        return {"versions": [version_document(req)]}

    def index(self, req: Request) -> dict[str, Any]:
        context = req.context
        filters: dict[str, Any] = {}
        for key in ("name", "status", "owner"):
            if req.arg(key):
                filters[key] = req.arg(key)
        visibility = req.arg("visibility")
        if visibility in ("public", "private"):
            filters["visibility"] = visibility
        elif visibility in ("shared", "community"):
            return {"images": [], "first": "/v2/images", "schema": "/v2/schemas/images"}
        limit = min(
            req.arg("limit", 25) if req.arg("limit") is not None else 25,
            int(req.conf.api.max_limit),
        )
        try:
            images = self.deps.images.list(
                context,
                filters=filters,
                limit=limit,
                marker=req.arg("marker"),
                visible_to=None if req.is_admin else context.project_id,
            )
        except exception.MarkerNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        if req.arg("sort_dir") == "desc":
            images.reverse()
        result: dict[str, Any] = {
            "images": [self.view(req, image) for image in images],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if images and len(images) >= limit and req.arg("sort_dir") != "desc":
            params = {k: v for k, v in req.raw.args.items(multi=True) if k != "marker"}
            params["marker"] = images[-1].uuid
            result["next"] = "/v2/images?" + urlencode(params, doseq=True)
        return result

    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        try:
            image = self.deps.images.get(req.context, image_id)
        except ImageNotFound:
            image = None
        if image is None or not self.deps.images.visible(req.context, image):
            raise ImageNotFound(image_id=image_id)
        return self.view(req, image)

    @staticmethod
    def view(req: Request, image: Any) -> dict[str, Any]:
        return {
            "id": image.uuid,
            "name": image.name,
            "status": image.status,
            "visibility": image.visibility,
            "protected": False,
            "os_hidden": False,
            "checksum": image.checksum,
            "os_hash_algo": image.os_hash_algo,
            "os_hash_value": image.os_hash_value,
            "size": image.size,
            "virtual_size": image.virtual_size,
            "disk_format": image.disk_format,
            "container_format": image.container_format,
            "min_disk": image.min_disk,
            "min_ram": image.min_ram,
            "owner": image.owner,
            "tags": [],
            "created_at": isotime(image.created_at),
            "updated_at": isotime(image.updated_at or image.created_at),
            "self": f"/v2/images/{image.uuid}",
            "schema": "/v2/schemas/image",
        }


def routes(deps: Deps) -> list[Route]:
    images = Images(deps)
    return [
        Route(
            "GET", PREFIX, images.versions, "Image API versions", public=True, api="image", tag=TAG
        ),
        Route(
            "GET",
            f"{PREFIX}/v2/images",
            images.index,
            "List images",
            policy=policies.IMAGES_LIST,
            query=LIST_QUERY,
            api="image",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{PREFIX}/v2/images/{{image_id}}",
            images.show,
            "Show an image",
            policy=policies.IMAGES_SHOW,
            api="image",
            tag=TAG,
        ),
    ]
