"""HostState: the scheduler's view of one compute node.

A HostState is built from a ComputeNode row and the liveness of the compute service
that reports it; the scheduler keeps one per node between requests and subtracts its
own choices from it (:meth:`HostState.consume`) until the node's next report arrives,
so that concurrent requests do not all land on the same host because of stale data.
Claims on the compute host remain the final word.

Filters and weighers read the attributes; only the scheduler writes them.
"""

from __future__ import annotations

from typing import Any


class HostState:
    """Resources, identity and liveness of one compute node, as the scheduler sees it.

    Attributes (all read-only for filters and weighers):

    * ``host``, ``nodename``, ``uuid``: identity of the node.
    * ``vcpus``, ``vcpus_used``, ``memory_mb``, ``memory_mb_used``, ``free_ram_mb``,
      ``local_gb``, ``local_gb_used``, ``free_disk_gb``, ``disk_available_least``,
      ``running_vms``: resources as last reported, minus what the scheduler placed since.
    * ``cpu_allocation_ratio``, ``ram_allocation_ratio``, ``disk_allocation_ratio``:
      overcommit ratios of the node.
    * ``hypervisor_type``, ``hypervisor_version``: what the node runs.
    * ``service_up``, ``service_disabled``, ``disabled_reason``: the compute service's
      liveness (servicegroup; ``forced_down`` counts as down) and admin state.
    * ``updated_at``: when the node last reported (a datetime or None).
    * ``num_instances_placed``: instances the scheduler placed here since that report.
    """

    __slots__ = (
        "host", "nodename", "uuid", "vcpus", "vcpus_used", "memory_mb", "memory_mb_used",
        "free_ram_mb", "local_gb", "local_gb_used", "free_disk_gb", "disk_available_least",
        "running_vms", "cpu_allocation_ratio", "ram_allocation_ratio", "disk_allocation_ratio",
        "hypervisor_type", "hypervisor_version", "service_up", "service_disabled",
        "disabled_reason", "updated_at", "num_instances_placed",
    )

    def __init__(self, host: str, nodename: str, uuid: str | None = None) -> None:
        self.host = host
        self.nodename = nodename
        self.uuid = uuid
        self.vcpus = 0
        self.vcpus_used = 0
        self.memory_mb = 0
        self.memory_mb_used = 0
        self.free_ram_mb = 0
        self.local_gb = 0
        self.local_gb_used = 0
        self.free_disk_gb = 0
        self.disk_available_least: int | None = None
        self.running_vms = 0
        self.cpu_allocation_ratio = 1.0
        self.ram_allocation_ratio = 1.0
        self.disk_allocation_ratio = 1.0
        self.hypervisor_type: str | None = None
        self.hypervisor_version: int | None = None
        self.service_up = True
        self.service_disabled = False
        self.disabled_reason: str | None = None
        self.updated_at: Any = None
        self.num_instances_placed = 0

    @classmethod
    def from_compute_node(cls, node: Any) -> HostState:
        """Return a HostState filled from ComputeNode *node* (liveness left as up)."""
        state = cls(node.host, node.hypervisor_hostname, node.uuid)
        state.update_from_compute_node(node)
        return state

    def update_from_compute_node(self, node: Any) -> None:
        """Take the resources *node* reports; forget what the scheduler placed before."""
        self.vcpus = node.vcpus or 0
        self.vcpus_used = node.vcpus_used or 0
        self.memory_mb = node.memory_mb or 0
        self.memory_mb_used = node.memory_mb_used or 0
        self.free_ram_mb = (
            node.free_ram_mb if node.free_ram_mb is not None
            else self.memory_mb - self.memory_mb_used
        )
        self.local_gb = node.local_gb or 0
        self.local_gb_used = node.local_gb_used or 0
        self.free_disk_gb = (
            node.free_disk_gb if node.free_disk_gb is not None
            else self.local_gb - self.local_gb_used
        )
        self.disk_available_least = node.disk_available_least
        self.running_vms = node.running_vms or 0
        self.cpu_allocation_ratio = float(_ratio(node, "cpu_allocation_ratio"))
        self.ram_allocation_ratio = float(_ratio(node, "ram_allocation_ratio"))
        self.disk_allocation_ratio = float(_ratio(node, "disk_allocation_ratio"))
        self.hypervisor_type = node.hypervisor_type
        self.hypervisor_version = node.hypervisor_version
        self.updated_at = node.updated_at
        self.num_instances_placed = 0

    def consume(self, spec: Any) -> None:
        """Subtract one instance of request spec *spec* from this node's resources."""
        self.vcpus_used += spec.vcpus
        self.memory_mb_used += spec.memory_mb
        self.free_ram_mb -= spec.memory_mb
        disk = spec.root_gb + spec.ephemeral_gb
        self.local_gb_used += disk
        self.free_disk_gb -= disk
        if self.disk_available_least is not None:
            self.disk_available_least -= disk
        self.running_vms += 1
        self.num_instances_placed += 1

    def __repr__(self) -> str:
        return (
            f"HostState({self.host!r}, {self.nodename!r}, free_ram_mb={self.free_ram_mb}, "
            f"vcpus={self.vcpus_used}/{self.vcpus}, free_disk_gb={self.free_disk_gb}, "
            f"up={self.service_up}, disabled={self.service_disabled})"
        )


def _ratio(node: Any, name: str) -> float:
    if node.obj_attr_is_set(name) and getattr(node, name) is not None:
        return float(getattr(node, name))
    return 1.0
