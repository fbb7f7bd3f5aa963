"""The diagnostics model: its checks, its trip over RPC and the REST views (Nova's
2.48 model, and the free-form keys of Nova's libvirt driver before)."""

from __future__ import annotations

import json

import pytest

from nubis.core.virt.diagnostics import (
    CpuDiagnostics,
    Diagnostics,
    DiskDiagnostics,
    MemoryDiagnostics,
    NicDiagnostics,
)

FULL = Diagnostics(
    state="running",
    driver="libvirt",
    hypervisor="kvm",
    hypervisor_os="linux",
    uptime=42,
    config_drive=False,
    cpu_details=(CpuDiagnostics(id=0, time=17), CpuDiagnostics(id=1, time=None)),
    nic_details=(NicDiagnostics(mac_address="52:54:00:aa:bb:cc", rx_octets=10, name="tap0"),),
    disk_details=(DiskDiagnostics(1, 2, 3, 4, 0, name="vda"),),
    memory_details=MemoryDiagnostics(maximum=512, used=256),
    memory_stats={"actual": 524288, "rss": 1000},
)


def test_counts_come_from_the_details() -> None:
    assert (FULL.num_cpus, FULL.num_nics, FULL.num_disks) == (2, 1, 1)
    assert Diagnostics(state="paused", driver="libvirt").num_disks == 0


@pytest.mark.parametrize(
    ("field", "value"), [("state", "asleep"), ("driver", "fake"), ("driver", "")]
)
def test_a_state_or_driver_outside_nova_s_lists_is_refused(field: str, value: str) -> None:
    values = {"state": "running", "driver": "libvirt", field: value}
    with pytest.raises(ValueError, match=repr(value)):
        Diagnostics(**values)


def test_the_primitive_is_json_and_comes_back_equal() -> None:
    primitive = FULL.to_primitive()
    assert json.loads(json.dumps(primitive)) == primitive
    assert Diagnostics.from_primitive(primitive) == FULL
    with pytest.raises(ValueError, match="not a diagnostics primitive"):
        Diagnostics.from_primitive({"driver": "libvirt"})
    with pytest.raises(ValueError, match="not a diagnostics primitive"):
        Diagnostics.from_primitive({**primitive, "cpu_details": [{"core": 1}]})


def test_the_standard_view_is_nova_s_2_48_body() -> None:
    view = FULL.standard_view()
    assert view == {
        "state": "running",
        "driver": "libvirt",
        "hypervisor": "kvm",
        "hypervisor_os": "linux",
        "uptime": 42,
        "config_drive": False,
        "num_cpus": 2,
        "num_nics": 1,
        "num_disks": 1,
        "cpu_details": [
            {"id": 0, "time": 17, "utilisation": None},
            {"id": 1, "time": None, "utilisation": None},
        ],
        "nic_details": [
            {
                "mac_address": "52:54:00:aa:bb:cc",
                "rx_octets": 10,
                "rx_errors": None,
                "rx_drop": None,
                "rx_packets": None,
                "rx_rate": None,
                "tx_octets": None,
                "tx_errors": None,
                "tx_drop": None,
                "tx_packets": None,
                "tx_rate": None,
            }
        ],
        "disk_details": [
            {
                "read_bytes": 1,
                "read_requests": 2,
                "write_bytes": 3,
                "write_requests": 4,
                "errors_count": 0,
            }
        ],
        "memory_details": {"maximum": 512, "used": 256},
    }


def test_the_legacy_view_is_keyed_as_nova_s_libvirt_driver() -> None:
    assert FULL.legacy_view() == {
        "cpu0_time": 17,
        "vda_read_req": 2,
        "vda_read": 1,
        "vda_write_req": 4,
        "vda_write": 3,
        "vda_errors": 0,
        "tap0_rx": 10,
        "memory": 512 * 1024,
        "memory-actual": 524288,
        "memory-rss": 1000,
    }
    unnamed = Diagnostics(
        state="running", driver="libvirt", disk_details=(DiskDiagnostics(read_bytes=5),)
    )
    assert unnamed.legacy_view() == {"disk0_read": 5}
