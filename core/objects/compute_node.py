"""ComputeNode and ComputeNodeList: the resources of one hypervisor node."""

from __future__ import annotations

from typing import Any

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base

_RATIO_FIELDS = ("cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio")


@base.NubisObjectRegistry.register
class ComputeNode(base.NubisPersistentObject, base.NubisObject):
    """One hypervisor node reported by a compute host's virt driver.

    Version history:

    * 1.0 - initial version
    * 1.1 - added cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio
    """

    VERSION = "1.1"

    _json_fields = ("stats", "supported_instances")

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(),
        "service_id": fields.IntegerField(nullable=True),
        "host": fields.StringField(nullable=True),
        "hypervisor_hostname": fields.StringField(nullable=True),
        "vcpus": fields.IntegerField(),
        "memory_mb": fields.IntegerField(),
        "local_gb": fields.IntegerField(),
        "vcpus_used": fields.IntegerField(),
        "memory_mb_used": fields.IntegerField(),
        "local_gb_used": fields.IntegerField(),
        "free_ram_mb": fields.IntegerField(nullable=True),
        "free_disk_gb": fields.IntegerField(nullable=True),
        "running_vms": fields.IntegerField(nullable=True),
        "disk_available_least": fields.IntegerField(nullable=True),
        "hypervisor_type": fields.StringField(nullable=True),
        "hypervisor_version": fields.IntegerField(nullable=True),
        "cpu_info": fields.StringField(nullable=True),
        "host_ip": fields.IPAddressField(nullable=True),
        "stats": fields.DictOfNullableStringsField(default={}),
        "supported_instances": fields.ListOfListsOfStringsField(default=[]),
        "cpu_allocation_ratio": fields.FloatField(nullable=True),
        "ram_allocation_ratio": fields.FloatField(nullable=True),
        "disk_allocation_ratio": fields.FloatField(nullable=True),
        "mapped": fields.IntegerField(default=0),
    }

    def _changes_for_db(self) -> dict[str, Any]:
        updates: dict[str, Any] = super()._changes_for_db()
        if updates.get("host_ip") is not None:  # a netaddr.IPAddress; the column is text
            updates["host_ip"] = str(updates["host_ip"])
        return updates

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if _version(target_version) < (1, 1):
            for name in _RATIO_FIELDS:
                primitive.pop(name, None)

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, compute_id: int) -> ComputeNode:
        return cls._from_db_object(
            context, cls(), base.db_api().compute_node_get(context, compute_id)
        )

    @base.remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> ComputeNode:
        return cls._from_db_object(
            context, cls(), base.db_api().compute_node_get_by_uuid(context, uuid)
        )

    @base.remotable_classmethod
    def get_by_host_and_nodename(cls, context: Any, host: str, nodename: str) -> ComputeNode:
        db_node = base.db_api().compute_node_get_by_host_and_nodename(context, host, nodename)
        return cls._from_db_object(context, cls(), db_node)

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_node = base.db_api().compute_node_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_node)

    @base.remotable
    def save(self) -> None:
        updates = self._changes_for_db()
        if not updates:
            return
        db_node = base.db_api().compute_node_update(self._context, self.id, updates)
        self._from_db_object(self._context, self, db_node)

    @base.remotable
    def destroy(self) -> None:
        base.db_api().compute_node_delete(self._context, self.id)

    @base.remotable
    def refresh(self) -> None:
        db_node = base.db_api().compute_node_get(self._context, self.id)
        self._from_db_object(self._context, self, db_node)


@base.NubisObjectRegistry.register
class ComputeNodeList(base.ObjectListBase, base.NubisObject):
    """A list of ComputeNode.

    Version history:

    * 1.0 - initial version
    * 1.1 - added get_updated_since
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("ComputeNode")}

    @base.remotable_classmethod
    def get_all(cls, context: Any) -> ComputeNodeList:
        return base.obj_make_list(
            context, cls(context), ComputeNode, base.db_api().compute_node_get_all(context)
        )

    @base.remotable_classmethod
    def get_all_by_host(cls, context: Any, host: str) -> ComputeNodeList:
        return base.obj_make_list(
            context,
            cls(context),
            ComputeNode,
            base.db_api().compute_node_get_all_by_host(context, host),
        )

    @base.remotable_classmethod
    def get_updated_since(cls, context: Any, since: str | None) -> ComputeNodeList:
        """Return the nodes created, updated or deleted at or after *since* (an ISO 8601
        time, UTC unless it says otherwise, e.g. ``datetime.isoformat()`` of a naive UTC
        time; a string because arguments cross the bus as JSON), or every live node when
        *since* is None. Deleted nodes are included, with ``deleted`` True. See the db
        api's ``compute_node_get_updated_since``."""
        when = None
        if since is not None:
            when = timeutils.normalize_time(timeutils.parse_isotime(since))
        return base.obj_make_list(
            context,
            cls(context),
            ComputeNode,
            base.db_api().compute_node_get_updated_since(context, when),
        )


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
