"""The default filters (namespace ``nubis.scheduler.filters``).

Each filter answers, for one compute node, "can it take one more instance of this
request?" from the node's :class:`~nubis.core.scheduler.host_state.HostState` alone.
``filter_all`` is overridden to read the request once per call instead of once per
node (reading a versioned object's field costs more than the comparison itself); it
gives the same answer as ``host_passes`` for every node.

Resource filters follow Nova's: a node's capacity is its total times its allocation
ratio, and it is used by whatever it does not report as free (so memory or disk the
node reserves for itself counts as used).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.host_state import HostState


class ComputeFilter(BaseHostFilter):
    """``compute``: the node's compute service is up (servicegroup, not forced down)
    and not disabled."""

    spec_fields = ()

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        return host_state.service_up and not host_state.service_disabled

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        return iter([h for h in hosts if h.service_up and not h.service_disabled])


def usable_ram_mb(host_state: HostState) -> float:
    """RAM the node can still give: memory_mb x ram_allocation_ratio minus what it uses."""
    used = host_state.memory_mb - host_state.free_ram_mb
    return host_state.memory_mb * host_state.ram_allocation_ratio - used


class RamFilter(BaseHostFilter):
    """``ram``: the node has the request's memory_mb left after its ram_allocation_ratio."""

    spec_fields = ("memory_mb",)

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        return usable_ram_mb(host_state) >= spec.memory_mb

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        requested = spec.memory_mb
        return iter(
            [
                h
                for h in hosts
                if h.memory_mb * h.ram_allocation_ratio - h.memory_mb + h.free_ram_mb >= requested
            ]
        )


class VcpuFilter(BaseHostFilter):
    """``vcpu``: the node has the request's vCPUs left after its cpu_allocation_ratio,
    and has at least that many physical CPUs (an instance may overcommit against other
    instances, never against itself)."""

    spec_fields = ("vcpus",)

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        requested = spec.vcpus
        if requested <= 0:
            return True
        if requested > host_state.vcpus:
            return False
        free = host_state.vcpus * host_state.cpu_allocation_ratio - host_state.vcpus_used
        return bool(free >= requested)

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        requested = spec.vcpus
        if requested <= 0:
            return iter(list(hosts))
        return iter(
            [
                h
                for h in hosts
                if h.vcpus >= requested
                and h.vcpus * h.cpu_allocation_ratio - h.vcpus_used >= requested
            ]
        )


def usable_disk_gb(host_state: HostState) -> float:
    """Disk the node can still give: local_gb x disk_allocation_ratio minus what it uses,
    where what is free is ``disk_available_least`` when the node reports it (it accounts
    for thin-provisioned images growing) and ``free_disk_gb`` otherwise."""
    free = host_state.disk_available_least
    if free is None:
        free = host_state.free_disk_gb
    return host_state.local_gb * host_state.disk_allocation_ratio - (host_state.local_gb - free)


class DiskFilter(BaseHostFilter):
    """``disk``: the node has the request's root_gb + ephemeral_gb left after its
    disk_allocation_ratio."""

    spec_fields = ("root_gb", "ephemeral_gb")

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        return usable_disk_gb(host_state) >= spec.root_gb + spec.ephemeral_gb

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        requested = spec.root_gb + spec.ephemeral_gb
        return iter(
            [
                h
                for h in hosts
                if h.local_gb * h.disk_allocation_ratio
                - h.local_gb
                + (h.free_disk_gb if h.disk_available_least is None else h.disk_available_least)
                >= requested
            ]
        )


class HypervisorTypeFilter(BaseHostFilter):
    """``hypervisor_type``: when the request names a hypervisor type (a live migration
    asks for the source's), the node runs that type (compared without case) at
    ``min_hypervisor_version`` or newer. Requests that name no type pass every node.

    Runs once per request: the answer does not change as instances are placed.
    """

    run_filter_once_per_request = True
    spec_fields = ("hypervisor_type", "min_hypervisor_version")

    def host_passes(self, host_state: HostState, spec: Any) -> bool:
        wanted = spec.hypervisor_type
        if wanted is None:
            return True
        return _same_type_and_new_enough(host_state, wanted.casefold(), spec.min_hypervisor_version)

    def filter_all(self, hosts: Iterable[HostState], spec: Any) -> Iterator[HostState]:
        wanted = spec.hypervisor_type
        if wanted is None:
            return iter(list(hosts))
        folded = wanted.casefold()
        minimum = spec.min_hypervisor_version
        return iter([h for h in hosts if _same_type_and_new_enough(h, folded, minimum)])


def _same_type_and_new_enough(host_state: HostState, folded: str, minimum: int | None) -> bool:
    if host_state.hypervisor_type is None or host_state.hypervisor_type.casefold() != folded:
        return False
    if minimum is None:
        return True
    return host_state.hypervisor_version is not None and host_state.hypervisor_version >= minimum
