"""Rescue of libvirt guests on libvirt's in-process test driver (no daemon needed):
the rescue domain XML, the files a rescue keeps and removes, a rescue of a rescued
guest, a failed rescue giving the guest its own definition back, and unrescue of a
guest that is not rescued. The contract's view (guests running, listed once) is the
conformance suite's (core/conformance/suites/virt/test_rescue.py)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest

from nubis.core.virt import power_state
from nubis.plugins.virt.libvirt import guest_xml, qcow2, rescue
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from tests.unit.plugins.virt.libvirt.test_driver import instance, make_conf

GiB = 1024**3


def disks(xml: str) -> list[tuple[str, str]]:
    """(source file, target dev) of the disks of domain *xml*, in order."""
    found = []
    for disk in ET.fromstring(xml).findall("./devices/disk"):
        source, target = disk.find("source"), disk.find("target")
        assert source is not None and target is not None
        found.append((str(source.get("file")), str(target.get("dev"))))
    return found


def own_xml(disk: str | None = "/i/u/disk") -> str:
    inst = instance(image_ref="base" if disk else "")
    spec = guest_xml.spec_from_instance(inst, "test", disk, "/i/u/console.log")
    return guest_xml.domain_xml(spec)


def test_the_rescue_disk_comes_first_and_the_guests_own_second() -> None:
    xml = rescue.rescue_xml(own_xml(), "/i/u/disk.rescue", "img-r")
    assert disks(xml) == [("/i/u/disk.rescue", "vda"), ("/i/u/disk", "vdb")]
    assert rescue.is_rescue_xml(xml) and not rescue.is_rescue_xml(own_xml())
    root = ET.fromstring(xml)
    mark = root.find(
        f"./metadata/{{{guest_xml.NAMESPACE}}}instance/{{{guest_xml.NAMESPACE}}}rescue"
    )
    assert mark is not None and mark.get("image") == "img-r"
    assert guest_xml.console_log_path(xml) == "/i/u/console.log"  # the rest is kept
    assert f'xmlns:nubis="{guest_xml.NAMESPACE}"' in xml
    # Rescuing a rescue definition again marks it once.
    again = ET.fromstring(rescue.rescue_xml(xml, None, ""))
    assert len(again.findall(f".//{{{guest_xml.NAMESPACE}}}rescue")) == 1


def test_diskless_guests_and_rescues_without_a_disk() -> None:
    assert disks(rescue.rescue_xml(own_xml(None), "/i/u/disk.rescue", "r")) == [
        ("/i/u/disk.rescue", "vda")
    ]
    assert disks(rescue.rescue_xml(own_xml(None), None, "")) == []
    assert disks(rescue.rescue_xml(own_xml(), None, "")) == [("/i/u/disk", "vda")]
    with pytest.raises(ValueError, match="not a nubis guest"):
        rescue.rescue_xml("<domain type='test'><name>x</name></domain>", None, "")


@pytest.fixture
def drv(tmp_path: Path) -> Iterator[LibvirtDriver]:
    driver = LibvirtDriver(
        make_conf(instances_path=str(tmp_path / "instances"), images_path=str(tmp_path / "images"))
    )
    driver.init_host("test-host")
    yield driver
    driver.cleanup_host("test-host")


def _image(tmp_path: Path, name: str, size: int = 65536) -> None:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    (images / name).write_bytes(b"\0" * size)


def _domain_xml(drv: Any, inst: Any) -> str:
    _conn, dom = drv._domain(inst)
    return str(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))


def test_rescue_and_unrescue_on_the_test_driver(drv: LibvirtDriver, tmp_path: Path) -> None:
    _image(tmp_path, "own.raw")
    _image(tmp_path, "rescue.raw", 3 * 65536)
    inst = instance(image_ref="own.raw", root_gb=1)
    drv.spawn(None, inst)
    guest_dir = tmp_path / "instances" / inst.uuid
    own = _domain_xml(drv, inst)

    drv.rescue(None, inst, "rescue.raw")
    assert drv.get_info(inst).state == power_state.RUNNING
    rescued = _domain_xml(drv, inst)
    assert disks(rescued) == [
        (str(guest_dir / rescue.RESCUE_DISK), "vda"),
        (str(guest_dir / "disk"), "vdb"),
    ]
    assert (guest_dir / rescue.UNRESCUE_XML).read_text() == own
    rescue_disk = str(guest_dir / rescue.RESCUE_DISK)
    assert qcow2.image_format(rescue_disk) == "qcow2"
    assert qcow2.virtual_size(rescue_disk) == 1 * GiB  # the flavor's root disk, as large

    # Rescued again: a fresh rescue disk, the guest's own definition still the kept one.
    drv.rescue(None, inst, "rescue.raw")
    assert (guest_dir / rescue.UNRESCUE_XML).read_text() == own
    assert rescue.is_rescue_xml(_domain_xml(drv, inst))

    drv.unrescue(None, inst)
    assert drv.get_info(inst).state == power_state.RUNNING
    assert _domain_xml(drv, inst) == own
    assert sorted(os.listdir(guest_dir)) == ["disk"]  # the rescue files are gone

    drv.power_off(inst)
    drv.unrescue(None, inst)  # not rescued: only started
    assert drv.get_info(inst).state == power_state.RUNNING
    assert _domain_xml(drv, inst) == own

    drv.rescue(None, inst, "rescue.raw")
    drv.destroy(None, inst)
    assert not guest_dir.exists() and not drv.instance_exists(inst)


def test_a_failed_rescue_gives_the_guest_its_own_definition_back(
    drv: LibvirtDriver, tmp_path: Path
) -> None:
    _image(tmp_path, "own.raw")
    inst = instance(image_ref="own.raw")
    drv.spawn(None, inst)
    own = _domain_xml(drv, inst)
    with pytest.raises(FileNotFoundError, match="missing.raw"):
        drv.rescue(None, inst, "missing.raw")
    assert _domain_xml(drv, inst) == own
    assert drv.get_info(inst).state == power_state.SHUTDOWN
    guest_dir = tmp_path / "instances" / inst.uuid
    assert sorted(os.listdir(guest_dir)) == ["disk"]
    drv.unrescue(None, inst)  # what recovers it: started, as it was
    assert drv.get_info(inst).state == power_state.RUNNING
