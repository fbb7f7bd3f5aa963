"""``/os-simple-tenant-usage``: what each project's servers used over a period, from the
instance records (``openstack usage list`` / ``usage show``), as Nova computes it.

A server counts from its launch (or the period's start, if later) to its termination
or deletion (or the period's end, if earlier); a server never launched counts nothing.
Its hours times its size give the project's ``total_vcpus_usage``,
``total_memory_mb_usage`` and ``total_local_gb_usage`` (root plus ephemeral disk).
Deleted servers are included until their records are archived (``nubis-manage db
archive_deleted_rows``). ``start`` and ``end`` default to now; from 2.40 the servers are
paged with ``limit``/``marker`` (an instance uuid). Listing every project is for
administrators; a project's own usage is for its readers too.
"""

from __future__ import annotations

import datetime
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import PAGING, V21, limit_of, next_link
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

TAG = "os-simple-tenant-usage"
COLLECTION = f"{V21}/os-simple-tenant-usage"

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
_PERIOD_QUERY = {
    "start": Query("string", "Period start, e.g. 2024-05-01T00:00:00 (default: now)."),
    "end": Query("string", "Period end (default: now)."),
}
LIST_QUERY = {
    **_PERIOD_QUERY,
    **PAGING,
    "detailed": Query("boolean", "Include each server's usage."),
}
SHOW_QUERY = {**_PERIOD_QUERY, **PAGING}


def _moment(req: Request, name: str) -> datetime.datetime:
    raw = req.arg(name)
    if raw is None:
        return timeutils.utcnow()
    for form in _FORMATS:
        try:
            return datetime.datetime.strptime(raw, form)
        except ValueError:
            continue
    raise Fault(
        400,
        f"Invalid input for query parameter {name}. Value: {raw}. Datetime is in invalid "
        "format; use e.g. 2024-05-01T00:00:00 or 2024-05-01T00:00:00.000000.",
    )


def _period(req: Request) -> tuple[datetime.datetime, datetime.datetime]:
    start, end = _moment(req, "start"), _moment(req, "end")
    if not start < end:
        raise Fault(400, "Invalid start time. The start time cannot occur after the end time.")
    return start, end


def _hours(instance: Any, start: datetime.datetime, end: datetime.datetime) -> float:
    launched = instance.launched_at
    if launched is None:
        return 0.0
    launched = launched.replace(tzinfo=None)
    ended = _ended_at(instance)
    if (ended is not None and ended < start) or launched > end:
        return 0.0
    stop = min(end, ended) if ended is not None else end
    return max((stop - max(launched, start)).total_seconds(), 0.0) / 3600.0


def _ended_at(instance: Any) -> datetime.datetime | None:
    ended = instance.terminated_at or (instance.deleted_at if instance.deleted else None)
    return ended.replace(tzinfo=None) if ended is not None else None


