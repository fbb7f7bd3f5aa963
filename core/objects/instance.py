"""Instance and InstanceList: a guest and its lifecycle state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base
from nubis.core.objects import fields as nubis_fields

#: The fields Instance 1.1 added (what a user gives a server beyond its name).
USER_FIELDS = (
    "description",
    "user_metadata",
    "key_name",
    "key_data",
    "access_ip_v4",
    "access_ip_v6",
    "reservation_id",
)


@base.NubisObjectRegistry.register
class Instance(base.NubisPersistentObject, base.NubisObject):
    """A guest: where it runs, its size and its vm/task/power states.

    ``save(expected_task_state=...)`` is a compare-and-swap done in one UPDATE: it
    raises UnexpectedTaskStateError (or UnexpectedDeletingTaskStateError) when another
    actor changed the task state first. Pass a list to accept several states; ``[None]``
    means "no task in progress".

    ``user_metadata`` is what the API calls a server's ``metadata``;
    ``system_metadata`` holds nubis's own keys and is never shown to users.

    Version history:

    * 1.0 - initial version
    * 1.1 - description, user_metadata, key_name, key_data, access_ip_v4,
      access_ip_v6, reservation_id
    * 1.2 - set_tags
    """

    VERSION = "1.2"

    _json_fields = ("system_metadata", "user_metadata")

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "display_name": fields.StringField(nullable=True),
        "hostname": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
        "node": fields.StringField(nullable=True),
        "launched_on": fields.StringField(nullable=True),
        "image_ref": fields.StringField(nullable=True),
        "flavor_id": fields.IntegerField(nullable=True),
        "memory_mb": fields.IntegerField(nullable=True),
        "vcpus": fields.IntegerField(nullable=True),
        "root_gb": fields.IntegerField(nullable=True),
        "ephemeral_gb": fields.IntegerField(nullable=True),
        "vm_state": fields.StringField(nullable=True),
        "task_state": fields.StringField(nullable=True),
        "power_state": fields.IntegerField(nullable=True),
        "progress": fields.IntegerField(nullable=True),
        "scheduled_at": nubis_fields.DateTimeField(nullable=True),
        "launched_at": nubis_fields.DateTimeField(nullable=True),
        "terminated_at": nubis_fields.DateTimeField(nullable=True),
        "availability_zone": fields.StringField(nullable=True),
        "locked": fields.BooleanField(default=False),
        "locked_by": fields.StringField(nullable=True),
        "system_metadata": fields.DictOfNullableStringsField(default={}),
        "description": fields.StringField(nullable=True),
        "user_metadata": fields.DictOfNullableStringsField(default={}),
        "key_name": fields.StringField(nullable=True),
        "key_data": fields.StringField(nullable=True),
        "access_ip_v4": fields.StringField(nullable=True),
        "access_ip_v6": fields.StringField(nullable=True),
        "reservation_id": fields.StringField(nullable=True),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if tuple(int(part) for part in target_version.split(".")) < (1, 1):
            for name in USER_FIELDS:
                primitive.pop(name, None)

    @property
    def name(self) -> str:
        """The hypervisor-facing name, ``instance-<id as 8 hex digits>``."""
        return f"instance-{self.id:08x}"

    @base.remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> Instance:
        db_instance = base.db_api().instance_get_by_uuid(context, uuid)
        return cls._from_db_object(context, cls(), db_instance)

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_instance = base.db_api().instance_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_instance)

    @base.remotable
    def save(self, expected_task_state: Any = None, expected_vm_state: Any = None) -> None:
        """Write the changed fields, guarded by the expected states when given."""
        updates = self._changes_for_db()
        if not updates:
            return
        _, db_instance = base.db_api().instance_update_and_get_original(
            self._context,
            self.uuid,
            updates,
            expected_task_state=expected_task_state,
            expected_vm_state=expected_vm_state,
        )
        self._from_db_object(self._context, self, db_instance)

    @base.remotable
    def destroy(self) -> None:
        db_instance = base.db_api().instance_destroy(self._context, self.uuid)
        self._from_db_object(self._context, self, db_instance)

    @base.remotable
    def refresh(self) -> None:
        db_instance = base.db_api().instance_get_by_uuid(self._context, self.uuid)
        self._from_db_object(self._context, self, db_instance)

    @base.remotable
    def set_tags(self, tags: list[str]) -> list[str]:
        """Make *tags* the instance's tags whatever its state (a create's, before its
        build starts); return them sorted. Invalid for a bad tag or too many."""
        return list(
            base.db_api().instance_tag_set(self._context, self.uuid, tags, vm_states=None)
        )


@base.NubisObjectRegistry.register
class InstanceList(base.ObjectListBase, base.NubisObject):
    """A list of Instance.

    Version history:

    * 1.0 - initial version
    * 1.1 - get_all takes sort_keys and sort_dirs
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("Instance")}

    @base.remotable_classmethod
    def get_by_host(cls, context: Any, host: str) -> InstanceList:
        return base.obj_make_list(
            context, cls(context), Instance, base.db_api().instance_get_all_by_host(context, host)
        )

    @base.remotable_classmethod
    def get_by_host_and_node(cls, context: Any, host: str, node: str) -> InstanceList:
        rows = base.db_api().instance_get_all_by_host_and_node(context, host, node)
        return base.obj_make_list(context, cls(context), Instance, rows)

    @base.remotable_classmethod
    def get_all(
        cls,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        sort_keys: list[str] | None = None,
        sort_dirs: list[str] | None = None,
    ) -> InstanceList:
        """Instances matching *filters*, in order, one page (see db instance_get_all)."""
        rows = base.db_api().instance_get_all(
            context,
            filters=filters,
            limit=limit,
            marker=marker,
            sort_keys=sort_keys,
            sort_dirs=sort_dirs,
        )
        return base.obj_make_list(context, cls(context), Instance, rows)
