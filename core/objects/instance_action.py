"""InstanceAction and InstanceActionEvent: the user-visible history of an instance.

An action (``create``, ``stop``, ``live-migration`` ...) is recorded per request; its
events are the steps services took for it (``compute_stop_instance`` ...), each with a
result of ``Success`` or ``Error`` and, on error, the traceback.
"""

from __future__ import annotations

import traceback as traceback_module
from typing import Any

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from nubis.core.objects import base
from nubis.core.objects import fields as nubis_fields

RESULT_SUCCESS = "Success"
RESULT_ERROR = "Error"


@base.NubisObjectRegistry.register
class InstanceAction(base.NubisPersistentObject, base.NubisObject):
    """One user-visible operation on an instance.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "action": fields.StringField(nullable=True),
        "instance_uuid": fields.UUIDField(nullable=True),
        "request_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "start_time": nubis_fields.DateTimeField(nullable=True),
        "finish_time": nubis_fields.DateTimeField(nullable=True),
        "message": fields.StringField(nullable=True),
    }

    @base.remotable_classmethod
    def action_start(cls, context: Any, instance_uuid: str, action: str) -> InstanceAction:
        """Record that *context*'s request started *action* on the instance."""
        values = {
            "action": action,
            "instance_uuid": instance_uuid,
            "request_id": context.request_id,
            "user_id": context.user_id,
            "project_id": context.project_id,
            "start_time": timeutils.utcnow(),
        }
        return cls._from_db_object(context, cls(), base.db_api().action_start(context, values))

    @base.remotable_classmethod
    def action_finish(cls, context: Any, instance_uuid: str) -> InstanceAction:
        """Record that *context*'s request finished its action on the instance."""
        values = {
            "instance_uuid": instance_uuid,
            "request_id": context.request_id,
            "finish_time": timeutils.utcnow(),
        }
        return cls._from_db_object(context, cls(), base.db_api().action_finish(context, values))

    @base.remotable_classmethod
    def get_by_request_id(cls, context: Any, instance_uuid: str, request_id: str) -> InstanceAction:
        db_action = base.db_api().action_get_by_request_id(context, instance_uuid, request_id)
        return cls._from_db_object(context, cls(), db_action)


@base.NubisObjectRegistry.register
class InstanceActionList(base.ObjectListBase, base.NubisObject):
    """The actions on one instance, newest first.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("InstanceAction")}

    @base.remotable_classmethod
    def get_by_instance_uuid(cls, context: Any, instance_uuid: str) -> InstanceActionList:
        rows = base.db_api().actions_get(context, instance_uuid)
        return base.obj_make_list(context, cls(context), InstanceAction, rows)


@base.NubisObjectRegistry.register
class InstanceActionEvent(base.NubisPersistentObject, base.NubisObject):
    """One step a service took for an action.

    Version history:

    * 1.0 - initial version
    * 1.1 - added event_finish_with_action
    """

    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "event": fields.StringField(nullable=True),
        "action_id": fields.IntegerField(nullable=True),
        "start_time": nubis_fields.DateTimeField(nullable=True),
        "finish_time": nubis_fields.DateTimeField(nullable=True),
        "result": fields.StringField(nullable=True),
        "traceback": fields.StringField(nullable=True),
        "host": fields.StringField(nullable=True),
        "details": fields.StringField(nullable=True),
    }

    @base.remotable_classmethod
    def event_start(
        cls, context: Any, instance_uuid: str, event_name: str, host: str | None = None
    ) -> InstanceActionEvent:
        """Record the start of *event_name* within *context*'s action on the instance."""
        values = {
            "instance_uuid": instance_uuid,
            "request_id": context.request_id,
            "event": event_name,
            "start_time": timeutils.utcnow(),
            "host": host,
        }
        db_event = base.db_api().action_event_start(context, values)
        return cls._from_db_object(context, cls(), db_event)

    @base.remotable_classmethod
    def event_finish(
        cls,
        context: Any,
        instance_uuid: str,
        event_name: str,
        exc_val: str | None = None,
        exc_tb: str | None = None,
    ) -> InstanceActionEvent:
        """Record the end of *event_name*: Success, or Error with message and traceback."""
        db_event = base.db_api().action_event_finish(
            context, _finish_values(context, instance_uuid, event_name, exc_val, exc_tb)
        )
        return cls._from_db_object(context, cls(), db_event)

    @base.remotable_classmethod
    def event_finish_with_action(
        cls,
        context: Any,
        instance_uuid: str,
        event_name: str,
        exc_val: str | None = None,
        exc_tb: str | None = None,
    ) -> InstanceActionEvent | None:
        """Record the end of *event_name* as :meth:`event_finish` does and the end of its
        action as :meth:`InstanceAction.action_finish` does, in one transaction (1.1).

        Returns None, with the action ended all the same, when the event's start was
        never recorded; InstanceActionNotFound when there is no action.
        """
        db_event = base.db_api().action_event_finish(
            context,
            _finish_values(context, instance_uuid, event_name, exc_val, exc_tb),
            finish_action=True,
        )
        return None if db_event is None else cls._from_db_object(context, cls(), db_event)

    @classmethod
    def event_finish_with_failure(
        cls, context: Any, instance_uuid: str, event_name: str, exc: BaseException
    ) -> InstanceActionEvent:
        """Record *event_name* as failed with *exc* (message and formatted traceback)."""
        result: InstanceActionEvent = cls.event_finish(
            context, instance_uuid, event_name, exc_val=str(exc), exc_tb=_formatted(exc)
        )
        return result

    @classmethod
    def event_end(
        cls, context: Any, instance_uuid: str, event_name: str, exc: BaseException | None = None
    ) -> InstanceActionEvent:
        """Record the end of *event_name*: Success when *exc* is None, else failed with *exc*."""
        if exc is None:
            return cls.event_finish(context, instance_uuid, event_name)
        return cls.event_finish_with_failure(context, instance_uuid, event_name, exc)

    @classmethod
    def event_and_action_end(
        cls, context: Any, instance_uuid: str, event_name: str, exc: BaseException | None = None
    ) -> InstanceActionEvent | None:
        """End *event_name* as :meth:`event_end` does and its action with it, in one
        remotable call (:meth:`event_finish_with_action`; the conductors are upgraded
        first, docs/deployment.md). None when the event's start was never recorded."""
        if exc is None:
            return cls.event_finish_with_action(context, instance_uuid, event_name)
        return cls.event_finish_with_action(
            context, instance_uuid, event_name, exc_val=str(exc), exc_tb=_formatted(exc)
        )


def _finish_values(
    context: Any, instance_uuid: str, event_name: str, exc_val: str | None, exc_tb: str | None
) -> dict[str, Any]:
    return {
        "instance_uuid": instance_uuid,
        "request_id": context.request_id,
        "event": event_name,
        "finish_time": timeutils.utcnow(),
        "result": RESULT_ERROR if exc_val is not None else RESULT_SUCCESS,
        "details": exc_val,
        "traceback": exc_tb,
    }


def _formatted(exc: BaseException) -> str:
    return "".join(traceback_module.format_exception(exc))


@base.NubisObjectRegistry.register
class InstanceActionEventList(base.ObjectListBase, base.NubisObject):
    """The events of one action, newest first.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("InstanceActionEvent")}

    @base.remotable_classmethod
    def get_by_action(cls, context: Any, action_id: int) -> InstanceActionEventList:
        rows = base.db_api().action_events_get(context, action_id)
        return base.obj_make_list(context, cls(context), InstanceActionEvent, rows)
