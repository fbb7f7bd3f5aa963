"""InstanceGroup: a server group as the scheduler is given it, in a RequestSpec.

The group's rows are written by the API (:mod:`nubis.core.db.api.server_groups`); this
object is how the group, its members and where they run travel to the conductor and
the scheduler, as Nova's ``RequestSpec.instance_group``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from oslo_versionedobjects import fields

from nubis.core import exception
from nubis.core.objects import base


@base.NubisObjectRegistry.register
class InstanceGroup(base.NubisObject):
    """A server group: its ``policy`` (``affinity``, ``anti-affinity``,
    ``soft-affinity``, ``soft-anti-affinity``) and ``rules`` (``max_server_per_host``
    of anti-affinity), its ``members`` (server uuids) and the ``hosts`` its members run
    on.

    ``hosts`` has one entry per member placed, sorted (a host appears as often as the
    group has members there; Nova's lists each host once): the anti-affinity filter
    compares the count with ``max_server_per_host`` and the soft weighers weigh by it.
    The scheduler appends each host it chooses while it places the instances of one
    request, so the later instances of a multi-create see the earlier ones.

    Version history:

    * 1.0 - initial version
    """

    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "policy": fields.StringField(nullable=True),
        "rules": fields.DictOfIntegersField(default={}),
        "members": fields.ListOfStringsField(default=[]),
        "hosts": fields.ListOfStringsField(default=[]),
    }

    @classmethod
    def _from_db(
        cls, context: Any, row: Any, members: list[str], hosts: list[str]
    ) -> InstanceGroup:
        group = cls(
            id=row.id,
            uuid=row.uuid,
            name=row.name,
            user_id=row.user_id,
            project_id=row.project_id,
            policy=row.policy,
            rules=json.loads(row.rules) if row.rules else {},
            members=members,
            hosts=hosts,
        )
        group._context = context
        group.obj_reset_changes()
        return group

    @classmethod
    def _load(cls, context: Any, row: Any, exclude: Iterable[str] = ()) -> InstanceGroup:
        db = base.db_api()
        members = db.instance_group_members_get(context, [row.uuid])[row.uuid]
        hosts = db.instance_group_hosts(context, row.uuid, exclude=list(exclude))
        return cls._from_db(context, row, members, hosts)

    @base.remotable_classmethod
    def get_by_uuid(cls, context: Any, uuid: str) -> InstanceGroup:
        """The group with its members and their hosts; InstanceGroupNotFound."""
        return cls._load(context, base.db_api().instance_group_get(context, uuid))

    @base.remotable_classmethod
    def get_by_instance_uuid(cls, context: Any, instance_uuid: str) -> InstanceGroup:
        """The group server *instance_uuid* is in, with its members and their hosts;
        InstanceGroupNotFound when it is in none."""
        row = base.db_api().instance_group_get_by_instance(context, instance_uuid)
        if row is None:
            raise exception.InstanceGroupNotFound(group_uuid=f"of instance {instance_uuid}")
        return cls._load(context, row)

    @base.remotable_classmethod
    def add_members(cls, context: Any, group_uuid: str, instance_uuids: list[str]) -> list[str]:
        """Put the servers in the group; return those added. InstanceGroupNotFound,
        InstanceGroupMemberExists (see
        :func:`nubis.core.db.api.instance_group_members_add`)."""
        return list(base.db_api().instance_group_members_add(context, group_uuid, instance_uuids))

    @base.remotable_classmethod
    def check_members_quota(
        cls, context: Any, group_uuid: str, project_id: str, user_id: str, delta: int
    ) -> None:
        """:func:`nubis.core.quota.check_group_members` where the database is, with that
        process's ``[quota]`` defaults: GroupMemberLimitExceeded, InstanceGroupNotFound."""
        from nubis.core import quota
        from nubis.core.conf import CONF

        quota.check_group_members(context, CONF, project_id, user_id, group_uuid, delta)

    @base.remotable
    def get_placement(self, exclude: list[str] | None = None) -> dict[str, Any]:
        """Where the group's members are now, in one call: ``{"hosts": [...], "unplaced":
        n}`` -- the hosts its members run on (one entry per member, sorted) and how many
        of its members are being scheduled (no host yet); the members in *exclude* do
        not count. InstanceGroupNotFound once the group is deleted."""
        db = base.db_api()
        skip = list(exclude or ())
        return {
            "hosts": list(db.instance_group_hosts(self._context, self.uuid, skip)),
            "unplaced": int(db.instance_group_unplaced_count(self._context, self.uuid, skip)),
        }
