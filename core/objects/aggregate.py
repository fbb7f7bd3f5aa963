"""Aggregate and AggregateList: host aggregates (``/os-aggregates``) and, through their
``availability_zone`` metadata, the availability zones of compute hosts.

The rows are kept by :mod:`nubis.core.db.api.aggregates`; the rules an aggregate's
changes follow (a host is a compute host, a host is in one availability zone) are
:mod:`nubis.core.compute.aggregates`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base

AZ_KEY = "availability_zone"
"""The metadata key that puts an aggregate's hosts in an availability zone."""


@base.NubisObjectRegistry.register
class Aggregate(base.NubisPersistentObject, base.NubisObject):
    """A host aggregate: its ``id`` (the API's), ``uuid``, unique ``name``, ``hosts``
    (compute host names, sorted) and ``metadata``. ``availability_zone`` (not a field)
    is its ``availability_zone`` metadata item, or None. Aggregates are deleted for
    real: ``deleted`` is always False and ``deleted_at`` None.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "uuid": fields.UUIDField(nullable=True),
        "name": fields.StringField(),
        "hosts": fields.ListOfStringsField(default=[]),
        "metadata": fields.DictOfStringsField(default={}),
    }

    obj_extra_fields = ["availability_zone"]

    @property
    def availability_zone(self) -> str | None:
        metadata = self.metadata if self.obj_attr_is_set("metadata") else {}
        return metadata.get(AZ_KEY)

    @classmethod
    def _from_details(cls, context: Any, obj: Aggregate, details: Any) -> Aggregate:
        """Fill *obj* from an :class:`~nubis.core.db.api.AggregateDetails`."""
        row = details.row
        values = {
            "id": row.id,
            "uuid": row.uuid,
            "name": row.name,
            "hosts": list(details.hosts),
            "metadata": dict(details.metadata),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "deleted_at": None,
            "deleted": False,
        }
        for name, value in values.items():
            if name == "id" and obj.obj_attr_is_set("id"):
                continue  # read-only once set; it cannot have changed
            setattr(obj, name, value)
        obj._context = context
        obj.obj_reset_changes()
        return obj

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, aggregate_id: int) -> Aggregate:
        """The aggregate *aggregate_id*; AggregateNotFound."""
        return cls._from_details(context, cls(), base.db_api().aggregate_get(context, aggregate_id))

    @base.remotable
    def create(self) -> None:
        """Record the aggregate (``name``, and ``metadata`` when set); it gets its id
        and uuid. AggregateNameExists."""
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        values = {"name": self.name}
        if self.obj_attr_is_set("uuid") and self.uuid:
            values["uuid"] = self.uuid
        metadata = dict(self.metadata) if self.obj_attr_is_set("metadata") else {}
        details = base.db_api().aggregate_create(self._context, values, metadata)
        self._from_details(self._context, self, details)

    @base.remotable
    def save(self) -> None:
        """Store a changed ``name`` (other fields change through their own methods).
        AggregateNotFound, AggregateNameExists."""
        changes = self.obj_get_changes()
        unsupported = set(changes) - {"name"}
        if unsupported:
            raise exception.ObjectActionError(
                action="save", reason=f"{', '.join(sorted(unsupported))} cannot be saved"
            )
        details = base.db_api().aggregate_update(self._context, self.id, changes)
        self._from_details(self._context, self, details)

    @base.remotable
    def update_metadata(self, updates: dict[str, Any]) -> None:
        """Set the metadata items of *updates*; a None value deletes its key.
        AggregateNotFound."""
        details = base.db_api().aggregate_metadata_update(self._context, self.id, updates)
        self._from_details(self._context, self, details)

    @base.remotable
    def add_host(self, host: str) -> None:
        """Add *host*; AggregateNotFound, AggregateHostExists."""
        details = base.db_api().aggregate_host_add(self._context, self.id, host)
        self._from_details(self._context, self, details)

    @base.remotable
    def delete_host(self, host: str) -> None:
        """Take *host* out; AggregateNotFound, AggregateHostNotFound."""
        details = base.db_api().aggregate_host_delete(self._context, self.id, host)
        self._from_details(self._context, self, details)

    @base.remotable
    def destroy(self) -> None:
        """Delete the aggregate; AggregateNotFound, InvalidAggregateAction while it has
        hosts."""
        base.db_api().aggregate_delete(self._context, self.id)


@base.NubisObjectRegistry.register
class AggregateList(base.ObjectListBase, base.NubisObject):
    """Several aggregates, oldest first.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {"objects": fields.ListOfObjectsField("Aggregate")}

    @classmethod
    def _make(cls, context: Any, found: Iterable[Any]) -> AggregateList:
        result = cls(context)
        result.objects = [Aggregate._from_details(context, Aggregate(), d) for d in found]
        result._context = context
        result.obj_reset_changes()
        return result

    @base.remotable_classmethod
    def get_all(cls, context: Any) -> AggregateList:
        return cls._make(context, base.db_api().aggregate_get_all(context))

    @base.remotable_classmethod
    def get_by_host(cls, context: Any, host: str, key: str | None = None) -> AggregateList:
        """The aggregates that have *host* (and, with *key*, that metadata key)."""
        return cls._make(context, base.db_api().aggregate_get_all(context, host=host, key=key))

    @base.remotable_classmethod
    def get_by_metadata_key(
        cls, context: Any, key: str, hosts: list[str] | None = None
    ) -> AggregateList:
        """The aggregates that have metadata *key* (and, with *hosts*, at least one of
        those hosts)."""
        found = base.db_api().aggregate_get_all(context, key=key)
        if hosts is not None:
            wanted = set(hosts)
            found = [d for d in found if wanted.intersection(d.hosts)]
        return cls._make(context, found)


def zones_by_host(aggregates: Iterable[Aggregate]) -> Mapping[str, str]:
    """``{host: availability zone}`` of the hosts of *aggregates* that have one; a host
    in aggregates of several zones (which the aggregate API refuses to make) gets them
    joined by commas, sorted, as Nova shows it."""
    zones: dict[str, set[str]] = {}
    for aggregate in aggregates:
        zone = aggregate.availability_zone
        if zone:
            for host in aggregate.hosts:
                zones.setdefault(host, set()).add(zone)
    return {host: ",".join(sorted(names)) for host, names in zones.items()}
