"""The aggregate API: what a front end calls to manage host aggregates, with Nova's
rules for availability zones.

* An aggregate's availability zone is its ``availability_zone`` metadata item; it may
  be set (at create, by update or set_metadata) but never to an empty name
  (InvalidAggregateAction: Nova offers no way back to "no zone" but deleting the
  aggregate).
* A host is in one zone at most: adding a host to an aggregate of a zone, or giving an
  aggregate a zone, while one of its hosts is in an aggregate of another zone is
  refused.
* A zone change must not move servers: changing the zone of an aggregate whose hosts
  run servers is refused, and so is adding (removing) a host that runs servers to (from)
  an aggregate when that changes the host's zone.
* Only compute hosts (a nubis-compute service's host, exactly) are added:
  ComputeHostNotFound otherwise. A host in the aggregate is removed even when its
  service has gone since.

The checks read before they write, as Nova's: two administrators changing the zones of
one host at the same moment can both pass them. Refusals: InvalidAggregateAction (HTTP
400) for update, set_metadata and delete, InvalidAggregateHostAction (409) for adding
and removing hosts. Objects go through the configured indirection API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nubis.core import binaries, exception, objects
from nubis.core.compute.availability_zones import DEFAULT_ZONE
from nubis.core.objects import aggregate as aggregate_objects

AZ_KEY = aggregate_objects.AZ_KEY


class AggregateAPI:
    """Host aggregates: list, show, create, update, delete, hosts and metadata."""

    def get_all(self, context: Any) -> Any:
        return aggregate_objects.AggregateList.get_all(context)

    def get(self, context: Any, aggregate_id: int) -> Any:
        """The aggregate; AggregateNotFound."""
        return aggregate_objects.Aggregate.get_by_id(context, aggregate_id)

    def create(self, context: Any, name: str, availability_zone: str | None) -> Any:
        """A new aggregate *name*, in *availability_zone* when given; AggregateNameExists."""
        aggregate = aggregate_objects.Aggregate(context)
        aggregate.name = name
        aggregate.metadata = {AZ_KEY: availability_zone} if availability_zone else {}
        aggregate.create()
        return aggregate

    def update(self, context: Any, aggregate_id: int, values: Mapping[str, Any]) -> Any:
        """Rename the aggregate (``name``) and/or set its zone (``availability_zone``);
        AggregateNotFound, AggregateNameExists, InvalidAggregateAction."""
        aggregate = self.get(context, aggregate_id)
        if AZ_KEY in values:
            self._check_zone_change(context, aggregate, values[AZ_KEY], "update")
        renamed = "name" in values and values["name"] != aggregate.name
        if renamed:
            aggregate.name = values["name"]
            aggregate.save()
        if AZ_KEY in values or not renamed:
            # (with nothing to change, this still stamps updated_at, as Nova's update)
            aggregate.update_metadata({AZ_KEY: values[AZ_KEY]} if AZ_KEY in values else {})
        return aggregate

    def update_metadata(
        self, context: Any, aggregate_id: int, metadata: Mapping[str, str | None]
    ) -> Any:
        """Set the aggregate's metadata items (None deletes one); AggregateNotFound,
        InvalidAggregateAction for a refused zone."""
        aggregate = self.get(context, aggregate_id)
        if AZ_KEY in metadata:
            self._check_zone_change(context, aggregate, metadata[AZ_KEY], "set metadata of")
        aggregate.update_metadata(dict(metadata))
        return aggregate

    def delete(self, context: Any, aggregate_id: int) -> None:
        """Delete the aggregate; AggregateNotFound, InvalidAggregateAction while it has
        hosts."""
        self.get(context, aggregate_id).destroy()

    def add_host(self, context: Any, aggregate_id: int, host: str) -> Any:
        """Add compute host *host*; ComputeHostNotFound, AggregateNotFound,
        AggregateHostExists, InvalidAggregateHostAction."""
        service = objects.Service.get_by_host_and_binary(context, host, binaries.COMPUTE)
        if service is None or service.host != host:
            raise exception.ComputeHostNotFound(host=host)
        aggregate = self.get(context, aggregate_id)
        if host in aggregate.hosts:
            raise exception.AggregateHostExists(aggregate_id=aggregate_id, host=host)
        zone = aggregate.availability_zone
        if zone:
            others = self._zones_of([host], exclude=aggregate.id, context=context)
            if others - {zone}:
                raise exception.InvalidAggregateHostAction(
                    action="add a host to",
                    aggregate_id=aggregate_id,
                    reason=f"host {host} is in availability zone {', '.join(sorted(others))} "
                    f"already; a host is in one zone at most",
                )
            current = next(iter(others), DEFAULT_ZONE)
            self._check_no_servers_move(context, aggregate_id, host, current, zone, "add a host to")
        aggregate.add_host(host)
        return aggregate

    def remove_host(self, context: Any, aggregate_id: int, host: str) -> Any:
        """Take *host* out; AggregateNotFound, AggregateHostNotFound,
        InvalidAggregateHostAction."""
        aggregate = self.get(context, aggregate_id)
        if host not in aggregate.hosts:
            raise exception.AggregateHostNotFound(aggregate_id=aggregate_id, host=host)
        zone = aggregate.availability_zone
        if zone:
            remaining = self._zones_of([host], exclude=aggregate.id, context=context)
            after = next(iter(sorted(remaining)), DEFAULT_ZONE)
            self._check_no_servers_move(
                context, aggregate_id, host, zone, after, "remove a host from"
            )
        aggregate.delete_host(host)
        return aggregate

    # --- the rules of zones ----------------------------------------------------------

    @staticmethod
    def _zones_of(hosts: Iterable[str], exclude: int, context: Any) -> set[str]:
        """The zones the aggregates other than *exclude* give *hosts*."""
        found = aggregate_objects.AggregateList.get_by_metadata_key(
            context, AZ_KEY, hosts=list(hosts)
        )
        return {a.availability_zone for a in found if a.id != exclude and a.availability_zone}

    def _check_zone_change(self, context: Any, aggregate: Any, zone: Any, action: str) -> None:
        if not zone:
            raise exception.InvalidAggregateAction(
                action=action,
                aggregate_id=aggregate.id,
                reason="an availability zone needs a name (an aggregate cannot be taken out "
                "of its zone)",
            )
        if not aggregate.hosts:
            return
        others = self._zones_of(aggregate.hosts, exclude=aggregate.id, context=context)
        conflicting = others - {zone}
        if conflicting:
            raise exception.InvalidAggregateAction(
                action=action,
                aggregate_id=aggregate.id,
                reason="one or more of its hosts are in availability zone(s) "
                f"{', '.join(sorted(conflicting))} already",
            )
        if zone != aggregate.availability_zone:
            servers = objects.InstanceList.get_all(context, filters={"host": list(aggregate.hosts)})
            if len(servers):
                raise exception.InvalidAggregateAction(
                    action=action,
                    aggregate_id=aggregate.id,
                    reason=f"its hosts run {len(servers)} server(s), which cannot change "
                    "availability zone",
                )

    @staticmethod
    def _check_no_servers_move(
        context: Any,
        aggregate_id: int,
        host: str,
        before: str,
        after: str,
        action: str,
    ) -> None:
        if before == after:
            return
        servers = objects.InstanceList.get_all(context, filters={"host": host})
        if len(servers):
            raise exception.InvalidAggregateHostAction(
                action=action,
                aggregate_id=aggregate_id,
                reason=f"the availability zone of host {host} would change from {before} to "
                f"{after} but it runs {len(servers)} server(s); move them away first",
            )
