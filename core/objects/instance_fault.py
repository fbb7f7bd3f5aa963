"""InstanceFault and InstanceFaultList: errors recorded against an instance."""

from __future__ import annotations

import traceback as traceback_module
from collections.abc import Iterable
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base


@base.NubisObjectRegistry.register
class InstanceFault(base.NubisPersistentObject, base.NubisObject):
    """One error that happened to an instance (code, message, details, host).

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "instance_uuid": fields.UUIDField(),
        "code": fields.IntegerField(),
        "message": fields.StringField(nullable=True),
        "details": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
    }

    @classmethod
    def from_exception(
        cls, context: Any, instance_uuid: str, exc: BaseException, host: str | None = None
    ) -> InstanceFault:
        """Return an unsaved fault describing *exc*: its code, message and traceback."""
        fault = cls(context)
        fault.instance_uuid = instance_uuid
        fault.code = getattr(exc, "code", 500) if isinstance(exc, exception.NubisException) else 500
        # An exception that crossed the bus is "<Class>_Remote" and its str() carries
        # the remote traceback; the message gets the class and the one-line reason.
        name = type(exc).__name__.removesuffix("_Remote")
        fault.message = f"{name}: {exception.one_line(exc)}"[:255]
        fault.details = "".join(traceback_module.format_exception(exc))
        fault.host = host
        return fault

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_fault = base.db_api().instance_fault_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_fault)


@base.NubisObjectRegistry.register
class InstanceFaultList(base.ObjectListBase, base.NubisObject):
    """Faults of several instances.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("InstanceFault")}

    @base.remotable_classmethod
    def get_by_instance_uuids(
        cls, context: Any, instance_uuids: Iterable[str], latest: bool = False
    ) -> InstanceFaultList:
        by_instance = base.db_api().instance_fault_get_by_instance_uuids(
            context, list(instance_uuids), latest=latest
        )
        rows = [fault for faults in by_instance.values() for fault in faults]
        return base.obj_make_list(context, cls(context), InstanceFault, rows)
