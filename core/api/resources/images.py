"""``/image``: the Image service v2 (a Glance subset): version discovery, create, list,
show, update (:mod:`.image_patch`), delete, data upload and download
(:mod:`.image_upload`) and the schema documents.

An image is created ``queued`` (no data), becomes ``saving`` while its data is uploaded
and ``active`` once stored (see :mod:`nubis.core.api.image_registry`). Who sees what is
Glance's: public and community images are seen by everyone, private and shared ones by
their owner's project (shared is Glance's default visibility; nubis has no image members,
so a shared image is seen by its owner only); administrators see all. Listing hides other
projects' community images unless ``visibility=community`` or ``all`` asks for them.
Changing an image is for its owner's members and administrators; only administrators make
an image public (Glance's ``publicize_image``). Paging follows Glance: ``limit``/``marker``,
a relative ``next`` link, default order newest first. As in Glance, a list query
parameter that is not one of the image's own attributes filters on the extra property
of that name (``image_type=backup&instance_uuid=...``: a server's backups).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nubis.core import exception
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps, image_patch, image_schema, image_upload
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Reply, Request
from nubis.core.exception import ImageNotFound

TAG = "images"
PREFIX = "/image"
V2 = f"{PREFIX}/v2"

LIST_QUERY = {
    "limit": Query("integer", "Most images to return.", minimum=0),
    "marker": Query("string", "Id of the last image of the previous page."),
    "name": Query("string", "Images with exactly this name."),
    "status": Query("string", "Images in this status (queued, saving, active)."),
    "visibility": Query(
        "enum",
        "Images of this visibility; all: every image the caller may see.",
        choices=("public", "private", "shared", "community", "all"),
    ),
    "owner": Query("string", "Images owned by this project."),
    "tag": Query("string", "Images with this tag (repeat for several: all of them).", multi=True),
    "disk_format": Query("string", "Images of this disk format."),
    "container_format": Query("string", "Images of this container format."),
    "sort_key": Query("string", "Sort by this attribute (repeatable).", multi=True),
    "sort_dir": Query("string", "asc or desc, one per sort_key (default desc).", multi=True),
    "sort": Query("string", "Glance's sort syntax: key[:asc|desc],... (default created_at:desc)."),
}


def version_document(req: Request) -> dict[str, Any]:
    return {
        "id": "v2.9",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": req.url(f"{V2}/")}],
    }


def _sort(req: Request) -> list[tuple[str, str]]:
    """The requested order as [(key, dir)]: ``sort`` or ``sort_key``/``sort_dir``."""
    if req.arg("sort") and (req.arg("sort_key") or req.arg("sort_dir")):
        raise Fault(400, "Give either sort or sort_key/sort_dir, not both.")
    if req.arg("sort"):
        order = []
        for item in str(req.arg("sort")).split(","):
            key, _, direction = item.strip().partition(":")
            order.append((key.strip(), direction.strip() or "desc"))
        return order
    keys = req.arg("sort_key") or ["created_at"]
    dirs = req.arg("sort_dir") or []
    if len(dirs) > len(keys):
        raise Fault(400, "Give at most one sort_dir per sort_key.")
    return [(key, dirs[i] if i < len(dirs) else "desc") for i, key in enumerate(keys)]


class Images:
    """Handlers of the /image routes other than update and data, and what those
    share (loading an image the caller may see, its policy target)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @staticmethod
    def target(image: Any) -> dict[str, Any]:
        """The policy target of *image*: its owner project and visibility."""
        return {"project_id": image.owner, "visibility": image.visibility}

    def authorize_visibility(self, req: Request, visibility: str, image: Any = None) -> None:
        """403 unless the caller may give an image (or a new one) *visibility*
        (Glance's publicize and communitize rules)."""
        rule = {"public": policies.IMAGES_PUBLICIZE, "community": policies.IMAGES_COMMUNITIZE}
        if visibility in rule:
            scope = (
                self.target(image) if image is not None else {"project_id": req.context.project_id}
            )
            if not req.can(rule[visibility], scope):
                raise Fault(
                    403,
                    f"You are not allowed to make an image {visibility} "
                    f"(policy {rule[visibility]}).",
                )

    def versions(self, req: Request) -> dict[str, Any]:
        return {"versions": [version_document(req)]}

    def load(self, req: Request, image_id: str) -> Any:
        """The image *image_id* if the caller may see it; 404 otherwise."""
        found = self.deps.images.list(req.context, filters={"uuid": image_id}, limit=1)
        if not found or not self.deps.images.visible(req.context, found[0]):
            raise ImageNotFound(image_id=image_id)
        return found[0]

    def index(self, req: Request) -> dict[str, Any]:
        context = req.context
        filters: dict[str, Any] = {}
        for key in ("name", "status", "owner", "disk_format", "container_format", "tag"):
            if req.arg(key):
                filters[key] = req.arg(key)
        properties = {
            key: value
            for key, value in req.raw.args.items()
            if key not in LIST_QUERY
            and key not in image_schema.SETTABLE
            and key not in image_schema.READ_ONLY
            and key not in ("id", "member_status", "size_min", "size_max")
        }
        if properties:
            filters["properties"] = properties
        visibility = req.arg("visibility")
        if visibility and visibility != "all":
            filters["visibility"] = visibility
        filters["community"] = visibility in ("community", "all")
        if req.is_admin and not visibility:
            filters["community"] = True
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
                sort=_sort(req),
            )
        except exception.MarkerNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        result: dict[str, Any] = {
            "images": [image_schema.view(image) for image in images],
            "first": "/v2/images",
            "schema": "/v2/schemas/images",
        }
        if images and len(images) >= limit:
            params = {k: v for k, v in req.raw.args.items(multi=True) if k != "marker"}
            params["marker"] = images[-1].uuid
            result["next"] = "/v2/images?" + urlencode(list(params.items()), doseq=True)
        return result

    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        return image_schema.view(self.load(req, image_id))

    def tasks(self, req: Request, image_id: str) -> dict[str, Any]:
        """Glance's image tasks (2.12): nubis writes an image's data in the request
        that sends it (or on the compute host of a snapshot), never as a task."""
        self.load(req, image_id)
        return {"tasks": []}

    def create(self, req: Request) -> Reply:
        body: dict[str, Any] = req.body
        for key in body:
            if key != "id":
                image_schema.refuse_read_only(key)
        values = {key: body[key] for key in image_schema.SETTABLE if key in body}
        values["id"] = body.get("id")
        properties = {
            key: value
            for key, value in body.items()
            if key not in image_schema.SETTABLE and key != "id"
        }
        for key in properties:
            image_schema.check_property_name(key)
        values["properties"] = properties
        values.setdefault("visibility", "shared")
        owner = values.get("owner", req.context.project_id)
        if owner != req.context.project_id and not req.is_admin:
            raise Fault(403, f"You are not permitted to create images owned by '{owner}'.")
        values["owner"] = owner
        req.authorize(policies.IMAGES_CREATE, {"project_id": owner})
        self.authorize_visibility(req, values["visibility"])
        image = self.deps.images.create(req.context, values)
        return Reply(
            201,
            image_schema.view(image),
            [("Location", req.url(f"{V2}/images/{image.uuid}"))],
        )

    def delete(self, req: Request, image_id: str) -> None:
        image = self.load(req, image_id)
        req.authorize(policies.IMAGES_DELETE, self.target(image))
        self.deps.images.delete(req.context, image)

    def schema(self, req: Request) -> dict[str, Any]:
        return image_schema.document()

    def schemas(self, req: Request) -> dict[str, Any]:
        return image_schema.list_document()


