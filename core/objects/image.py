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

    ``tags`` and ``properties`` (Glance's extra string properties) are rows of their
    own tables; :meth:`save` replaces them as a whole when they changed.

    Version history:

    * 1.0 - initial version
    * 1.1 - name, disk_format, container_format and size nullable (queued images);
      protected, tags, properties; save()
    """

    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(nullable=True),
        "status": fields.StringField(default="active"),
        "disk_format": fields.StringField(nullable=True),
        "container_format": fields.StringField(nullable=True, default="bare"),
        "size": fields.IntegerField(nullable=True),
        "virtual_size": fields.IntegerField(nullable=True),
        "checksum": fields.StringField(nullable=True),
        "os_hash_algo": fields.StringField(nullable=True),
        "os_hash_value": fields.StringField(nullable=True),
        "owner": fields.StringField(nullable=True),
        "visibility": fields.StringField(default="public"),
        "min_disk": fields.IntegerField(default=0),
        "min_ram": fields.IntegerField(default=0),
        "protected": fields.BooleanField(default=False),
        "tags": fields.ListOfStringsField(default=[]),
        "properties": fields.DictOfStringsField(default={}),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if tuple(int(part) for part in target_version.split(".")) < (1, 1):
            for name in ("protected", "tags", "properties"):
                primitive.pop(name, None)

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
    def save(self, expected_status: str | None = None) -> None:
        """Write the changed fields; ImageNotFound if the image is gone. With
        *expected_status*, only if the image is in that status (ImageStatusConflict)."""
        updates = self._changes_for_db()
        if expected_status is not None:
            updates["expected_status"] = expected_status
        if updates:
            db_image = base.db_api().image_update(self._context, self.uuid, updates)
            self._from_db_object(self._context, self, db_image)

    @base.remotable
    def destroy(self) -> None:
        base.db_api().image_destroy(self._context, self.uuid)


@base.NubisObjectRegistry.register
class ImageList(base.ObjectListBase, base.NubisObject):
    """A list of Image.

    Version history:

    * 1.0 - initial version
    * 1.1 - Image 1.1; get_all takes sort keys
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("Image")}

    @base.remotable_classmethod
    def get_all(
        cls,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        visible_to: str | None = None,
        sort: list[tuple[str, str]] | None = None,
    ) -> ImageList:
        """One page of images; see the DB API's ``image_get_all``."""
        rows = base.db_api().image_get_all(
            context,
            filters=filters,
            limit=limit,
            marker=marker,
            visible_to=visible_to,
            sort=[list(pair) for pair in sort] if sort else None,
        )
        return base.obj_make_list(context, cls(context), Image, rows)
