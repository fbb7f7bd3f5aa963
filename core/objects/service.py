"""Service and ServiceList: the record of one running service binary on one host."""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base


def _db():
    from nubis.core.db import api

    return api


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
        "last_seen_up": fields.DateTimeField(nullable=True),
        "version": fields.IntegerField(default=0),
    }

    @staticmethod
    def _from_db_object(context: Any, service: Service, db_service: Any) -> Service:
        for name in service.fields:
            setattr(service, name, getattr(db_service, name))
        service._context = context
        service.obj_reset_changes()
        return service

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, service_id: int) -> Service:
        return cls._from_db_object(context, cls(), _db().service_get(context, service_id))

    @base.remotable_classmethod
    def get_by_host_and_binary(cls, context: Any, host: str, binary: str) -> Service | None:
        """Return the service record, or None when there is none."""
        try:
            db_service = _db().service_get_by_host_and_binary(context, host, binary)
        except exception.ServiceNotFound:
            return None
        return cls._from_db_object(context, cls(), db_service)

    @base.remotable_classmethod
    def get_minimum_version(cls, context: Any, binary: str) -> int:
        """Return the lowest version among the running services of *binary* (0 if none)."""
        versions = _db().service_get_minimum_version(context, [binary])
        return int(versions.get(binary) or 0)

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        updates = self.obj_get_changes()
        db_service = _db().service_create(self._context, updates)
        self._from_db_object(self._context, self, db_service)

    @base.remotable
    def save(self) -> None:
        updates = self.obj_get_changes()
        updates.pop("id", None)
        if not updates:
            return
        db_service = _db().service_update(self._context, self.id, updates)
        self._from_db_object(self._context, self, db_service)

    @base.remotable
    def destroy(self) -> None:
        _db().service_destroy(self._context, self.id)
        self.obj_reset_changes()

    @base.remotable
    def refresh(self) -> None:
        current = self.get_by_id(self._context, self.id)
        for name in self.fields:
            if current.obj_attr_is_set(name) and getattr(self, name, None) != getattr(current, name):
                setattr(self, name, getattr(current, name))
        self.obj_reset_changes()


@base.NubisObjectRegistry.register
class ServiceList(base.ObjectListBase, base.NubisObject):
    """A list of Service records.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("Service")}

    @base.remotable_classmethod
    def get_all(cls, context: Any, disabled: bool | None = None) -> ServiceList:
        return base.obj_make_list(
            context, cls(context), Service, _db().service_get_all(context, disabled=disabled)
        )

    @base.remotable_classmethod
    def get_by_topic(cls, context: Any, topic: str) -> ServiceList:
        return base.obj_make_list(
            context, cls(context), Service, _db().service_get_all_by_topic(context, topic)
        )

    @base.remotable_classmethod
    def get_by_binary(cls, context: Any, binary: str) -> ServiceList:
        return base.obj_make_list(
            context, cls(context), Service, _db().service_get_all_by_binary(context, binary)
        )
