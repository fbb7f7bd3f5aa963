"""Quotas, Nova's counting way: which limits apply to a project or to a user in it,
what they use now (counted from the live rows, no reservations), and the checks a
server create makes.

Limits resolve in layers, each overriding the one before: ``[quota]`` options (the
configured defaults), the quota class ``default``, the project's own limits, and a
user's own limits within the project. -1 means no limit. Resources are Nova's, in
Nova's order; the four nova-network ones and the personality-file ones are reported
as Nova reports them (the network ones always -1) but never enforced.
``server_groups`` counts a project's server groups (and a user's, for a user's limit);
``server_group_members`` limits how many servers one user puts in one group, and is
reported with no use, as Nova reports it.

A create is checked before its instances are recorded (:func:`instances_allowed`) and,
with ``[quota] recheck_quota``, again after (:func:`recheck_instances`): two creates
racing for the last places both pass the first check, both record, and then at least
the later one sees the overshoot and is undone -- no project ends above its limit.
Server groups (:func:`check_server_groups`) and a group's members
(:func:`check_group_members`) are checked the same way: before with the request's
delta, after recording with none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nubis.core import exception
from nubis.core.db import api as db

RESOURCES: tuple[str, ...] = (
    "instances",
    "cores",
    "ram",
    "metadata_items",
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
    "key_pairs",
    "server_groups",
    "server_group_members",
    "fixed_ips",
    "floating_ips",
    "security_groups",
    "security_group_rules",
)
NETWORK_RESOURCES = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
"""nova-network's: Nova still reports them (until 2.36) but nothing counts them."""
INJECTED_FILE_RESOURCES = (
    "injected_files",
    "injected_file_content_bytes",
    "injected_file_path_bytes",
)
"""Personality files': reported until 2.57."""
SERVER_GROUP_RESOURCES = ("server_groups", "server_group_members")

_OPTION = {"injected_file_path_bytes": "injected_file_path_length"}
_PER_INSTANCE = {
    "instances": lambda flavor: 1,
    "cores": lambda flavor: flavor.vcpus,
    "ram": lambda flavor: flavor.memory_mb,
}


def configured_defaults(conf: Any) -> dict[str, int]:
    """The ``[quota]`` options, by resource (-1 for the nova-network ones)."""
    return {
        resource: -1
        if resource in NETWORK_RESOURCES
        else int(getattr(conf.quota, _OPTION.get(resource, resource)))
        for resource in RESOURCES
    }


def _layered(base: Mapping[str, int], *overrides: Mapping[str, int]) -> dict[str, int]:
    limits = dict(base)
    for override in overrides:
        limits.update({k: v for k, v in override.items() if k in limits})
    return limits


def defaults(context: Any, conf: Any) -> dict[str, int]:
    """Every project's limits before its own: the configured defaults under the quota
    class ``default``."""
    stored = db.quota_get_overrides(context)
    return _layered(configured_defaults(conf), stored["class"])


def class_limits(context: Any, conf: Any, class_name: str) -> dict[str, int]:
    """The quota class *class_name*'s limits: the configured defaults under the class
    (Nova's reading; only ``default`` ever applies to projects)."""
    stored = db.quota_get_overrides(context, class_name=class_name)
    return _layered(configured_defaults(conf), stored["class"])


def limits(context: Any, conf: Any, project_id: str, user_id: str | None = None) -> dict[str, int]:
    """The limits of *project_id*, or of *user_id* within it."""
    stored = db.quota_get_overrides(context, project_id=project_id, user_id=user_id)
    return _layered(configured_defaults(conf), stored["class"], stored["project"], stored["user"])


def usage(context: Any, project_id: str, user_id: str | None = None) -> dict[str, int]:
    """What *project_id* (or *user_id* within it) uses, by resource: servers, their
    cores and RAM counted from the live instances, server groups, key pairs (a user's
    only: key pairs belong to users), 0 for the rest (``server_group_members`` too: it
    is counted per group, as Nova reports it)."""
    scope = "user" if user_id is not None else "project"
    counted = db.quota_usage_instances(context, project_id, user_id)
    used = {resource: 0 for resource in RESOURCES}
    used.update(counted[scope])
    used["server_groups"] = db.instance_group_count(context, project_id, user_id)[scope]
    if user_id is not None:
        used["key_pairs"] = db.key_pair_count_by_user(context, user_id)
    return used


