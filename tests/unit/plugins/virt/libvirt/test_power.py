"""Pause, suspend, diagnostics and the host's uptime of the libvirt driver, on
libvirt's in-process test driver: what the conformance suite cannot see from outside
-- the managed save behind suspend and what a HARD reboot and destroy do with it, the
counters diagnostics read from libvirt, the devices of the domain XML."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import libvirt
import pytest

from nubis.core import exception
from nubis.core.virt import power_state
from nubis.plugins.virt.libvirt.power import device_targets
from tests.unit.plugins.virt.libvirt.test_driver import instance, make_driver  # noqa: F401


def domain(drv: Any, inst: Any) -> libvirt.virDomain:
    return drv._host.get_connection().lookupByUUIDString(inst.uuid)


def test_pause_is_virdomainsuspend(make_driver) -> None:  # noqa: F811
    drv = make_driver()
    inst = instance()
    drv.spawn(None, inst)
    drv.pause(inst)
    assert domain(drv, inst).state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert drv.get_info(inst).state == power_state.PAUSED
    drv.unpause(inst)
    assert domain(drv, inst).state()[0] == libvirt.VIR_DOMAIN_RUNNING
    drv.destroy(None, inst)


def test_suspend_is_a_managed_save_that_reboot_and_destroy_drop(make_driver) -> None:  # noqa: F811
    drv = make_driver()
    inst = instance()
    drv.spawn(None, inst)
    drv.suspend(None, inst)
    dom = domain(drv, inst)
    assert dom.hasManagedSaveImage(0) and not dom.isActive()
    assert drv.get_info(inst).state == power_state.SHUTDOWN  # as Nova shows it
    drv.resume(None, inst)
    assert dom.isActive() and not dom.hasManagedSaveImage(0)

    drv.suspend(None, inst)
    drv.reboot(None, inst, reboot_type="HARD")  # a fresh boot: the saved state is dropped
    assert dom.isActive() and not dom.hasManagedSaveImage(0)

    drv.suspend(None, inst)
    drv.destroy(None, inst)  # undefined with its managed save
    assert not drv.instance_exists(inst)
    assert inst.uuid not in drv.list_instance_uuids()


def test_refusals_name_the_power_state(make_driver) -> None:  # noqa: F811
    drv = make_driver()
    inst = instance()
    drv.spawn(None, inst)
    drv.power_off(inst)
    for call in (
        lambda: drv.pause(inst),
        lambda: drv.unpause(inst),
        lambda: drv.suspend(None, inst),
        lambda: drv.resume(None, inst),
    ):
        with pytest.raises(exception.InstanceInvalidState, match="in power state shutdown"):
            call()
    drv.power_on(None, inst)
    drv.pause(inst)
    with pytest.raises(exception.InstanceInvalidState, match="resume instance"):
        drv.resume(None, inst)
    drv.destroy(None, inst)


def test_diagnostics_read_libvirt(make_driver, tmp_path: Path) -> None:  # noqa: F811
    drv = make_driver()
    images = tmp_path / "images"
    images.mkdir()
    (images / "tiny.raw").write_bytes(b"\0" * 65536)
    launched = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=90)
    inst = instance(image_ref="tiny.raw", vcpus=2, memory_mb=96, launched_at=launched)
    drv.spawn(None, inst)
    dom = domain(drv, inst)
    # (The test driver's counters grow with the clock: read them around the call.)
    before = dom.blockStats("vda")
    found = drv.get_diagnostics(inst)
    after = dom.blockStats("vda")
    assert (found.state, found.driver, found.hypervisor) == ("running", "libvirt", "test")
    assert 90 <= found.uptime < 120
    assert found.memory_details.maximum == 96 and found.memory_details.used == 96
    assert [cpu.id for cpu in found.cpu_details] == [0, 1]
    times = [v[2] for v in dom.vcpus()[0]]
    assert all(0 < cpu.time <= t for cpu, t in zip(found.cpu_details, times, strict=True))
    (disk,) = found.disk_details
    read = (
        disk.read_requests,
        disk.read_bytes,
        disk.write_requests,
        disk.write_bytes,
        disk.errors_count,
    )
    assert disk.name == "vda"
    assert all(b <= r <= a for b, r, a in zip(before, read, after, strict=True)), (before, read)
    assert found.nic_details == ()
    legacy = found.legacy_view()
    assert legacy["memory"] == 96 * 1024 and legacy["vda_read"] == disk.read_bytes
    assert set(legacy) >= {"cpu0_time", "cpu1_time", "vda_write_req", "vda_errors"}

    drv.suspend(None, inst)  # not running: no vCPU threads, the ids stay
    off = drv.get_diagnostics(instance(uuid=inst.uuid, launched_at=None))
    assert off.state == "shutdown" and off.uptime is None
    assert [(cpu.id, cpu.time) for cpu in off.cpu_details] == [(0, None), (1, None)]
    drv.destroy(None, inst)
    with pytest.raises(exception.InstanceNotFound):
        drv.get_diagnostics(inst)


def test_device_targets_of_the_domain_xml() -> None:
    xml = """<domain><devices>
      <disk type='file' device='disk'><target dev='vda'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc'/></disk>
      <disk type='file' device='disk'/>
      <interface type='network'><mac address='52:54:00:01:02:03'/><target dev='vnet0'/></interface>
      <interface type='user'><mac address='52:54:00:04:05:06'/></interface>
    </devices></domain>"""
    assert device_targets(xml) == (
        ["vda"],
        [("52:54:00:01:02:03", "vnet0"), ("52:54:00:04:05:06", None)],
    )


def test_the_host_uptime_is_this_machine_s(make_driver) -> None:  # noqa: F811
    line = make_driver().get_host_uptime()
    assert re.match(r"^ \d\d:\d\d:\d\d up .* load average: [\d.]+, [\d.]+, [\d.]+$", line), line
