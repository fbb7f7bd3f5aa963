"""Migration and MigrationList: moving an instance between hosts, with its progress."""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base

_PROGRESS_FIELDS = (
    "memory_total",
    "memory_processed",
    "memory_remaining",
    "disk_total",
    "disk_processed",
    "disk_remaining",
)


@base.NubisObjectRegistry.register
class Migration(base.NubisPersistentObject, base.NubisObject):
    """One migration of one instance; ``status`` follows queued → preparing → running →
    completed, or failed/error.

    Version history:

    * 1.0 - initial version
    * 1.1 - added memory_* and disk_* progress fields
    """

    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "source_compute": fields.StringField(nullable=True),
        "dest_compute": fields.StringField(nullable=True),
        "source_node": fields.StringField(nullable=True),
        "dest_node": fields.StringField(nullable=True),
        "dest_host": fields.StringField(nullable=True),
        "old_flavor_id": fields.IntegerField(nullable=True),
        "new_flavor_id": fields.IntegerField(nullable=True),
        "status": fields.StringField(nullable=True),
        "migration_type": fields.StringField(nullable=True),
        "instance_uuid": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "memory_total": fields.IntegerField(nullable=True),
        "memory_processed": fields.IntegerField(nullable=True),
        "memory_remaining": fields.IntegerField(nullable=True),
        "disk_total": fields.IntegerField(nullable=True),
        "disk_processed": fields.IntegerField(nullable=True),
        "disk_remaining": fields.IntegerField(nullable=True),
        "hidden": fields.BooleanField(default=False),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if target_version == "1.0":
            for name in _PROGRESS_FIELDS:
                primitive.pop(name, None)

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, migration_id: int) -> Migration:
        return cls._from_db_object(
            context, cls(), base.db_api().migration_get(context, migration_id)
        )

    @base.remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> Migration:
        return cls._from_db_object(
            context, cls(), base.db_api().migration_get_by_uuid(context, uuid)
        )

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_migration = base.db_api().migration_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_migration)

    @base.remotable
    def save(self) -> None:
        updates = self._changes_for_db()
        if not updates:
            return
        db_migration = base.db_api().migration_update(self._context, self.id, updates)
        self._from_db_object(self._context, self, db_migration)

    @base.remotable
    def refresh(self) -> None:
        db_migration = base.db_api().migration_get(self._context, self.id)
        self._from_db_object(self._context, self, db_migration)


@base.NubisObjectRegistry.register
class MigrationList(base.ObjectListBase, base.NubisObject):
    """A list of Migration.

    Version history:

    * 1.0 - initial version
    * 1.1 - added get_all
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("Migration")}

    @base.remotable_classmethod
    def get_in_progress_by_host_and_node(cls, context: Any, host: str, node: str) -> MigrationList:
        rows = base.db_api().migration_get_in_progress_by_host_and_node(context, host, node)
        return base.obj_make_list(context, cls(context), Migration, rows)

    @base.remotable_classmethod
    def get_by_instance(cls, context: Any, instance_uuid: str) -> MigrationList:
        rows = base.db_api().migration_get_all_by_instance(context, instance_uuid)
        return base.obj_make_list(context, cls(context), Migration, rows)

    @base.remotable_classmethod
    def get_all(
        cls, context: Any, filters: dict[str, Any] | None = None, limit: int | None = None
    ) -> MigrationList:
        """Migrations matching *filters* (see db migration_get_all), newest first."""
        rows = base.db_api().migration_get_all(context, filters=filters, limit=limit)
        return base.obj_make_list(context, cls(context), Migration, rows)
