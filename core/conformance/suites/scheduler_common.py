"""Synthetic scheduler inputs shared by the filter and weigher suites.

:func:`hosts` is a population of HostStates covering what a real cloud shows a
scheduler: an empty node that never reported, typical and large nodes, full and
overcommitted ones, a node that is down, a disabled one, other hypervisor types and
versions, unknown ``disk_available_least``. :func:`specs` is a set of RequestSpecs
from tiny to impossible, with and without hypervisor constraints and ignored hosts, and
for server groups of each policy (members on some of the hosts, or none placed yet).
Filters and weighers must answer for every pair without raising.
"""

from __future__ import annotations

import datetime
import zlib
from typing import Any

from nubis.core.scheduler.host_state import HostState


def _host(name: str, **values: Any) -> HostState:
    uuid = f"00000000-0000-4000-8000-{zlib.crc32(name.encode()):012d}"
    state = HostState(name, f"{name}-node", uuid)
    state.updated_at = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    state.hypervisor_type = "QEMU"
    state.hypervisor_version = 7002000
    for key, value in values.items():
        setattr(state, key, value)
    return state


def hosts() -> list[HostState]:
    """A fresh population (callers may keep and compare them)."""
    never_reported = HostState("h-new", "h-new-node")
    return [
        never_reported,
        _host(
            "h-typical",
            vcpus=16,
            vcpus_used=4,
            memory_mb=32768,
            memory_mb_used=8192,
            free_ram_mb=24576,
            local_gb=500,
            local_gb_used=100,
            free_disk_gb=400,
            disk_available_least=380,
            running_vms=4,
        ),
        _host(
            "h-large",
            vcpus=128,
            memory_mb=1048576,
            free_ram_mb=1048576,
            local_gb=10000,
            free_disk_gb=10000,
            disk_available_least=10000,
            cpu_allocation_ratio=4.0,
            ram_allocation_ratio=1.5,
            disk_allocation_ratio=1.0,
        ),
        _host(
            "h-full",
            vcpus=8,
            vcpus_used=8,
            memory_mb=16384,
            memory_mb_used=16384,
            free_ram_mb=0,
            local_gb=100,
            local_gb_used=100,
            free_disk_gb=0,
            disk_available_least=0,
            running_vms=8,
        ),
        _host(
            "h-overcommitted",
            vcpus=4,
            vcpus_used=12,
            memory_mb=8192,
            memory_mb_used=12288,
            free_ram_mb=-4096,
            local_gb=50,
            local_gb_used=80,
            free_disk_gb=-30,
            disk_available_least=-40,
            running_vms=12,
            cpu_allocation_ratio=16.0,
            ram_allocation_ratio=1.5,
        ),
        _host(
            "h-down",
            vcpus=16,
            memory_mb=32768,
            free_ram_mb=32768,
            local_gb=500,
            free_disk_gb=500,
            service_up=False,
        ),
        _host(
            "h-disabled",
            vcpus=16,
            memory_mb=32768,
            free_ram_mb=32768,
            local_gb=500,
            free_disk_gb=500,
            service_disabled=True,
            disabled_reason="maintenance",
        ),
        _host(
            "h-xen",
            vcpus=16,
            memory_mb=32768,
            free_ram_mb=32768,
            local_gb=500,
            free_disk_gb=500,
            hypervisor_type="xen",
            hypervisor_version=4017000,
        ),
        _host(
            "h-old-qemu",
            vcpus=16,
            memory_mb=32768,
            free_ram_mb=32768,
            local_gb=500,
            free_disk_gb=500,
            hypervisor_version=2011000,
            disk_available_least=None,
            updated_at=None,
            num_instances_placed=3,
        ),
    ]


def specs() -> list[Any]:
    """A fresh set of RequestSpecs."""
    from nubis.core.objects.request_spec import RequestSpec

    def spec(**values: Any) -> Any:
        obj = RequestSpec(**values)
        obj.obj_set_defaults()
        return obj

    return [
        spec(),
        spec(
            memory_mb=512,
            vcpus=1,
            root_gb=1,
            project_id="p1",
            instance_uuid="11111111-1111-4111-8111-111111111111",
        ),
        spec(memory_mb=8192, vcpus=4, root_gb=40, ephemeral_gb=20, num_instances=3),
        spec(memory_mb=4 * 1048576, vcpus=1024, root_gb=100000),
        spec(
            memory_mb=1024,
            vcpus=2,
            root_gb=10,
            hypervisor_type="QEMU",
            min_hypervisor_version=6000000,
        ),
        spec(memory_mb=1024, vcpus=2, root_gb=10, hypervisor_type="xen"),
        spec(memory_mb=256, vcpus=1, ignore_hosts=["h-typical", "h-large"], num_attempts=2),
        *(
            spec(memory_mb=512, vcpus=1, root_gb=1, instance_group=group(policy, placed))
            for policy, placed in (
                ("affinity", ["h-typical"]),
                ("affinity", []),
                ("anti-affinity", ["h-typical", "h-large"]),
                ("soft-affinity", ["h-typical", "h-typical", "h-xen"]),
                ("soft-anti-affinity", ["h-large"]),
            )
        ),
    ]


def group(policy: str, hosts: list[str]) -> Any:
    """A server group of *policy* whose members run on *hosts* (one entry each)."""
    from nubis.core.objects.instance_group import InstanceGroup

    return InstanceGroup(
        uuid="22222222-2222-4222-8222-222222222222",
        name="conformance",
        policy=policy,
        rules={},
        members=[f"33333333-3333-4333-8333-{index:012d}" for index in range(len(hosts))],
        hosts=list(hosts),
    )


def snapshot_host(state: HostState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in HostState.__slots__}


def snapshot_spec(spec: Any) -> Any:
    primitive = spec.obj_to_primitive()
    data = primitive["nubis_object.data"]
    return (primitive["nubis_object.version"], data, sorted(spec.obj_what_changed()))


def describe_spec(spec: Any) -> str:
    fields = {k: v for k, v in spec.obj_to_primitive()["nubis_object.data"].items() if v}
    return f"RequestSpec({fields})"


def describe(state: HostState, spec: Any) -> str:
    return f"{state!r} with {describe_spec(spec)}"


def changes(before: list[Any], after: list[Any], labels: list[str]) -> str:
    """What changed between two lists of snapshots ("" when nothing): per item, each
    changed attribute with the value expected (before) and observed (after)."""
    found = []
    for label, old, new in zip(labels, before, after, strict=True):
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    found.append(
                        f"{label}.{key}: expected {old.get(key)!r}, observed {new.get(key)!r}"
                    )
        else:
            found.append(f"{label}: expected {old!r}, observed {new!r}")
    return "; ".join(found[:6]) + (f"; ... {len(found) - 6} more" if len(found) > 6 else "")


def first_difference(
    expected: list[Any], observed: list[Any], population: list[HostState], requests: list[Any]
) -> str:
    """The first (host, spec) pair whose answer differs, in the order answers are made
    (every host of the first spec, then of the second, ...)."""
    for index, (want, got) in enumerate(zip(expected, observed, strict=True)):
        if want != got:
            spec = requests[index // len(population)]
            host = population[index % len(population)]
            return f"expected {want!r}, observed {got!r} for {describe(host, spec)}"
    return ""
