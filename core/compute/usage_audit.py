"""The instance usage audit's periods, shared by the compute hosts that run the audit
(the ``instance_usage_audit`` periodic task) and the API that reports it
(``/os-instance_usage_audit_log``).

A period is named by ``[DEFAULT] instance_usage_audit_period``: a unit (hour, day,
month, year) beginning at the start of that unit in UTC, or shifted by the offset after
``@`` (the minute of the hour, the hour of the day, the day of the month, the month of
the year; an offset of 0 for month or year means 1). The audit of a period runs once it
has ended, so both sides ask for the last *completed* period.
"""

from __future__ import annotations

import datetime

from oslo_utils import timeutils

TASK_NAME = "instance_usage_audit"
"""The audit's ``task_name`` in the task log (Nova's)."""


def _months_before(moment: datetime.datetime, day: int) -> datetime.datetime:
    """Day *day* of the month before *moment*'s month, at midnight."""
    if moment.month == 1:
        return datetime.datetime(moment.year - 1, 12, day)
    return datetime.datetime(moment.year, moment.month - 1, day)


def last_completed_audit_period(
    period: str, before: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """``(beginning, ending)`` of the last *period* that ended before *before* (default:
    now), as naive UTC datetimes; the ending of a period is the beginning of the next.

    *period* is a value ``[DEFAULT] instance_usage_audit_period`` accepts (ValueError
    otherwise, or when the period would fall outside the years 1-9999).
    """
    unit, _, offset_text = period.partition("@")
    offset = int(offset_text) if offset_text else 0
    now = timeutils.normalize_time(before) if before is not None else timeutils.utcnow()
    if unit == "hour":
        end = now.replace(minute=offset, second=0, microsecond=0)
        if end >= now:
            end -= datetime.timedelta(hours=1)
        return end - datetime.timedelta(hours=1), end
    if unit == "day":
        end = now.replace(hour=offset, minute=0, second=0, microsecond=0)
        if end >= now:
            end -= datetime.timedelta(days=1)
        return end - datetime.timedelta(days=1), end
    if unit == "month":
        day = offset or 1
        end = datetime.datetime(now.year, now.month, day)
        if end >= now:
            end = _months_before(end, day)
        return _months_before(end, day), end
    if unit == "year":
        month = offset or 1
        end = datetime.datetime(now.year, month, 1)
        if end >= now:
            end = datetime.datetime(now.year - 1, month, 1)
        return datetime.datetime(end.year - 1, month, 1), end
    raise ValueError(f"unknown audit period unit {unit!r} (hour, day, month or year)")
