"""``/os-hosts`` (up to 2.42, gone from 2.43 as in Nova): the hosts of the deployment's
services and what a compute host holds. Administrators only.

The list gives each enabled service's host (nubis-api keeps no service record) with
its topic and zone (a compute host's aggregates' availability zone, else ``nova``;
``internal`` for the rest; ``zone`` filters). A host's detail is its
compute node's totals (``(total)``), what the node reports in use (``(used_now)``),
what its instances add up to (``(used_max)``) and the same per project. Nova's host
actions -- ``status`` and ``maintenance_mode`` on ``PUT``, ``startup``/``shutdown``/
``reboot`` -- reach the virt driver, and neither nubis driver offers them (nor does
Nova's libvirt driver): a well-formed request for a known host answers 501. To stop
scheduling to a host, disable its compute service (``/os-services``).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception, objects
from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.availability_zones import host_zones, zone_of
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

TAG = "os-hosts"
COLLECTION = f"{V21}/os-hosts"
ITEM = f"{COLLECTION}/{{host_name}}"
LAST_VERSION = "2.42"

_SWITCH = {
    "type": "string",
    "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"],
}
UPDATE_BODY = {
    "type": "object",
    "properties": {"status": _SWITCH, "maintenance_mode": _SWITCH},
    "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
    "additionalProperties": False,
}
NOT_SUPPORTED = (
    "Host {what} is not supported by the virt driver (as with Nova's libvirt driver); to "
    "stop scheduling to a host, disable its compute service with PUT /os-services."
)


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict[str, Any]:
    return {
        "resource": {
            "host": host,
            "project": project,
            "cpu": cpu,
            "memory_mb": memory_mb,
            "disk_gb": disk_gb,
        }
    }


class Hosts:
    """Handlers of the /os-hosts routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        zone = req.arg("zone")
        zones = host_zones(req)
        hosts = []
        for record in objects.ServiceList.get_all(req.context):
            if record.disabled:
                continue
            if zone and zone_of(record, zones) != zone:
                continue
            hosts.append(
                {"host_name": record.host, "service": record.topic, "zone": zone_of(record, zones)}
            )
        return {"hosts": hosts}

    def _compute_node(self, req: Request, host_name: str) -> Any:
        nodes = list(objects.ComputeNodeList.get_all_by_host(req.context, host_name))
        if not nodes:  # (the list raises ComputeHostNotFound itself; an empty one is alike)
            raise exception.ComputeHostNotFound(host=host_name)
        return nodes[0]

    def show(self, req: Request, host_name: str) -> dict[str, Any]:
        node = self._compute_node(req, host_name)
        instances = list(objects.InstanceList.get_by_host(req.context, host_name))
        rows = [
            _resource(host_name, "(total)", node.vcpus, node.memory_mb, node.local_gb),
            _resource(
                host_name, "(used_now)", node.vcpus_used, node.memory_mb_used, node.local_gb_used
            ),
        ]
        per_project: dict[str, list[int]] = {}
        totals = [0, 0, 0]
        for instance in instances:
            used = [
                instance.vcpus or 0,
                instance.memory_mb or 0,
                (instance.root_gb or 0) + (instance.ephemeral_gb or 0),
            ]
            mine = per_project.setdefault(instance.project_id, [0, 0, 0])
            for index, value in enumerate(used):
                mine[index] += value
                totals[index] += value
        rows.append(_resource(host_name, "(used_max)", *totals))
        rows.extend(_resource(host_name, project, *used) for project, used in per_project.items())
        return {"host": rows}

    def update(self, req: Request, host_name: str) -> dict[str, Any]:
        self._compute_node(req, host_name)
        what = "status changes" if "status" in req.body else "maintenance mode"
        raise Fault(501, NOT_SUPPORTED.format(what=what))

    def power_action(self, req: Request, host_name: str) -> dict[str, Any]:
        self._compute_node(req, host_name)
        raise Fault(501, NOT_SUPPORTED.format(what="power actions"))


def routes(deps: Deps) -> list[Route]:
    hosts = Hosts(deps)
    common: dict[str, Any] = {"max_version": LAST_VERSION, "tag": TAG}
    actions = [
        Route(
            "GET",
            f"{ITEM}/{action}",
            hosts.power_action,
            f"{action.capitalize()} a host (not supported: 501)",
            policy=rule,
            responses=(501,),
            **common,
        )
        for action, rule in (
            ("startup", policies.HOSTS_START),
            ("shutdown", policies.HOSTS_SHUTDOWN),
            ("reboot", policies.HOSTS_REBOOT),
        )
    ]
    return [
        Route(
            "GET",
            COLLECTION,
            hosts.index,
            "List the hosts of the enabled services",
            policy=policies.HOSTS_LIST,
            query={"zone": Query("string", "Only the hosts of this availability zone.")},
            **common,
        ),
        Route(
            "GET",
            ITEM,
            hosts.show,
            "What a compute host holds, in total, in use and per project",
            policy=policies.HOSTS_SHOW,
            **common,
        ),
        Route(
            "PUT",
            ITEM,
            hosts.update,
            "Enable or disable a host, or its maintenance mode (not supported: 501)",
            policy=policies.HOSTS_UPDATE,
            bodies=(BodySchema(UPDATE_BODY),),
            responses=(501,),
            **common,
        ),
        *actions,
    ]
