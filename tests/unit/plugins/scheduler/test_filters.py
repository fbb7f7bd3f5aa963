"""The default filter plugins, loaded through their entry points as the scheduler does."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from nubis.core import objects, plugins
from nubis.core.conf import CONF
from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.host_state import HostState

objects.register_all()


def load(name: str) -> BaseHostFilter:
    [cls] = plugins.load_many("nubis.scheduler.filters", [name])
    host_filter: BaseHostFilter = cls(CONF)
    return host_filter


def host(**values: Any) -> HostState:
    state = HostState("h1", "n1")
    defaults = dict(vcpus=8, memory_mb=8192, free_ram_mb=8192, local_gb=100, free_disk_gb=100)
    for name, value in {**defaults, **values}.items():
        setattr(state, name, value)
    return state


def spec(**values: Any) -> Any:
    request = objects.RequestSpec(**values)
    request.obj_set_defaults()
    return request


def verdicts(host_filter: BaseHostFilter, hosts: list[HostState], request: Any) -> list[bool]:
    """host_passes per host, checked against what filter_all keeps."""
    single = [host_filter.host_passes(h, request) for h in hosts]
    kept = list(host_filter.filter_all(hosts, request))
    assert kept == [h for h, ok in zip(hosts, single, strict=True) if ok], "filter_all differs"
    return single


def test_every_default_filter_is_installed_and_named_by_its_class() -> None:
    names = {
        "compute": "ComputeFilter",
        "ram": "RamFilter",
        "vcpu": "VcpuFilter",
        "disk": "DiskFilter",
        "hypervisor_type": "HypervisorTypeFilter",
    }
    for name, class_name in names.items():
        assert load(name).name == class_name
    assert [f.run_filter_once_per_request for f in map(load, names)] == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_compute_filter_wants_the_service_up_and_enabled() -> None:
    hosts = [
        host(service_up=True, service_disabled=False),
        host(service_up=False, service_disabled=False),
        host(service_up=True, service_disabled=True, disabled_reason="maintenance"),
        host(service_up=False, service_disabled=True),
    ]
    assert verdicts(load("compute"), hosts, spec()) == [True, False, False, False]


def test_ram_filter_counts_what_the_node_does_not_report_free_as_used() -> None:
    # 8192 MB, 1024 reserved by the host (not free although no instance uses it).
    hosts = [host(memory_mb=8192, memory_mb_used=0, free_ram_mb=7168)]
    ram = load("ram")
    assert verdicts(ram, hosts, spec(memory_mb=7168)) == [True]
    assert verdicts(ram, hosts, spec(memory_mb=7169)) == [False]


def test_ram_filter_applies_the_nodes_allocation_ratio() -> None:
    full = host(memory_mb=4096, free_ram_mb=0)
    ram = load("ram")
    assert verdicts(ram, [full], spec(memory_mb=1)) == [False]
    full.ram_allocation_ratio = 1.5  # 6144 MB may be promised, 4096 are
    assert verdicts(ram, [full], spec(memory_mb=2048)) == [True]
    assert verdicts(ram, [full], spec(memory_mb=2049)) == [False]


def test_ram_filter_sees_what_the_scheduler_consumed() -> None:
    node = host(memory_mb=4096, free_ram_mb=4096)
    request = spec(memory_mb=3000, vcpus=1)
    ram = load("ram")
    assert verdicts(ram, [node], request) == [True]
    node.consume(request)
    assert verdicts(ram, [node], request) == [False]


def test_vcpu_filter_with_allocation_ratio() -> None:
    vcpu = load("vcpu")
    node = host(vcpus=4, vcpus_used=4, cpu_allocation_ratio=1.0)
    assert verdicts(vcpu, [node], spec(vcpus=1)) == [False]
    node.cpu_allocation_ratio = 2.0  # 8 may be promised, 4 are
    assert verdicts(vcpu, [node], spec(vcpus=4)) == [True]
    assert verdicts(vcpu, [node], spec(vcpus=5)) == [False]


def test_vcpu_filter_never_overcommits_an_instance_against_itself() -> None:
    node = host(vcpus=4, vcpus_used=0, cpu_allocation_ratio=16.0)
    vcpu = load("vcpu")
    assert verdicts(vcpu, [node], spec(vcpus=4)) == [True]
    assert verdicts(vcpu, [node], spec(vcpus=5)) == [False]


def test_vcpu_filter_passes_requests_for_no_vcpus() -> None:
    assert verdicts(load("vcpu"), [host(vcpus=0)], spec(vcpus=0)) == [True]


def test_disk_filter_counts_root_and_ephemeral_with_ratio() -> None:
    disk = load("disk")
    node = host(local_gb=100, free_disk_gb=30)
    assert verdicts(disk, [node], spec(root_gb=20, ephemeral_gb=10)) == [True]
    assert verdicts(disk, [node], spec(root_gb=20, ephemeral_gb=11)) == [False]
    node.disk_allocation_ratio = 1.5  # 150 GB may be promised, 70 are
    assert verdicts(disk, [node], spec(root_gb=80)) == [True]
    assert verdicts(disk, [node], spec(root_gb=81)) == [False]


def test_disk_filter_prefers_disk_available_least() -> None:
    # Thin images grew: free_disk_gb says 50, the node says only 10 can still be had.
    node = host(local_gb=100, free_disk_gb=50, disk_available_least=10)
    disk = load("disk")
    assert verdicts(disk, [node], spec(root_gb=10)) == [True]
    assert verdicts(disk, [node], spec(root_gb=11)) == [False]
    node.disk_available_least = None
    assert verdicts(disk, [node], spec(root_gb=50)) == [True]


def test_hypervisor_type_filter_only_acts_when_the_request_names_a_type() -> None:
    hosts = [
        host(hypervisor_type="QEMU", hypervisor_version=7002000),
        host(hypervisor_type="qemu", hypervisor_version=6000000),
        host(hypervisor_type="fake", hypervisor_version=9000000),
        host(hypervisor_type=None, hypervisor_version=None),
        host(hypervisor_type="QEMU", hypervisor_version=None),
    ]
    filt = load("hypervisor_type")
    assert verdicts(filt, hosts, spec()) == [True] * 5
    assert verdicts(filt, hosts, spec(hypervisor_type="QEMU")) == [True, True, False, False, True]
    assert verdicts(filt, hosts, spec(hypervisor_type="QEMU", min_hypervisor_version=7000000)) == [
        True,
        False,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize("name", ["compute", "ram", "vcpu", "disk", "hypervisor_type"])
def test_filter_all_agrees_with_host_passes_over_a_grid(name: str) -> None:
    hosts = [
        host(
            memory_mb=4096,
            free_ram_mb=free_ram,
            vcpus=4,
            vcpus_used=used_cpus,
            local_gb=40,
            free_disk_gb=free_disk,
            disk_available_least=least,
            ram_allocation_ratio=ratio,
            cpu_allocation_ratio=ratio,
            disk_allocation_ratio=ratio,
            service_up=up,
            service_disabled=disabled,
            hypervisor_type=hv,
            hypervisor_version=7000000,
        )
        for free_ram, used_cpus, free_disk, least, ratio, up, disabled, hv in itertools.product(
            (-512, 0, 2048),
            (0, 4, 8),
            (0, 20),
            (None, 5),
            (1.0, 1.5),
            (True, False),
            (False, True),
            ("QEMU", "xen"),
        )
    ]
    requests = [
        spec(),
        spec(memory_mb=1024, vcpus=2, root_gb=10),
        spec(
            memory_mb=4096,
            vcpus=4,
            root_gb=20,
            ephemeral_gb=20,
            hypervisor_type="qemu",
            min_hypervisor_version=7000000,
        ),
    ]
    for request in requests:
        verdicts(load(name), hosts, request)
