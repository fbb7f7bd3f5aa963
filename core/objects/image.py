"""Image and ImageList: the base images of the local image registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base


@base.NubisObjectRegistry.register
class Image(base.NubisPersistentObject, base.NubisObject):
    """A base image instances boot from as a copy-on-write overlay.

    Its file is ``<[api] images_path>/<uuid>`` (see :mod:`nubis.core.api.image_registry`), and an
    instance's ``image_ref`` is the image's uuid.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(),
        "status": fields.StringField(default="active"),
        "disk_format": fields.StringField(),
        "container_format": fields.StringField(default="bare"),
        "size": fields.IntegerField(),
        "virtual_size": fields.IntegerField(nullable=True),
        "checksum": fields.StringField(nullable=True),
        "os_hash_algo": fields.StringField(nullable=True),
        "os_hash_value": fields.StringField(nullable=True),
        "owner": fields.StringField(nullable=True),
        "visibility": fields.StringField(default="public"),
        "min_disk": fields.IntegerField(default=0),
        "min_ram": fields.IntegerField(default=0),
    }

    @base.remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> Image:
        return cls._from_db_object(context, cls(), base.db_api().image_get_by_uuid(context, uuid))

    @base.remotable_classmethod
    def get_by_name(cls, context: Any, name: str) -> Image:
        return cls._from_db_object(context, cls(), base.db_api().image_get_by_name(context, name))

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_image = base.db_api().image_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_image)

    @base.remotable
    def destroy(self) -> None:
        base.db_api().image_destroy(self._context, self.uuid)


@base.NubisObjectRegistry.register
class ImageList(base.ObjectListBase, base.NubisObject):
    """A list of Image.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("Image")}

    @base.remotable_classmethod
    def get_all(
        cls,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        visible_to: str | None = None,
    ) -> ImageList:
        """Images in creation order; see the DB API's ``image_get_all``."""
        rows = base.db_api().image_get_all(
            context, filters=filters, limit=limit, marker=marker, visible_to=visible_to
        )
        return base.obj_make_list(context, cls(context), Image, rows)
