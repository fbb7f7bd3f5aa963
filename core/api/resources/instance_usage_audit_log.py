"""``/os-instance_usage_audit_log`` (administrators): how the compute hosts' instance
usage audits went, as Nova reports them.

With ``[DEFAULT] instance_usage_audit`` on, every compute host audits, once per
``[DEFAULT] instance_usage_audit_period``, the servers it ran during the last completed
period, and records its run in the task log (:mod:`nubis.core.compute.usage_audit`; the
``instance_usage_audit`` periodic task). The list answers about the last period
completed now; ``GET .../{before_timestamp}`` about the last one completed before that
time (``2024-05-01 12:00:00``, optionally with ``.ffffff``; anything else is a 400).

The report (``instance_usage_audit_logs``, or ``instance_usage_audit_log`` for one
time): the period (``period_beginning``/``period_ending``, ``YYYY-MM-DD HH:MM:SS``), the
compute hosts (every nubis-compute service's, disabled ones too), how many of them
finished (``DONE``), are running, have not run (listed in ``hosts_not_run``), the
instances audited and errors in all, an ``overall_status`` line, and each host's run in
``log``.
"""

from __future__ import annotations

import datetime
from typing import Any

from nubis.core import binaries, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request
from nubis.core.compute import usage_audit
from nubis.core.objects import task_log as _task_log  # noqa: F401  (registers it)

TAG = "os-instance-usage-audit-log"
COLLECTION = f"{V21}/os-instance_usage_audit_log"
ITEM = f"{COLLECTION}/{{before_timestamp}}"


def _before(raw: str) -> datetime.datetime:
    form = "%Y-%m-%d %H:%M:%S.%f" if "." in raw else "%Y-%m-%d %H:%M:%S"
    try:
        return datetime.datetime.strptime(raw, form)
    except ValueError:
        raise Fault(
            400,
            f"Invalid timestamp for date {raw}: use YYYY-MM-DD HH:MM:SS, optionally with "
            "microseconds (.ffffff), in UTC.",
        ) from None


def _str(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class InstanceUsageAuditLog:
    """Handlers of the /os-instance_usage_audit_log routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        return {"instance_usage_audit_logs": self._report(req, None)}

    def show(self, req: Request, before_timestamp: str) -> dict[str, Any]:
        return {"instance_usage_audit_log": self._report(req, _before(before_timestamp))}

    def _report(self, req: Request, before: datetime.datetime | None) -> dict[str, Any]:
        context = req.context
        try:
            begin, end = usage_audit.last_completed_audit_period(
                req.conf.instance_usage_audit_period, before
            )
        except (ValueError, OverflowError):
            raise Fault(
                400,
                f"No audit period of {req.conf.instance_usage_audit_period} ends before "
                f"{before}: the time is out of range.",
            ) from None
        runs = objects.TaskLogList.get_all(context, usage_audit.TASK_NAME, begin, end)
        hosts = {s.host for s in objects.ServiceList.get_by_binary(context, binaries.COMPUTE)}
        seen = {run.host for run in runs}
        done = {run.host for run in runs if run.state == "DONE"}
        running = {run.host for run in runs if run.state == "RUNNING"}
        errors = sum(run.errors or 0 for run in runs)
        done_part = "ALL" if len(done) == len(hosts) else f"{len(done)} of {len(hosts)}"
        return {
            "period_beginning": _str(begin),
            "period_ending": _str(end),
            "num_hosts": len(hosts),
            "num_hosts_done": len(done),
            "num_hosts_running": len(running),
            "num_hosts_not_run": len(hosts - seen),
            "hosts_not_run": sorted(hosts - seen),
            "total_instances": sum(run.task_items or 0 for run in runs),
            "total_errors": errors,
            "overall_status": f"{done_part} hosts done. {errors} errors.",
            "log": {
                run.host: {
                    "state": run.state,
                    "instances": run.task_items or 0,
                    "errors": run.errors or 0,
                    "message": run.message or "",
                }
                for run in runs
            },
        }


def routes(deps: Deps) -> list[Route]:
    audit = InstanceUsageAuditLog(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            audit.index,
            "The instance usage audits of the last completed period, per compute host",
            policy=policies.USAGE_AUDIT_LOG_LIST,
            tag=TAG,
        ),
        Route(
            "GET",
            ITEM,
            audit.show,
            "The instance usage audits of the last period completed before a time "
            "(YYYY-MM-DD HH:MM:SS[.ffffff], UTC)",
            policy=policies.USAGE_AUDIT_LOG_SHOW,
            tag=TAG,
        ),
    ]