class TenantUsage:
    """Handlers of the /os-simple-tenant-usage routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        start, end = _period(req)
        instances, links = self._instances(req, start, end, None)
        by_project: dict[str, list[Any]] = {}
        for instance in instances:
            by_project.setdefault(instance.project_id or "", []).append(instance)
        detailed = bool(req.arg("detailed"))
        usages = [
            self._usage(req, project, members, start, end, detailed)
            for project, members in sorted(by_project.items())
        ]
        result: dict[str, Any] = {"tenant_usages": usages}
        if links:
            result["tenant_usages_links"] = links
        return result

    def show(self, req: Request, tenant_id: str) -> dict[str, Any]:
        req.authorize(policies.TENANT_USAGE_SHOW, {"project_id": tenant_id})
        start, end = _period(req)
        instances, links = self._instances(req, start, end, tenant_id)
        usage = self._usage(req, tenant_id, instances, start, end, True) if instances else {}
        result: dict[str, Any] = {"tenant_usage": usage}
        if links:
            result["tenant_usage_links"] = links
        return result

    def _instances(
        self,
        req: Request,
        start: datetime.datetime,
        end: datetime.datetime,
        project_id: str | None,
    ) -> tuple[list[Any], list[dict[str, str]]]:
        context = req.context
        context.read_deleted = "yes"  # deleted servers count too (this GET only reads)
        filters: dict[str, Any] = {"active_during": (start, end)}
        if project_id is not None:
            filters["project_id"] = project_id
        paged = req.at_least("2.40")
        limit = limit_of(req) if paged else None
        try:
            instances = list(
                self.deps.compute_api.get_all(
                    context,
                    filters=filters,
                    limit=limit,
                    marker=req.arg("marker") if paged else None,
                )
            )
        except exception.MarkerNotFound as exc:
            raise Fault(400, exception.one_line(exc)) from None
        links: list[dict[str, str]] = []
        if limit is not None:
            path = COLLECTION if project_id is None else f"{COLLECTION}/{project_id}"
            links = next_link(req, path, instances, limit, lambda i: i.uuid)
        return instances, links

    @staticmethod
    def _flavor_name(req: Request, flavor_id: int | None, names: dict[int, str]) -> str:
        if flavor_id is None:
            return ""
        if flavor_id not in names:
            try:
                names[flavor_id] = objects.Flavor.get_by_id(req.context, flavor_id).name
            except exception.FlavorNotFound:
                names[flavor_id] = ""  # deleted since
        return names[flavor_id]

    def _usage(
        self,
        req: Request,
        project_id: str,
        instances: list[Any],
        start: datetime.datetime,
        end: datetime.datetime,
        detailed: bool,
    ) -> dict[str, Any]:
        now = timeutils.utcnow()
        flavor_names: dict[int, str] = {}
        totals = {"memory_mb": 0.0, "vcpus": 0.0, "local_gb": 0.0, "hours": 0.0}
        servers = []
        for instance in instances:
            hours = _hours(instance, start, end)
            local_gb = (instance.root_gb or 0) + (instance.ephemeral_gb or 0)
            totals["hours"] += hours
            totals["memory_mb"] += (instance.memory_mb or 0) * hours
            totals["vcpus"] += (instance.vcpus or 0) * hours
            totals["local_gb"] += local_gb * hours
            if not detailed:
                continue
            launched = instance.launched_at.replace(tzinfo=None) if instance.launched_at else None
            ended = _ended_at(instance)
            servers.append(
                {
                    "instance_id": instance.uuid,
                    "name": instance.display_name,
                    "hours": hours,
                    "memory_mb": instance.memory_mb,
                    "local_gb": local_gb,
                    "vcpus": instance.vcpus,
                    "tenant_id": instance.project_id,
                    "flavor": self._flavor_name(req, instance.flavor_id, flavor_names),
                    "started_at": launched.isoformat() if launched else None,
                    "ended_at": ended.isoformat() if ended else None,
                    "state": "terminated" if instance.deleted else instance.vm_state,
                    "uptime": int(((ended or now) - (launched or now)).total_seconds()),
                }
            )
        usage: dict[str, Any] = {
            "tenant_id": project_id,
            "total_local_gb_usage": totals["local_gb"],
            "total_vcpus_usage": totals["vcpus"],
            "total_memory_mb_usage": totals["memory_mb"],
            "total_hours": totals["hours"],
            "start": start.isoformat(),
            "stop": end.isoformat(),
        }
        if detailed:
            usage["server_usages"] = servers
        return usage


def routes(deps: Deps) -> list[Route]:
    usage = TenantUsage(deps)
    return [
        Route(
            "GET",
            COLLECTION,
            usage.index,
            "Every project's usage over a period (administrators)",
            policy=policies.TENANT_USAGE_LIST,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{COLLECTION}/{{tenant_id}}",
            usage.show,
            "One project's usage over a period",
            policy=policies.TENANT_USAGE_SHOW,
            target="resource",
            query=SHOW_QUERY,
            tag=TAG,
        ),
    ]
