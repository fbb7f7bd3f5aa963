"""Service and ServiceList: the record of one running service binary on one host."""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base
from nubis.core.objects import fields as nubis_fields


@base.NubisObjectRegistry.register
class Service(base.NubisPersistentObject, base.NubisObject):
    """One service binary on one host.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(nullable=True),
        "host": fields.StringField(nullable=True),
        "binary": fields.StringField(nullable=True),
        "topic": fields.StringField(nullable=True),
        "report_count": fields.IntegerField(default=0),
        "disabled": fields.BooleanField(default=False),
        "disabled_reason": fields.StringField(nullable=True),
        "forced_down": fields.BooleanField(default=False),
        "last_seen_up": nubis_fields.DateTimeField(nullable=True),
        "version": fields.IntegerField(default=0),
    }

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, service_id: int) -> Service:
        return cls._from_db_object(context, cls(), base.db_api().service_get(context, service_id))

    @base.remotable_classmethod
    def get_by_host_and_binary(cls, context: Any, host: str, binary: str) -> Service | None:
        """Return the service record, or None when there is none."""
        try:
            db_service = base.db_api().service_get_by_host_and_binary(context, host, binary)
        except exception.ServiceNotFound:
            return None
        return cls._from_db_object(context, cls(), db_service)

    @base.remotable_classmethod
    def get_minimum_version(cls, context: Any, binary: str) -> int:
        """Return the lowest version among the running services of *binary* (0 if none)."""
        versions = base.db_api().service_get_minimum_version(context, [binary])
        return int(versions.get(binary) or 0)

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_service = base.db_api().service_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_service)

    @base.remotable
    def save(self) -> None:
        updates = self._changes_for_db()
        if not updates:
            return
        db_service = base.db_api().service_update(self._context, self.id, updates)
        self._from_db_object(self._context, self, db_service)

    @base.remotable
    def destroy(self) -> None:
        base.db_api().service_destroy(self._context, self.id)
        self.obj_reset_changes()

    @base.remotable
    def refresh(self) -> None:
        self._from_db_object(self._context, self, base.db_api().service_get(self._context, self.id))


@base.NubisObjectRegistry.register
class ServiceList(base.ObjectListBase, base.NubisObject):
    """A list of Service records.

    Version history:

    * 1.0 - initial version
    * 1.1 - added get_hosts_by_topic
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("Service")}

    @base.remotable_classmethod
    def get_all(cls, context: Any, disabled: bool | None = None) -> ServiceList:
        return base.obj_make_list(
            context,
            cls(context),
            Service,
            base.db_api().service_get_all(context, disabled=disabled),
        )

    @base.remotable_classmethod
    def get_by_topic(cls, context: Any, topic: str) -> ServiceList:
        return base.obj_make_list(
            context, cls(context), Service, base.db_api().service_get_all_by_topic(context, topic)
        )

    @base.remotable_classmethod
    def get_hosts_by_topic(
        cls,
        context: Any,
        topic: str,
        seen_within: float | None = None,
        forced_down: bool | None = None,
    ) -> list[str]:
        """Return just the hosts on *topic* (see db api service_get_hosts_by_topic)."""
        return list(
            base.db_api().service_get_hosts_by_topic(
                context, topic, seen_within=seen_within, forced_down=forced_down
            )
        )

    @base.remotable_classmethod
    def get_by_binary(cls, context: Any, binary: str) -> ServiceList:
        return base.obj_make_list(
            context, cls(context), Service, base.db_api().service_get_all_by_binary(context, binary)
        )
