"""``/os-hypervisors`` (administrators): the compute nodes, their resources as the last
resource audit saved them, and whether their compute service is up and enabled.

Ids are the node's integer id before microversion 2.53 and its uuid from 2.53 on.
Before 2.53 nodes are also found by a piece of their name (``/{pattern}/search``, and
``/{pattern}/servers`` with their servers); ``/statistics`` (up to 2.87) sums the nodes
of enabled compute services, as Nova's does.

``/{id}/uptime`` (up to 2.87) asks the node's compute host for its uptime -- the line
the ``uptime`` command prints there -- with ``rpc_response_timeout``: 400 when its
compute service is down, 501 when its virt driver cannot tell, 503 when it does not
answer. From 2.88 the detailed views carry ``uptime`` instead (null when the host is
down or cannot tell), as Nova's do.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from nubis.core import binaries, exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import PAGING, V21, limit_of, next_link, page
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

TAG = "os-hypervisors"

_DB_ID = re.compile(r"^[0-9]{1,10}$")
_MAX_DB_ID = 2**31 - 1

LIST_QUERY = {
    **PAGING,
    "hypervisor_hostname_pattern": Query("string", "Nodes whose name contains this text."),
    "with_servers": Query("boolean", "Include the servers on each node (2.53+)."),
}
_SUMMED = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "free_ram_mb",
    "free_disk_gb",
    "running_vms",
    "disk_available_least",
)

SHOW_QUERY = {"with_servers": Query("boolean", "Include the servers on the node (2.53+).")}


class Hypervisors:
    """Handlers of the /os-hypervisors routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _services(self, req: Request) -> dict[str, Any]:
        return {s.host: s for s in objects.ServiceList.get_by_binary(req.context, binaries.COMPUTE)}

    def _nodes(self, req: Request) -> list[Any]:
        nodes = sorted(objects.ComputeNodeList.get_all(req.context), key=lambda n: n.id)
        pattern = req.arg("hypervisor_hostname_pattern")
        if pattern and req.at_least("2.53"):
            nodes = [n for n in nodes if pattern in (n.hypervisor_hostname or "")]
            if not nodes:
                raise exception.ComputeHostNotFound(host=pattern)
        return nodes

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        services = self._services(req)
        nodes = self._nodes(req)
        paged = req.at_least("2.33")
        limit = limit_of(req) if paged else len(nodes) or 1
        if paged:
            nodes = page(nodes, req.arg("marker"), limit, lambda n: self._id(req, n))
        views = [self.view(req, n, services.get(n.host), detail) for n in nodes]
        result: dict[str, Any] = {"hypervisors": views}
        if paged:
            path = f"{V21}/os-hypervisors" + ("/detail" if detail else "")
            more = next_link(req, path, nodes, limit, lambda n: self._id(req, n))
            if more:
                result["hypervisors_links"] = more
        return result

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def _get(self, req: Request, hypervisor_id: str) -> Any:
        context = req.context
        if req.at_least("2.53"):
            try:
                node_uuid = str(uuid.UUID(hypervisor_id))
            except ValueError:
                raise exception.ComputeNodeNotFound(compute_id=hypervisor_id) from None
            return objects.ComputeNode.get_by_uuid(context, node_uuid)
        if not _DB_ID.match(hypervisor_id) or int(hypervisor_id) > _MAX_DB_ID:
            raise exception.ComputeNodeNotFound(compute_id=hypervisor_id)
        return objects.ComputeNode.get_by_id(context, int(hypervisor_id))

    def show(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        node = self._get(req, hypervisor_id)
        service = self._services(req).get(node.host)
        return {"hypervisor": self.view(req, node, service, detail=True)}

    def uptime(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        node = self._get(req, hypervisor_id)
        service = self._services(req).get(node.host)
        if service is None:  # a node whose compute service was deleted
            raise exception.ComputeNodeNotFound(compute_id=hypervisor_id)
        try:
            uptime = self.deps.compute_api.get_host_uptime(req.context, node.host)
        except (exception.ComputeServiceUnavailable, exception.ComputeHostNotFound) as exc:
            raise Fault(400, exception.one_line(exc)) from None
        view = self.view(req, node, service, detail=False)
        view["uptime"] = uptime
        return {"hypervisor": view}

    def _uptime_or_none(self, req: Request, node: Any, up: bool) -> str | None:
        """The 2.88 ``uptime`` of a detailed view: None when the host is down or cannot
        tell (Nova's answer then)."""
        if not up:
            return None
        try:
            uptime: str = self.deps.compute_api.get_host_uptime(req.context, node.host)
        except (
            exception.VirtOperationNotSupported,
            exception.ComputeServiceUnavailable,
            exception.ComputeHostNotFound,
            exception.ServiceUnavailable,
            exception.ServiceTooOld,
        ):
            return None
        return uptime

    def statistics(self, req: Request) -> dict[str, Any]:
        services = self._services(req)
        nodes = [
            n
            for n in objects.ComputeNodeList.get_all(req.context)
            if n.host in services and not services[n.host].disabled
        ]
        totals = {"count": len(nodes)}
        for key in _SUMMED:
            totals[key] = sum(int(getattr(n, key) or 0) for n in nodes)
        totals["current_workload"] = sum(
            int((n.stats or {}).get("io_workload") or 0) for n in nodes
        )
        return {"hypervisor_statistics": totals}

    def _matching(self, req: Request, pattern: str) -> list[Any]:
        nodes = [
            n
            for n in sorted(objects.ComputeNodeList.get_all(req.context), key=lambda n: n.id)
            if pattern in (n.hypervisor_hostname or "")
        ]
        if not nodes:
            raise exception.ComputeHostNotFound(host=pattern)
        return nodes

    def search(self, req: Request, pattern: str) -> dict[str, Any]:
        services = self._services(req)
        nodes = self._matching(req, pattern)
        return {"hypervisors": [self.view(req, n, services.get(n.host), False) for n in nodes]}

    def servers(self, req: Request, pattern: str) -> dict[str, Any]:
        services = self._services(req)
        views = []
        for node in self._matching(req, pattern):
            view = self.view(req, node, services.get(node.host), False)
            instances = objects.InstanceList.get_by_host(req.context, node.host)
            if instances:
                view["servers"] = [{"name": i.name, "uuid": i.uuid} for i in instances]
            views.append(view)
        return {"hypervisors": views}

    @staticmethod
    def _id(req: Request, node: Any) -> Any:
        return node.uuid if req.at_least("2.53") else node.id

    def view(self, req: Request, node: Any, service: Any, detail: bool) -> dict[str, Any]:
        up = (
            service is not None
            and not service.forced_down
            and self.deps.servicegroup.is_up(service)
        )
        view: dict[str, Any] = {
            "id": self._id(req, node),
            "hypervisor_hostname": node.hypervisor_hostname,
            "state": "up" if up else "down",
            "status": "disabled" if service is not None and service.disabled else "enabled",
        }
        if req.at_least("2.53") and req.arg("with_servers"):
            instances = objects.InstanceList.get_by_host_and_node(
                req.context, node.host, node.hypervisor_hostname
            )
            view["servers"] = [{"name": i.name, "uuid": i.uuid} for i in instances]
        if not detail:
            return view
        cpu_info: Any = node.cpu_info or ""
        if req.at_least("2.28"):
            try:
                cpu_info = json.loads(cpu_info) if cpu_info else {}
            except ValueError:
                cpu_info = {"description": cpu_info}
        view.update(
            {
                "vcpus": node.vcpus,
                "memory_mb": node.memory_mb,
                "local_gb": node.local_gb,
                "vcpus_used": node.vcpus_used,
                "memory_mb_used": node.memory_mb_used,
                "local_gb_used": node.local_gb_used,
                "hypervisor_type": node.hypervisor_type,
                "hypervisor_version": node.hypervisor_version,
                "free_ram_mb": node.free_ram_mb,
                "free_disk_gb": node.free_disk_gb,
                "current_workload": int((node.stats or {}).get("io_workload") or 0),
                "running_vms": node.running_vms or 0,
                "disk_available_least": node.disk_available_least,
                "host_ip": str(node.host_ip) if node.host_ip is not None else None,
                "cpu_info": cpu_info,
                "service": {
                    "host": node.host,
                    "id": (service.uuid if req.at_least("2.53") else service.id)
                    if service is not None
                    else None,
                    "disabled_reason": service.disabled_reason if service is not None else None,
                },
            }
        )
        if req.at_least("2.88"):
            view["uptime"] = self._uptime_or_none(req, node, up)
        return view


def routes(deps: Deps) -> list[Route]:
    hypervisors = Hypervisors(deps)
    item = f"{V21}/os-hypervisors/{{hypervisor_id}}"
    return [
        Route(
            "GET",
            f"{V21}/os-hypervisors",
            hypervisors.index,
            "List hypervisors",
            policy=policies.HYPERVISORS_LIST,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/os-hypervisors/detail",
            hypervisors.detail,
            "List hypervisors with their resources",
            policy=policies.HYPERVISORS_LIST_DETAIL,
            query=LIST_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/os-hypervisors/statistics",
            hypervisors.statistics,
            "Totals over the nodes of enabled compute services",
            policy=policies.HYPERVISORS_STATISTICS,
            max_version="2.87",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/os-hypervisors/{{pattern}}/search",
            hypervisors.search,
            "Hypervisors whose name contains a text",
            policy=policies.HYPERVISORS_SEARCH,
            max_version="2.52",
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/os-hypervisors/{{pattern}}/servers",
            hypervisors.servers,
            "Hypervisors whose name contains a text, with their servers",
            policy=policies.HYPERVISORS_SERVERS,
            max_version="2.52",
            tag=TAG,
        ),
        Route(
            "GET",
            item,
            hypervisors.show,
            "Show a hypervisor",
            policy=policies.HYPERVISORS_SHOW,
            query=SHOW_QUERY,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{item}/uptime",
            hypervisors.uptime,
            "A hypervisor's uptime (what uptime prints on its host)",
            policy=policies.HYPERVISORS_UPTIME,
            max_version="2.87",
            tag=TAG,
            responses=(501, 503),
        ),
    ]
