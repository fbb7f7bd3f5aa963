"""``/os-availability-zone``: the zones servers may be created in, as Nova lists them.

nubis has one zone for compute hosts, ``nova`` (host aggregates, which would make
others, are always empty), and Nova's ``internal`` zone for every other service. A zone
is available when at least one of its services is enabled, unavailable when all are
disabled. The list (everyone) shows the compute zone only, without hosts; the detail
(administrators) shows both zones and, for an available zone, each host's services:
``available`` is whether the servicegroup driver says it is up, ``active`` whether it is
enabled.
"""

from __future__ import annotations

from typing import Any

from nubis.core import binaries, objects
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21, isotime_micro
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request

TAG = "os-availability-zone"
COMPUTE_ZONE = "nova"
INTERNAL_ZONE = "internal"


def zone_of(record: Any) -> str:
    """The availability zone of a service record."""
    return COMPUTE_ZONE if record.binary == binaries.COMPUTE else INTERNAL_ZONE


class AvailabilityZones:
    """Handlers of the /os-availability-zone routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _zones(self, req: Request) -> dict[str, list[Any]]:
        zones: dict[str, list[Any]] = {}
        for record in objects.ServiceList.get_all(req.context):
            zones.setdefault(zone_of(record), []).append(record)
        return zones

    def index(self, req: Request) -> dict[str, Any]:
        zones = self._zones(req)
        info = [
            {
                "zoneName": name,
                "zoneState": {"available": any(not r.disabled for r in records)},
                "hosts": None,
            }
            for name, records in sorted(zones.items())
            if name != INTERNAL_ZONE
        ]
        return {"availabilityZoneInfo": info}

    def detail(self, req: Request) -> dict[str, Any]:
        info = []
        for name, records in sorted(self._zones(req).items()):
            available = any(not r.disabled for r in records)
            hosts: dict[str, dict[str, Any]] | None = None
            if available:
                hosts = {}
                for record in sorted(records, key=lambda r: (r.host, r.binary)):
                    if record.disabled:
                        continue
                    up = not record.forced_down and bool(self.deps.servicegroup.is_up(record))
                    updated = self.deps.servicegroup.get_updated_time(record) or record.updated_at
                    hosts.setdefault(record.host, {})[record.binary] = {
                        "available": up,
                        "active": True,
                        "updated_at": isotime_micro(updated),
                    }
            info.append({"zoneName": name, "zoneState": {"available": available}, "hosts": hosts})
        return {"availabilityZoneInfo": info}


def routes(deps: Deps) -> list[Route]:
    zones = AvailabilityZones(deps)
    return [
        Route(
            "GET",
            f"{V21}/os-availability-zone",
            zones.index,
            "List availability zones",
            policy=policies.AVAILABILITY_ZONE_LIST,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/os-availability-zone/detail",
            zones.detail,
            "List availability zones with their hosts and services (administrators)",
            policy=policies.AVAILABILITY_ZONE_DETAIL,
            tag=TAG,
        ),
    ]
