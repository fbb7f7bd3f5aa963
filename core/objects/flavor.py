"""Flavor and FlavorList: the sizes instances are built from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base


@base.NubisObjectRegistry.register
class Flavor(base.NubisPersistentObject, base.NubisObject):
    """A named size: memory, vCPUs and disks.

    Version history:

    * 1.0 - initial version
    * 1.1 - get_by_flavor_id takes accessible_to; save (description)
    """

    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(read_only=True),
        "flavorid": fields.StringField(),
        "name": fields.StringField(),
        "memory_mb": fields.IntegerField(),
        "vcpus": fields.IntegerField(),
        "root_gb": fields.IntegerField(nullable=True),
        "ephemeral_gb": fields.IntegerField(nullable=True),
        "swap": fields.IntegerField(default=0),
        "rxtx_factor": fields.FloatField(nullable=True),
        "is_public": fields.BooleanField(default=True),
        "disabled": fields.BooleanField(default=False),
        "description": fields.StringField(nullable=True),
    }

    @base.remotable_classmethod
    def get_by_id(cls, context: Any, flavor_id: int) -> Flavor:
        return cls._from_db_object(context, cls(), base.db_api().flavor_get(context, flavor_id))

    @base.remotable_classmethod
    def get_by_flavor_id(
        cls, context: Any, flavorid: str, accessible_to: str | None = None
    ) -> Flavor:
        """The flavor *flavorid*; FlavorNotFound, also when it is private and the
        project *accessible_to* (when given) has no access to it."""
        db_flavor = base.db_api().flavor_get_by_flavor_id(
            context, flavorid, accessible_to=accessible_to
        )
        return cls._from_db_object(context, cls(), db_flavor)

    @base.remotable_classmethod
    def get_by_name(cls, context: Any, name: str) -> Flavor:
        return cls._from_db_object(context, cls(), base.db_api().flavor_get_by_name(context, name))

    @base.remotable
    def create(self) -> None:
        if self.obj_attr_is_set("id"):
            raise exception.ObjectActionError(action="create", reason="already created")
        db_flavor = base.db_api().flavor_create(self._context, self._changes_for_db())
        self._from_db_object(self._context, self, db_flavor)

    @base.remotable
    def save(self) -> None:
        changes = self._changes_for_db()
        if changes:
            db_flavor = base.db_api().flavor_update(self._context, self.flavorid, changes)
            self._from_db_object(self._context, self, db_flavor)

    @base.remotable
    def destroy(self) -> None:
        base.db_api().flavor_destroy(self._context, self.flavorid)


@base.NubisObjectRegistry.register
class FlavorList(base.ObjectListBase, base.NubisObject):
    """A list of Flavor.

    Version history:

    * 1.0 - initial version
    * 1.1 - get_all takes accessible_to
    """

    VERSION = "1.1"

    fields = {"objects": fields.ListOfObjectsField("Flavor")}

    @base.remotable_classmethod
    def get_all(
        cls,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        accessible_to: str | None = None,
    ) -> FlavorList:
        """Flavors matching *filters*; with *accessible_to* (a project) only the public
        ones and the private ones it was given access to."""
        rows = base.db_api().flavor_get_all(context, filters=filters, accessible_to=accessible_to)
        return base.obj_make_list(context, cls(context), Flavor, rows)
