"""``/os-availability-zone``: the zones servers may be created in, as Nova lists them.

A compute host is in the zone its host aggregates name in their ``availability_zone``
metadata (``/os-aggregates``), in ``nova`` when none does; every other service is in
Nova's ``internal`` zone (:mod:`nubis.core.compute.availability_zones`). A zone is
available when at least one of its services is enabled, unavailable when all are
disabled. The list (everyone) shows the compute zones only, without hosts; the detail
(administrators) shows every zone and, for an available zone, each host's services:
``available`` is whether the servicegroup driver says it is up, ``active`` whether it is
enabled. ``os-hosts`` and ``os-services`` name zones the same way (:func:`zone_of`, with
the aggregates read once per request: :func:`host_zones`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nubis.core import objects
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21, isotime_micro
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request
from nubis.core.compute import availability_zones as zones_api

TAG = "os-availability-zone"
INTERNAL_ZONE = zones_api.INTERNAL_ZONE
_ENVIRON_KEY = "nubis.host_zones"


def host_zones(req: Request) -> Mapping[str, str]:
    """``{compute host: zone}`` of the hosts aggregates put in a zone, read once per
    request."""
    environ = req.raw.environ
    if _ENVIRON_KEY not in environ:
        environ[_ENVIRON_KEY] = zones_api.host_zones(req.context)
    zones: Mapping[str, str] = environ[_ENVIRON_KEY]
    return zones


def zone_of(record: Any, zones: Mapping[str, str]) -> str:
    """The availability zone of a service record, given :func:`host_zones`."""
    return zones_api.zone_of_service(record, zones)


class AvailabilityZones:
    """Handlers of the /os-availability-zone routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _zones(self, req: Request) -> dict[str, list[Any]]:
        zones: dict[str, list[Any]] = {}
        by_host = host_zones(req)
        for record in objects.ServiceList.get_all(req.context):
            zones.setdefault(zone_of(record, by_host), []).append(record)
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
