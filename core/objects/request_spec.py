"""RequestSpec: what the scheduler is asked to place (not stored in the database)."""

from __future__ import annotations

from typing import Any

from oslo_versionedobjects import fields

from nubis.core.objects import base
from nubis.core.objects import instance_group as _instance_group  # noqa: F401  (registers it)


@base.NubisObjectRegistry.register
class RequestSpec(base.NubisObject):
    """The resources and constraints of one scheduling request.

    ``num_instances`` instances of the same size are placed; ``ignore_hosts`` are never
    chosen (the source of a migration, hosts a build already failed on); a non-empty
    ``force_hosts`` restricts the choice to those hosts (a build on a requested host, or
    on the hosts of a requested availability zone);
    ``hypervisor_type`` / ``min_hypervisor_version``, when set, restrict the choice to
    nodes of that type and at least that version (live migration); ``num_attempts``
    counts builds of this request so far (reschedules); ``instance_group``, when set,
    is the server group the instances join (an
    :class:`~nubis.core.objects.instance_group.InstanceGroup` with its members' hosts),
    whose policy the server group filters and weighers enforce.

    Version history:

    * 1.0 - initial version
    * 1.1 - instance_group
    """

    VERSION = "1.1"

    fields = {
        "instance_uuid": fields.UUIDField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "flavor_id": fields.IntegerField(nullable=True),
        "memory_mb": fields.IntegerField(default=0),
        "vcpus": fields.IntegerField(default=0),
        "root_gb": fields.IntegerField(default=0),
        "ephemeral_gb": fields.IntegerField(default=0),
        "num_instances": fields.IntegerField(default=1),
        "ignore_hosts": fields.ListOfStringsField(default=[]),
        "force_hosts": fields.ListOfStringsField(default=[]),
        "hypervisor_type": fields.StringField(nullable=True, default=None),  # type: ignore[arg-type]
        "min_hypervisor_version": fields.IntegerField(nullable=True, default=None),  # type: ignore[arg-type]
        "num_attempts": fields.IntegerField(default=0),
        "instance_group": fields.ObjectField("InstanceGroup", nullable=True, default=None),
    }

    #: Which InstanceGroup version each RequestSpec version carries.
    obj_relationships = {"instance_group": [("1.1", "1.0")]}

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if tuple(int(part) for part in target_version.split(".")) < (1, 1):
            primitive.pop("instance_group", None)

    @classmethod
    def from_instance(cls, instance: Any, **kwargs: Any) -> RequestSpec:
        """Return a spec for one instance of *instance*'s size; *kwargs* set more fields."""
        spec = cls(
            instance_uuid=instance.uuid,
            project_id=instance.project_id,
            flavor_id=instance.flavor_id,
            memory_mb=instance.memory_mb or 0,
            vcpus=instance.vcpus or 0,
            root_gb=instance.root_gb or 0,
            ephemeral_gb=instance.ephemeral_gb or 0,
        )
        for name, value in kwargs.items():
            setattr(spec, name, value)
        spec.obj_set_defaults()
        return spec
