"""``PUT`` and ``GET /image/v2/images/{id}/file``: an image's data.

Upload (204): ``Content-Type: application/octet-stream``, to a ``queued`` image whose
disk_format and container_format are set (409 for an image in another status, as
Glance's "upload to an active image"); the body is streamed into the image store with
its size and hashes computed on the way (:meth:`nubis.core.api.image_registry.ImageAPI.upload`).
Past ``[api] max_image_size`` the answer is 413; content that is not a standalone image
of the image's disk_format is 400; in both cases the image goes back to ``queued`` with
nothing stored.

nubis-api's HTTP server lets upload requests (and only them) carry bodies up to
``[api] max_image_size`` (:func:`large_bodies`), spooling them to a temporary file
before the application reads them.

Download: the data streamed in 1 MiB chunks with ``Content-MD5`` (the image's
checksum) and ``Content-Length``; 204 when the image has no data yet, as Glance answers.
"""

from __future__ import annotations

import re
from typing import Any

from oslo_config import cfg

from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.http_server import LargeBodies
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Reply, Request, Stream

OCTET_STREAM = "application/octet-stream"
UPLOAD_PATH = re.compile(r"/image/v2/images/[^/]+/file/?")


def large_bodies(conf: cfg.ConfigOpts) -> LargeBodies:
    """The HTTP server's large-body rule: image data uploads, up to max_image_size."""
    limit = int(conf.api.max_image_size)

    def is_upload(method: str, path: str) -> bool:
        return method == "PUT" and UPLOAD_PATH.fullmatch(path) is not None

    return is_upload, limit, f"the image data is larger than [api] max_image_size ({limit} bytes)"


def routes(images: Any, image_path: str) -> list[Route]:
    """The data routes; *images* is the :class:`~.images.Images` handler object."""

    def upload(req: Request, image_id: str) -> Reply:
        if req.raw.mimetype != OCTET_STREAM:
            raise Fault(
                415,
                f"Unsupported Content-Type {req.raw.mimetype or '(none)'}; send image data "
                f"as {OCTET_STREAM}.",
            )
        image = images.load(req, image_id)
        req.authorize(policies.IMAGES_UPLOAD, images.target(image))
        images.deps.images.upload(req.context, image, req.raw.stream)
        return Reply(204)

    def download(req: Request, image_id: str) -> Reply:
        image = images.load(req, image_id)
        req.authorize(policies.IMAGES_DOWNLOAD, images.target(image))
        chunks = images.deps.images.download(image)
        if chunks is None:
            return Reply(204)
        return Reply(200, Stream(chunks, int(image.size)), [("Content-MD5", image.checksum)])

    return [
        Route(
            "PUT",
            image_path + "/file",
            upload,
            "Upload an image's data",
            policy=policies.IMAGES_UPLOAD,
            target="resource",
            status=204,
            api="image",
            tag="images",
            content_type=OCTET_STREAM,
            responses=(409, 413, 415),
        ),
        Route(
            "GET",
            image_path + "/file",
            download,
            "Download an image's data",
            policy=policies.IMAGES_DOWNLOAD,
            target="resource",
            api="image",
            tag="images",
        ),
    ]
