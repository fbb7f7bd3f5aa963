"""Availability zones, as Nova makes them: a compute host is in the zone its host
aggregates name in their ``availability_zone`` metadata, and in :data:`DEFAULT_ZONE`
when none does; every other service is in :data:`INTERNAL_ZONE`.

The API's zone listings, ``os-hosts``, ``os-services`` and the servers' zone all answer
from :func:`host_zones`; a create that names a zone is placed on the zone's compute
hosts (:func:`hosts_in_zone`). Objects go through the configured indirection API, as
everywhere in the compute API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nubis.core import binaries, exception
from nubis.core.objects import aggregate as aggregate_objects
from nubis.core.objects import service as service_objects

DEFAULT_ZONE = "nova"
"""The zone of a compute host no aggregate puts in a zone (Nova's
``default_availability_zone``)."""

INTERNAL_ZONE = "internal"
"""The zone of every service but nubis-compute (Nova's
``internal_service_availability_zone``)."""

AZ_KEY = aggregate_objects.AZ_KEY


def host_zones(context: Any) -> Mapping[str, str]:
    """``{host: zone}`` of the compute hosts some aggregate puts in a zone (one read)."""
    aggregates = aggregate_objects.AggregateList.get_by_metadata_key(context, AZ_KEY)
    return aggregate_objects.zones_by_host(aggregates)


def zone_of_host(host: str | None, zones: Mapping[str, str]) -> str:
    """The zone of compute host *host*, given :func:`host_zones`."""
    return zones.get(host or "", DEFAULT_ZONE)


def zone_of_service(record: Any, zones: Mapping[str, str]) -> str:
    """The zone of service record *record* (a Service), given :func:`host_zones`."""
    if record.binary != binaries.COMPUTE:
        return INTERNAL_ZONE
    return zone_of_host(record.host, zones)


def available_zones(services: Iterable[Any], zones: Mapping[str, str]) -> set[str]:
    """The zones a server may be created in: those of the enabled compute services
    among *services*."""
    return {
        zone_of_host(record.host, zones)
        for record in services
        if record.binary == binaries.COMPUTE and not record.disabled
    }


def hosts_in_zone(services: Iterable[Any], zones: Mapping[str, str], zone: str) -> list[str]:
    """The compute hosts of *services* in *zone*, sorted."""
    return sorted(
        {
            record.host
            for record in services
            if record.binary == binaries.COMPUTE and zone_of_host(record.host, zones) == zone
        }
    )


def hosts_for_create(context: Any, zone: str) -> list[str]:
    """The compute hosts a create in *zone* may be placed on, for the request's
    ``force_hosts`` (empty: any host, when no aggregate names a zone). Invalid (HTTP
    400) unless an enabled compute service is in *zone*, as Nova refuses a zone that is
    not available."""
    services = list(service_objects.ServiceList.get_by_binary(context, binaries.COMPUTE))
    zones = host_zones(context)
    if zone not in available_zones(services, zones):
        raise exception.Invalid(
            message=f"Invalid input for field/attribute server.availability_zone. Value: "
            f"{zone}. The requested availability zone is not available (GET "
            "/os-availability-zone lists them)."
        )
    return hosts_in_zone(services, zones, zone) if zones else []
