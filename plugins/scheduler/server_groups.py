"""The server group filters and weighers (namespaces ``nubis.scheduler.filters`` and
``nubis.scheduler.weighers``), as Nova's.

They read the request's ``instance_group`` (:class:`~nubis.core.objects.instance_group.
InstanceGroup`): its ``policy``, its ``rules`` and ``hosts``, the hosts its members run
on with one entry per member -- the scheduler keeps them current, adding each host it
chooses while it places the instances of one request. A request without a group, or
with a group of another policy, passes every filter and weighs 0.

* ``server_group_affinity``: an ``affinity`` group's instances go where its members
  are (anywhere, while it has none placed);
* ``server_group_anti_affinity``: an ``anti-affinity`` group's instances go where fewer
  than ``max_server_per_host`` of its members are (its rule; 1 without it);
* ``server_group_soft_affinity`` / ``server_group_soft_anti_affinity``: a
  ``soft-affinity`` group's instances prefer the hosts with the most of its members, a
  ``soft-anti-affinity`` group's those with the fewest; the multipliers are ``[scheduler]
  soft_affinity_weight_multiplier`` and ``soft_anti_affinity_weight_multiplier``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import BaseHostWeigher


def group_of(spec: Any, policy: str) -> Any:
    """The request's server group when its policy is *policy*, else None."""
    if not spec.obj_attr_is_set("instance_group"):
        return None  # a request spec older than 1.1
    group = spec.instance_group
    if group is None or group.policy != policy:
        return None
    return group


class ServerGroupAffinityFilter(BaseHostFilter):
    """``server_group_affinity``: an ``affinity`` group's instance goes to a host one of
    the group's members is on, when any is placed."""

    spec_fields = ("instance_group",)

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        group = group_of(spec, "affinity")
        if group is None or not group.hosts:
            return True
        return host_state.host in group.hosts

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        group = group_of(spec, "affinity")
        if group is None or not group.hosts:
            return iter(list(hosts))
        wanted = set(group.hosts)
        return iter([h for h in hosts if h.host in wanted])


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    """``server_group_anti_affinity``: an ``anti-affinity`` group's instance goes to a
    host with fewer than ``max_server_per_host`` (the group's rule, 1 without it) of the
    group's members."""

    spec_fields = ("instance_group",)

    @staticmethod
    def _limit_and_counts(group: Any) -> tuple[int, collections.Counter[str]]:
        limit = int(group.rules.get("max_server_per_host", 1)) if group.rules else 1
        return limit, collections.Counter(group.hosts)

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        group = group_of(spec, "anti-affinity")
        if group is None:
            return True
        limit, counts = self._limit_and_counts(group)
        return counts[host_state.host] < limit

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        group = group_of(spec, "anti-affinity")
        if group is None or not group.hosts:
            return iter(list(hosts))
        limit, counts = self._limit_and_counts(group)
        return iter([h for h in hosts if counts[h.host] < limit])


class _SoftPolicyWeigher(BaseHostWeigher):
    """Weighs a host by how many of a *policy* group's members it has (times *sign*)."""

    policy = ""
    sign = 1.0
    option = ""
    spec_fields = ("instance_group",)

    @property
    def multiplier(self) -> float:
        return float(getattr(self.conf.scheduler, self.option))

    def weigh(self, host_state: HostState, spec: Any) -> float:
        group = group_of(spec, self.policy)
        if group is None or not group.hosts:
            return 0.0
        return self.sign * group.hosts.count(host_state.host)

    def weigh_all(self, hosts: Sequence[HostState], spec: Any) -> list[float]:
        group = group_of(spec, self.policy)
        if group is None or not group.hosts:
            return [0.0] * len(hosts)
        counts = collections.Counter(group.hosts)
        return [self.sign * counts[h.host] for h in hosts]


class ServerGroupSoftAffinityWeigher(_SoftPolicyWeigher):
    """``server_group_soft_affinity``: for a ``soft-affinity`` group, a host weighs the
    number of the group's members on it (``[scheduler] soft_affinity_weight_multiplier``)."""

    policy = "soft-affinity"
    option = "soft_affinity_weight_multiplier"


class ServerGroupSoftAntiAffinityWeigher(_SoftPolicyWeigher):
    """``server_group_soft_anti_affinity``: for a ``soft-anti-affinity`` group, a host
    weighs minus the number of the group's members on it (``[scheduler]
    soft_anti_affinity_weight_multiplier``)."""

    policy = "soft-anti-affinity"
    sign = -1.0
    option = "soft_anti_affinity_weight_multiplier"
