"""Policy rules of the Image API subset (Glance's defaults). Their target is the image: its
owner as project_id (the caller's project when creating) and its visibility.
"""

from __future__ import annotations

from nubis.core.api.policies.base import (
    ADMIN,
    ANY_AUTHENTICATED,
    IMAGE,
    PROJECT_MEMBER_OR_ADMIN,
    rule,
)

IMAGES_LIST = "image:get_images"
IMAGES_SHOW = "image:get_image"
IMAGES_CREATE = "image:add_image"
IMAGES_MODIFY = "image:modify_image"
IMAGES_DELETE = "image:delete_image"
IMAGES_UPLOAD = "image:upload_image"
IMAGES_DOWNLOAD = "image:download_image"
IMAGES_PUBLICIZE = "image:publicize_image"
IMAGES_COMMUNITIZE = "image:communitize_image"

RULES = [
    rule(IMAGES_LIST, ANY_AUTHENTICATED, "List images", [("GET", "/v2/images")]),
    rule(IMAGES_SHOW, ANY_AUTHENTICATED, "Show an image", [("GET", "/v2/images/{image_id}")]),
    # The image rules are Glance's defaults; their target is the image: its owner as
    # project_id (the caller's project when creating) and its visibility.
    rule(
        IMAGES_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Create an image owned by one's project",
        [("POST", "/v2/images")],
    ),
    rule(IMAGES_MODIFY, PROJECT_MEMBER_OR_ADMIN, "Update an image", [("PATCH", IMAGE)]),
    rule(IMAGES_DELETE, PROJECT_MEMBER_OR_ADMIN, "Delete an image", [("DELETE", IMAGE)]),
    rule(
        IMAGES_UPLOAD,
        PROJECT_MEMBER_OR_ADMIN,
        "Upload an image's data",
        [("PUT", IMAGE + "/file")],
    ),
    rule(
        IMAGES_DOWNLOAD,
        "rule:context_is_admin or (role:member and (project_id:%(project_id)s or "
        "'public':%(visibility)s or 'community':%(visibility)s))",
        "Download an image's data",
        [("GET", IMAGE + "/file")],
    ),
    rule(
        IMAGES_PUBLICIZE,
        ADMIN,
        "Make an image public (create or update with visibility public)",
        [("POST", "/v2/images"), ("PATCH", IMAGE)],
    ),
    rule(
        IMAGES_COMMUNITIZE,
        PROJECT_MEMBER_OR_ADMIN,
        "Make an image community (create or update with visibility community)",
        [("POST", "/v2/images"), ("PATCH", IMAGE)],
    ),
]
