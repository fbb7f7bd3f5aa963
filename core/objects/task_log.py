"""TaskLog and TaskLogList: what the compute hosts' periodic audits did, per host and
period (``task_log``; ``/os-instance_usage_audit_log`` reads it).

A compute host reaches the table only through these remotable methods (the conductor
runs them on nubis-compute). Periods are datetimes; naive ones are taken as UTC.
"""

from __future__ import annotations

import datetime
from typing import Any

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from nubis.core.objects import base
from nubis.core.objects import fields as nubis_fields


def _moment(value: Any) -> datetime.datetime:
    """*value* as a naive UTC datetime (an argument that crossed the bus is text)."""
    if isinstance(value, str):
        value = timeutils.parse_isotime(value)
    return timeutils.normalize_time(value)


@base.NubisObjectRegistry.register
class TaskLog(base.NubisPersistentObject, base.NubisObject):
    """One task's run on one host for one period: ``state`` ``RUNNING`` or ``DONE``,
    ``task_items`` (what it audited), ``errors`` (what it failed to) and a one-line
    ``message``.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "task_name": fields.StringField(),
        "state": fields.StringField(nullable=True),
        "host": fields.StringField(),
        "period_beginning": nubis_fields.DateTimeField(),
        "period_ending": nubis_fields.DateTimeField(),
        "message": fields.StringField(default=""),
        "task_items": fields.IntegerField(default=0),
        "errors": fields.IntegerField(default=0),
    }

    @classmethod
    def _from_row(cls, context: Any, row: Any) -> TaskLog:
        log = cls()
        for name in cls.fields:
            if name == "deleted":
                log.deleted = False
            elif name == "deleted_at":
                log.deleted_at = None
            else:
                setattr(log, name, getattr(row, name))
        log._context = context
        log.obj_reset_changes()
        return log

    @base.remotable_classmethod
    def get(
        cls,
        context: Any,
        task_name: str,
        period_beginning: Any,
        period_ending: Any,
        host: str,
        state: str | None = None,
    ) -> TaskLog | None:
        """The run of *task_name* on *host* for the period (in *state* when given), or
        None when the host has not begun it."""
        row = base.db_api().task_log_get(
            context, task_name, _moment(period_beginning), _moment(period_ending), host, state
        )
        return None if row is None else cls._from_row(context, row)

    @base.remotable
    def begin_task(self) -> None:
        """Record that the task began (``RUNNING``, with ``task_items`` and ``message``);
        TaskAlreadyRunning when this host began it for this period before."""
        row = base.db_api().task_log_begin_task(
            self._context,
            self.task_name,
            _moment(self.period_beginning),
            _moment(self.period_ending),
            self.host,
            task_items=self.task_items if self.obj_attr_is_set("task_items") else 0,
            message=self.message if self.obj_attr_is_set("message") else "",
        )
        self.state = row.state
        self.obj_reset_changes()

    @base.remotable
    def end_task(self) -> None:
        """Record that the task ended (``DONE``, with ``errors`` and ``message``);
        TaskNotRunning when it never began."""
        base.db_api().task_log_end_task(
            self._context,
            self.task_name,
            _moment(self.period_beginning),
            _moment(self.period_ending),
            self.host,
            errors=self.errors if self.obj_attr_is_set("errors") else 0,
            message=self.message if self.obj_attr_is_set("message") else None,
        )
        self.state = "DONE"
        self.obj_reset_changes()


@base.NubisObjectRegistry.register
class TaskLogList(base.ObjectListBase, base.NubisObject):
    """The runs of one task for one period, by host.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("TaskLog")}

    @base.remotable_classmethod
    def get_all(
        cls,
        context: Any,
        task_name: str,
        period_beginning: Any,
        period_ending: Any,
        host: str | None = None,
        state: str | None = None,
    ) -> TaskLogList:
        rows = base.db_api().task_log_get_all(
            context,
            task_name,
            _moment(period_beginning),
            _moment(period_ending),
            host=host,
            state=state,
        )
        result = cls(context)
        result.objects = [TaskLog._from_row(context, row) for row in rows]
        result._context = context
        result.obj_reset_changes()
        return result
