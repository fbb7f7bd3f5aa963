"""``instance_usage_audit``: once per audit period, the usage of every server this host
ran during the last completed period, as Nova's ``_instance_usage_audit``.

Off unless ``[DEFAULT] instance_usage_audit`` is true. At each run it works out the last
completed period (``[DEFAULT] instance_usage_audit_period``, monthly by default:
:func:`nubis.core.compute.usage_audit.last_completed_audit_period`) and does nothing
when this host's task log already has that period, running or done -- so a host audits
each period once, whether it was up when the period ended or started later. Otherwise
it reads the instances of this host active during the period (launched before its end
and not terminated nor deleted before its beginning, deleted ones included), records in
the task log that it began (``RUNNING``, the instance count), writes one usage record
per instance and records that it ended (``DONE``, the count of instances it could not
audit, a one-line message); ``GET /os-instance_usage_audit_log`` reports these runs.

A usage record is Nova's ``compute.instance.exists`` notification's content -- the
server, its owner, size, state, launch and end times, the period and the hours it ran
within it -- written as one JSON object per line, at INFO, on the logger
``nubis.usage_audit`` (:data:`USAGE_LOGGER`): nubis has no notification bus, so a
deployment routes that logger to wherever its billing reads. An instance whose record
cannot be made is logged and counted as an error; the audit goes on.

Written on :class:`nubis.core.compute.host.ComputeHost` and the core objects only: the
instances and the task log are read and written through remotable objects (the
conductor, on nubis-compute). A run that dies between its beginning and its end leaves
the period ``RUNNING`` in the task log, as Nova's does; the host does not run it again.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute import usage_audit
from nubis.core.compute.host import compute_host_of
from nubis.core.context import get_admin_context
from nubis.core.objects import task_log as _task_log  # noqa: F401  (registers it)
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)

USAGE_LOGGER = "nubis.usage_audit"
"""The logger the usage records are written on."""

USAGE_AUDIT_SPACING = 60
"""Seconds between two checks for a newly completed period (each one remotable read
while the option is on, none while it is off)."""

USAGE = logging.getLogger(USAGE_LOGGER)


def _naive(moment: datetime.datetime | None) -> datetime.datetime | None:
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def _text(moment: datetime.datetime | None) -> str | None:
    moment = _naive(moment)
    return None if moment is None else moment.isoformat(timespec="microseconds")


def usage_record(
    instance: Any, host: str, begin: datetime.datetime, end: datetime.datetime
) -> dict[str, Any]:
    """The usage record of *instance* on *host* for the period [*begin*, *end*): what
    it is and the hours it ran within the period (from its launch, or the beginning,
    to its termination or deletion, or the end)."""
    launched = _naive(instance.launched_at)
    ended = _naive(instance.terminated_at) or (
        _naive(instance.deleted_at) if instance.deleted else None
    )
    hours = 0.0
    if launched is not None:
        start = max(launched, begin)
        stop = min(ended, end) if ended is not None else end
        hours = max((stop - start).total_seconds(), 0.0) / 3600.0
    return {
        "event_type": "compute.instance.exists",
        "instance_id": instance.uuid,
        "display_name": instance.display_name,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "host": host,
        "flavor_id": instance.flavor_id,
        "memory_mb": instance.memory_mb or 0,
        "vcpus": instance.vcpus or 0,
        "root_gb": instance.root_gb or 0,
        "ephemeral_gb": instance.ephemeral_gb or 0,
        "state": instance.vm_state,
        "launched_at": _text(launched),
        "terminated_at": _text(ended),
        "audit_period_beginning": _text(begin),
        "audit_period_ending": _text(end),
        "hours": round(hours, 6),
    }


@periodic_task(spacing=USAGE_AUDIT_SPACING)
def instance_usage_audit(manager: Any, context: Any) -> dict[str, Any] | None:
    """Audit the last completed period's instances of this host, once per period
    (``[DEFAULT] instance_usage_audit``). Returns what it audited (``begin``, ``end``,
    ``instances``, ``errors``), or None when it had nothing to do."""
    host = compute_host_of(manager, "instance_usage_audit")
    if not host.conf.instance_usage_audit:
        return None
    begin, end = usage_audit.last_completed_audit_period(host.conf.instance_usage_audit_period)
    task = usage_audit.TASK_NAME
    if objects.TaskLog.get(context, task, begin, end, host.host) is not None:
        return None
    started = time.monotonic()
    deleted_too = get_admin_context(read_deleted="yes")
    instances = list(
        objects.InstanceList.get_all(
            deleted_too, filters={"host": host.host, "active_during": (begin, end)}
        )
    )
    LOG.info(
        "instance usage audit of host %s from %s to %s: %d instances",
        host.host,
        begin,
        end,
        len(instances),
    )
    log = objects.TaskLog(context)
    log.task_name = task
    log.host = host.host
    log.period_beginning = begin
    log.period_ending = end
    log.task_items = len(instances)
    log.message = "Instance usage audit started..."
    try:
        log.begin_task()
    except exception.TaskAlreadyRunning:
        return None  # another run of this host's began it meanwhile
    errors = 0
    for instance in instances:
        try:
            USAGE.info(json.dumps(usage_record(instance, host.host, begin, end), sort_keys=True))
        except Exception:
            LOG.exception("usage audit of instance %s on %s failed", instance.uuid, host.host)
            errors += 1
    seconds = time.monotonic() - started
    log.errors = errors
    log.message = (
        f"Instance usage audit ran for host {host.host}, {len(instances)} instances in "
        f"{seconds:.2f} seconds."
    )
    log.end_task()
    return {"begin": begin, "end": end, "instances": len(instances), "errors": errors}