def settable_range(
    context: Any, conf: Any, project_id: str, user_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """Per resource, the (minimum, maximum) a new limit may take (-1: none), as Nova
    decides it: a project's limit not below what its users' own limits add up to; a
    user's not below what the user uses, nor above what the project's limit leaves
    after its other users' own limits."""
    if user_id is None:
        sums = db.quota_get_user_limit_sums(context, project_id)
        return {resource: (sums.get(resource, 0), -1) for resource in RESOURCES}
    project = limits(context, conf, project_id)
    others = db.quota_get_user_limit_sums(context, project_id, exclude_user=user_id)
    used = usage(context, project_id, user_id)
    ranges = {}
    for resource in RESOURCES:
        limit = project[resource]
        maximum = -1 if limit < 0 else max(limit - others.get(resource, 0), 0)
        ranges[resource] = (used[resource], maximum)
    return ranges


@dataclasses.dataclass(frozen=True)
class _Headroom:
    """One limit a create meets: *need* of *resource* per server, *used* of *allowed*."""

    resource: str
    need: int
    used: int
    allowed: int

    def fits(self) -> int | None:
        """How many instances fit under this limit (None: no limit)."""
        if self.allowed < 0:
            return None
        return max(self.allowed - self.used, 0)


def _headrooms(
    context: Any, conf: Any, project_id: str, user_id: str, flavor: Any
) -> list[_Headroom]:
    """The headrooms of instances, cores and ram, for the project and for the user in
    it (one transaction: the stored limits, the usage)."""
    stored, counted = db.quota_get_instance_limits_and_usage(context, project_id, user_id)
    base = _layered(configured_defaults(conf), stored["class"])
    project_limits = _layered(base, stored["project"])
    user_limits = _layered(project_limits, stored["user"])
    rooms = []
    for resource, need_of in _PER_INSTANCE.items():
        need = int(need_of(flavor) or 0)
        for scope, scoped_limits in (("project", project_limits), ("user", user_limits)):
            used = counted[scope][resource]
            rooms.append(_Headroom(resource, need, used, scoped_limits[resource]))
    return rooms


def instances_allowed(
    context: Any,
    conf: Any,
    project_id: str,
    user_id: str,
    flavor: Any,
    min_count: int,
    max_count: int,
) -> int:
    """How many of *max_count* servers of *flavor* the project and user may still
    create (Nova gives as many as fit, up to *max_count*); TooManyInstances (HTTP 403)
    when fewer than *min_count* fit."""
    allowed = max_count
    blocking: list[_Headroom] = []
    for room in _headrooms(context, conf, project_id, user_id, flavor):
        space = room.fits()
        if space is None or room.need == 0:
            continue
        fit = space // room.need
        allowed = min(allowed, fit)
        if fit < min_count:
            blocking.append(room)
    if blocking:
        room = blocking[0]
        raise exception.TooManyInstances(
            overs=room.resource,
            req=room.need * min_count,
            used=room.used,
            allowed=room.allowed,
        )
    return allowed


def recheck_instances(context: Any, conf: Any, project_id: str, user_id: str, flavor: Any) -> None:
    """After a create recorded its instances: TooManyInstances when the project or user
    now uses more than a limit allows (a concurrent create took the room)."""
    for room in _headrooms(context, conf, project_id, user_id, flavor):
        if 0 <= room.allowed < room.used:
            raise exception.TooManyInstances(
                message=f"Quota exceeded for {room.resource}: {room.used} in use of "
                f"{room.allowed} allowed once this request's servers were counted (another "
                "request took the room at the same time); nothing was created."
            )


def check_server_groups(
    context: Any, conf: Any, project_id: str, user_id: str, delta: int = 1
) -> None:
    """ServerGroupLimitExceeded (HTTP 403, Nova's message) when *delta* more server
    groups would take the project or the user in it past its ``server_groups`` limit
    (with *delta* 0: when they are past it already, a recheck)."""
    stored = db.quota_get_overrides(context, project_id=project_id, user_id=user_id)
    project_limits = _layered(configured_defaults(conf), stored["class"], stored["project"])
    user_limits = _layered(project_limits, stored["user"])
    counted = db.instance_group_count(context, project_id, user_id)
    for scope, scoped_limits in (("project", project_limits), ("user", user_limits)):
        allowed = scoped_limits["server_groups"]
        if 0 <= allowed < counted[scope] + delta:
            raise exception.ServerGroupLimitExceeded()


def check_group_members(
    context: Any,
    conf: Any,
    project_id: str,
    user_id: str,
    group_uuid: str,
    delta: int,
) -> None:
    """GroupMemberLimitExceeded (HTTP 403, Nova's message) when *delta* more servers of
    *user_id* in the group would take the user past its ``server_group_members`` limit
    (with *delta* 0: when they are past it already, a recheck). InstanceGroupNotFound
    when the group is gone."""
    allowed = limits(context, conf, project_id, user_id)["server_group_members"]
    if allowed < 0:
        return
    if db.instance_group_member_count_by_user(context, group_uuid, user_id) + delta > allowed:
        raise exception.GroupMemberLimitExceeded()
