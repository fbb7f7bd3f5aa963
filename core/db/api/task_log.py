"""The ``task_log`` table (revision 0013): what the compute hosts' periodic audits did,
one row per (task, host, period), as Nova keeps it.

A task begins (:func:`task_log_begin_task`: the row, ``RUNNING``; TaskAlreadyRunning
when the host has one for that task and period, running or done) and ends
(:func:`task_log_end_task`: ``DONE`` with its error count; TaskNotRunning when it never
began). Rows are never deleted. Periods are naive UTC datetimes, compared exactly.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from nubis.core import exception
from nubis.core.db.api._rows import _add, _all, _first
from nubis.core.db.api._transaction import _reader, _writer
from nubis.core.db.models import TaskLog

RUNNING = "RUNNING"
DONE = "DONE"


def _naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _query(
    task_name: str,
    period_beginning: datetime.datetime,
    period_ending: datetime.datetime,
    host: str | None,
    state: str | None,
) -> Select[tuple[TaskLog]]:
    statement = select(TaskLog).where(
        TaskLog.task_name == task_name,
        TaskLog.period_beginning == _naive(period_beginning),
        TaskLog.period_ending == _naive(period_ending),
    )
    if host is not None:
        statement = statement.where(TaskLog.host == host)
    if state is not None:
        statement = statement.where(TaskLog.state == state)
    return statement


@_reader
def task_log_get(
    session: Session,
    context: Any,
    task_name: str,
    period_beginning: datetime.datetime,
    period_ending: datetime.datetime,
    host: str,
    state: str | None = None,
) -> TaskLog | None:
    """The row of *task_name* on *host* for the period (in *state* when given), or
    None."""
    return _first(session, _query(task_name, period_beginning, period_ending, host, state))


@_reader
def task_log_get_all(
    session: Session,
    context: Any,
    task_name: str,
    period_beginning: datetime.datetime,
    period_ending: datetime.datetime,
    host: str | None = None,
    state: str | None = None,
) -> list[TaskLog]:
    """The rows of *task_name* for the period (of *host*, in *state* when given), by
    host."""
    statement = _query(task_name, period_beginning, period_ending, host, state)
    return _all(session, statement.order_by(TaskLog.host))


@_writer
def task_log_begin_task(
    session: Session,
    context: Any,
    task_name: str,
    period_beginning: datetime.datetime,
    period_ending: datetime.datetime,
    host: str,
    task_items: int | None = None,
    message: str | None = None,
) -> TaskLog:
    """Record that *task_name* began on *host* for the period (``RUNNING``, with
    *task_items* and *message*); TaskAlreadyRunning when it began before."""
    row = TaskLog(
        task_name=task_name,
        state=RUNNING,
        host=host,
        period_beginning=_naive(period_beginning),
        period_ending=_naive(period_ending),
        message=(message or "")[:255],
        task_items=task_items or 0,
        errors=0,
    )
    return _add(session, row, lambda: exception.TaskAlreadyRunning(task_name=task_name, host=host))


@_writer
def task_log_end_task(
    session: Session,
    context: Any,
    task_name: str,
    period_beginning: datetime.datetime,
    period_ending: datetime.datetime,
    host: str,
    errors: int,
    message: str | None = None,
) -> None:
    """Record that *task_name* ended on *host* for the period (``DONE``, with *errors*
    and, when given, *message*); TaskNotRunning when it never began."""
    values: dict[str, Any] = {"state": DONE, "errors": errors}
    if message:
        values["message"] = message[:255]
    found = _first(session, _query(task_name, period_beginning, period_ending, host, None))
    if found is None:
        raise exception.TaskNotRunning(task_name=task_name, host=host)
    session.execute(
        update(TaskLog)
        .where(TaskLog.id == found.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
