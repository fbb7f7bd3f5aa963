"""The ``instance_actions`` and ``instance_actions_events`` tables: an instance's history.

An action (named by instance uuid + request id) is started and finished; its events are
started and finished within it (an event ending in ``Error`` marks the action's message
``Error``, as in Nova). Actions outlive their instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _all, _first_by, _query
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import InstanceAction, InstanceActionEvent

_ACTION_KEYS = ("instance_uuid", "request_id")


def _action_get_by_request_id(
    session: Session, context: Any, instance_uuid: str, request_id: str
) -> InstanceAction:
    action = _first_by(
        session,
        context,
        InstanceAction,
        {"instance_uuid": instance_uuid, "request_id": request_id},
        order=("-created_at", "-id"),
    )
    if action is None:
        raise exception.InstanceActionNotFound(request_id=request_id, instance_uuid=instance_uuid)
    return action


@_writer
def action_start(session: Session, context: Any, values: Mapping[str, Any]) -> InstanceAction:
    """Record the start of an action (values: action, instance_uuid, request_id, ...)."""
    action = InstanceAction(**values)
    session.add(action)
    session.flush()
    return action


@_writer
def action_finish(session: Session, context: Any, values: Mapping[str, Any]) -> InstanceAction:
    """Record the end of the action *values* names by instance_uuid and request_id.

    The other values (finish_time, message) are stored on it. InstanceActionNotFound if
    there is no such action.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    for name, value in values.items():
        if name not in _ACTION_KEYS:
            setattr(action, name, value)
    session.flush()
    return action


@_reader
def action_get_by_request_id(
    session: Session, context: Any, instance_uuid: str, request_id: str
) -> InstanceAction:
    """Return the newest action of *request_id* on the instance; InstanceActionNotFound."""
    return _action_get_by_request_id(session, context, instance_uuid, request_id)


@_reader
def actions_get(session: Session, context: Any, instance_uuid: str) -> list[InstanceAction]:
    """Return the actions on an instance, newest first."""
    statement = _query(context, InstanceAction, InstanceAction.instance_uuid == instance_uuid)
    return _all(
        session, statement.order_by(InstanceAction.created_at.desc(), InstanceAction.id.desc())
    )


@_writer
def action_event_start(
    session: Session, context: Any, values: Mapping[str, Any]
) -> InstanceActionEvent:
    """Record the start of an event of the action named by instance_uuid + request_id.

    The other values (event, start_time, host, details) go on the event.
    InstanceActionNotFound if there is no such action.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    fields = {name: value for name, value in values.items() if name not in _ACTION_KEYS}
    event = InstanceActionEvent(action_id=action.id, **fields)
    session.add(event)
    session.flush()
    return event


@_writer
def action_event_finish(
    session: Session, context: Any, values: Mapping[str, Any], finish_action: bool = False
) -> InstanceActionEvent | None:
    """Record the end of event ``values['event']`` of the action (instance_uuid + request_id).

    The other values (finish_time, result, traceback, details) go on the event; a
    result of ``Error`` also sets the action's message to ``Error``, as in Nova.
    InstanceActionNotFound when the action is missing.

    Without *finish_action*, InstanceActionEventNotFound when the event is missing.
    With it, the action's ``finish_time`` is set to the event's in the same
    transaction (what :func:`action_finish` stores), and a missing event (its start
    was never recorded) does not keep the action from ending: None is returned then.
    """
    action = _action_get_by_request_id(
        session, context, values["instance_uuid"], values["request_id"]
    )
    if finish_action:
        action.finish_time = values["finish_time"]
    event = _first_by(
        session,
        context,
        InstanceActionEvent,
        {"action_id": action.id, "event": values["event"]},
        order=("-id",),
    )
    if event is None and not finish_action:
        raise exception.InstanceActionEventNotFound(action_id=action.id, event=values["event"])
    if event is not None:
        for name, value in values.items():
            if name not in _ACTION_KEYS:
                setattr(event, name, value)
    if str(values.get("result", "")).lower() == "error":
        action.message = "Error"
    session.flush()
    return event


@_reader
def action_events_get(session: Session, context: Any, action_id: int) -> list[InstanceActionEvent]:
    """Return the events of an action, newest first."""
    statement = _query(context, InstanceActionEvent, InstanceActionEvent.action_id == action_id)
    return _all(
        session,
        statement.order_by(InstanceActionEvent.created_at.desc(), InstanceActionEvent.id.desc()),
    )