def routes(deps: Deps) -> list[Route]:
    images = Images(deps)
    image = f"{V2}/images/{{image_id}}"
    return [
        Route(
            "GET", PREFIX, images.versions, "Image API versions", public=True, api="image", tag=TAG
        ),
        Route(
            "GET",
            f"{V2}/images",
            images.index,
            "List images",
            policy=policies.IMAGES_LIST,
            query=LIST_QUERY,
            api="image",
            tag=TAG,
        ),
        Route(
            "POST",
            f"{V2}/images",
            images.create,
            "Create an image (queued, no data yet)",
            policy=policies.IMAGES_CREATE,
            target="resource",
            bodies=(BodySchema(image_schema.CREATE_SCHEMA),),
            status=201,
            api="image",
            tag=TAG,
            responses=(409, 413),
        ),
        Route(
            "GET",
            image,
            images.show,
            "Show an image",
            policy=policies.IMAGES_SHOW,
            api="image",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{image}/tasks",
            images.tasks,
            "An image's import tasks (always none: data is stored synchronously)",
            policy=policies.IMAGES_SHOW,
            api="image",
            tag=TAG,
        ),
        Route(
            "DELETE",
            image,
            images.delete,
            "Delete an image (not protected, no instance booting from it)",
            policy=policies.IMAGES_DELETE,
            target="resource",
            status=204,
            api="image",
            tag=TAG,
            responses=(409,),
        ),
        Route(
            "GET",
            f"{V2}/schemas/image",
            images.schema,
            "The JSON schema of an image",
            policy=policies.IMAGES_SHOW,
            api="image",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V2}/schemas/images",
            images.schemas,
            "The JSON schema of an image list",
            policy=policies.IMAGES_LIST,
            api="image",
            tag=TAG,
        ),
        *image_patch.routes(images, image),
        *image_upload.routes(images, image),
    ]
