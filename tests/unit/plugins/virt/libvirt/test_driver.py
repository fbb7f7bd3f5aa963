"""The libvirt driver on libvirt's in-process test driver (no daemon needed).

Covers what the conformance suite cannot see from outside: the domain XML, overlay
disks, the console log and how much of it is read, the honest refusal to live-migrate
on a test:/// URI, the lifecycle event mapping, and the loss and return of the
connection.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import types
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libvirt
import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import events
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from nubis.plugins.virt.libvirt import guest_xml, qcow2
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from nubis.plugins.virt.libvirt.host import Host
from nubis.plugins.virt.libvirt.states import lifecycle_transition

NODE_XML = Path(__file__).parents[4] / "conformance" / "virt" / "libvirt-test-node.xml"
TEST_URI = f"test://{NODE_XML.resolve()}"


def make_conf(**options: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    libvirt_conf.register_opts(conf)
    options.setdefault("virt_type", "test")
    options.setdefault("connection_uri", TEST_URI)
    for name, value in options.items():
        conf.set_override(name, value, group="libvirt")
    return conf


@pytest.fixture
def make_driver(tmp_path: Path) -> Iterator[Any]:
    started: list[LibvirtDriver] = []

    def make(**options: Any) -> LibvirtDriver:
        options.setdefault("instances_path", str(tmp_path / "instances"))
        options.setdefault("images_path", str(tmp_path / "images"))
        options.setdefault("reconnect_interval", 0.05)
        drv = LibvirtDriver(make_conf(**options))
        drv.init_host("test-host")
        started.append(drv)
        return drv

    yield make
    for drv in started:
        drv.cleanup_host("test-host")


def instance(**fields: Any) -> Any:
    values = dict(
        uuid=str(uuid.uuid4()),
        name=f"instance-{uuid.uuid4().hex[:8]}",
        memory_mb=64,
        vcpus=1,
        root_gb=1,
        image_ref="",
        host="test-host",
        node=None,
        power_state=0,
    )
    values.update(fields)
    return types.SimpleNamespace(**values)


# --- domain XML and images ---------------------------------------------------------------


def test_domain_xml_of_a_diskless_guest() -> None:
    inst = instance(memory_mb=96, vcpus=2)
    xml = guest_xml.domain_xml(guest_xml.spec_from_instance(inst, "kvm", None))
    assert ET.fromstring(xml).get("type") == "kvm"
    assert f"<uuid>{inst.uuid}</uuid>" in xml and f"<name>{inst.name}</name>" in xml
    assert '<memory unit="MiB">96</memory>' in xml and "<vcpu>2</vcpu>" in xml
    assert '<memballoon model="none" />' in xml
    assert '<serial type="pty">' in xml and '<console type="pty">' in xml
    assert "<disk" not in xml
    assert f'xmlns:nubis="{guest_xml.NAMESPACE}"' in xml
    with pytest.raises(ValueError, match="must be positive"):
        guest_xml.spec_from_instance(instance(memory_mb=None), "kvm", None)


def test_domain_xml_with_an_overlay_disk() -> None:
    spec = guest_xml.spec_from_instance(instance(image_ref="base.img"), "qemu", "/i/u/disk")
    xml = guest_xml.domain_xml(spec)
    assert guest_xml.disk_paths(xml) == ["/i/u/disk"]
    assert (
        '<driver name="qemu" type="qcow2" />' in xml and '<target dev="vda" bus="virtio" />' in xml
    )


def test_domain_xml_logs_the_serial_console() -> None:
    spec = guest_xml.spec_from_instance(instance(), "kvm", None, "/i/u/console.log")
    xml = guest_xml.domain_xml(spec)
    root = ET.fromstring(xml)
    assert root.find("./os/bios").get("useserial") == "yes"  # the firmware writes there too
    log = root.find("./devices/serial/log")
    assert log.attrib == {"file": "/i/u/console.log", "append": "off"}
    assert guest_xml.console_log_path(xml) == "/i/u/console.log"
    moved = guest_xml.with_console_log(xml, "/j/u/console.log")
    assert guest_xml.console_log_path(moved) == "/j/u/console.log"
    assert f'xmlns:nubis="{guest_xml.NAMESPACE}"' in moved
    # libvirt repeats the serial's log on the console that mirrors it: both move.
    mirrored = xml.replace(
        '<console type="pty">', '<console type="pty"><log file="/i/u/console.log" />'
    )
    moved = ET.fromstring(guest_xml.with_console_log(mirrored, "/j/u/console.log"))
    assert {e.get("file") for e in moved.iter("log")} == {"/j/u/console.log"}
    unlogged = guest_xml.domain_xml(guest_xml.spec_from_instance(instance(), "kvm", None))
    assert guest_xml.console_log_path(unlogged) is None
    assert guest_xml.with_console_log(unlogged, "/j/u/console.log") == unlogged


def test_qcow2_overlay_header(tmp_path: Path) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 4096)
    overlay = tmp_path / "disk"
    qcow2.create(str(overlay), 3 * 1024**3, str(base), "raw")
    assert qcow2.image_format(str(overlay)) == "qcow2"
    assert qcow2.image_format(str(base)) == "raw"
    assert qcow2.virtual_size(str(overlay)) == 3 * 1024**3
    assert qcow2.virtual_size(str(base)) == 4096
    data = overlay.read_bytes()
    assert len(data) == 4 * qcow2.CLUSTER_SIZE
    offset, size = struct.unpack_from(">QI", data, 8)
    assert data[offset : offset + size] == os.fsencode(str(base))
    assert b"raw" in data[104:offset]
    with pytest.raises(FileExistsError):
        qcow2.create(str(overlay), 1024, str(base), "raw")
    plain = tmp_path / "plain.qcow2"
    qcow2.create(str(plain), 1024**2)
    assert struct.unpack_from(">Q", plain.read_bytes(), 8) == (0,)


def test_capabilities_parsing_and_cpu_xml() -> None:
    caps = guest_xml.parse_capabilities(
        "<capabilities><host><uuid>u-1</uuid><cpu><arch>x86_64</arch><model>m</model>"
        "<vendor>AMD</vendor><topology sockets='1' dies='1' cores='2' threads='1'/>"
        "<feature name='vmx'/></cpu></host><guest><os_type>hvm</os_type>"
        "<arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest>"
        "</capabilities>"
    )
    assert caps.host_uuid == "u-1"
    assert caps.guests == (("x86_64", "qemu", "hvm"), ("x86_64", "kvm", "hvm"))
    info = json.loads(caps.cpu_info)
    assert info["topology"] == {"sockets": 1, "cores": 2, "threads": 1}
    assert info["features"] == ["vmx"]
    assert '<feature name="vmx" />' in caps.cpu_xml()


@pytest.mark.parametrize(
    ("event", "detail", "expected"),
    [
        (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED, "STARTED"),
        (libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "STOPPED"),
        (
            libvirt.VIR_DOMAIN_EVENT_STOPPED,
            libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED,
            "MIGRATION_COMPLETED",
        ),
        (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, "PAUSED"),
        (libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, "RESUMED"),
        (libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_MIGRATED, None),
        (libvirt.VIR_DOMAIN_EVENT_UNDEFINED, 0, None),
    ],
)
def test_lifecycle_event_mapping(event: int, detail: int, expected: str | None) -> None:
    assert lifecycle_transition(event, detail) == expected


# --- the driver on test:/// -------------------------------------------------------------


def test_test_uri_refuses_live_migration_naming_the_uri(make_driver) -> None:
    drv = make_driver()
    assert drv.has_capability("supports_live_migration") is False
    assert LibvirtDriver.capabilities["supports_live_migration"] is True
    inst = instance()
    for call in (
        lambda: drv.check_can_live_migrate_destination(None, inst, {}, {}),
        lambda: drv.check_can_live_migrate_source(None, inst, {}),
        lambda: drv.pre_live_migration(None, inst, None, None, None, {}),
        lambda: drv.live_migration(None, inst, "h2", print, print),
        lambda: drv.live_migration_abort(inst),
    ):
        with pytest.raises(exception.LiveMigrationNotSupported) as info:
            call()
        assert TEST_URI in str(info.value) and "test driver cannot migrate" in str(info.value)


def test_spawn_on_a_base_image_makes_an_overlay(make_driver, tmp_path: Path) -> None:
    drv = make_driver()
    images = tmp_path / "images"
    images.mkdir()
    (images / "tiny.raw").write_bytes(b"\0" * 65536)
    inst = instance(image_ref="tiny.raw", root_gb=2)
    drv.spawn(None, inst)
    disk = tmp_path / "instances" / inst.uuid / "disk"
    assert qcow2.virtual_size(str(disk)) == 2 * 1024**3
    conn = drv._host.get_connection()
    assert guest_xml.disk_paths(conn.lookupByUUIDString(inst.uuid).XMLDesc(0)) == [str(disk)]
    drv.destroy(None, inst)
    assert not disk.parent.exists()


def test_console_output_is_the_newest_100_kib_of_the_log(make_driver, tmp_path: Path) -> None:
    drv = make_driver()
    assert drv.has_capability("supports_console_output")
    inst = instance()  # diskless: its directory holds the console log only
    drv.spawn(None, inst)
    log = tmp_path / "instances" / inst.uuid / "console.log"
    conn = drv._host.get_connection()
    assert guest_xml.console_log_path(conn.lookupByUUIDString(inst.uuid).XMLDesc(0)) == str(log)
    # The test driver runs nothing: no output yet is an empty answer, not an error.
    assert log.parent.is_dir() and not log.exists()
    assert drv.get_console_output(inst) == ""
    limit = virt_driver.MAX_CONSOLE_BYTES
    lines = [f"line {n:06d}" for n in range(20000)]  # 12 bytes each with the newline
    data = ("\n".join(lines) + "\n").encode() + b"\xe2\x82"  # a cut-off euro sign
    log.write_bytes(data)
    output = drv.get_console_output(inst)
    assert output == data[-limit:].decode("utf-8", errors="replace")
    assert len(output) == limit - 1  # the two undecodable bytes are one replacement
    assert output.endswith("line 019999\n\ufffd") and output.startswith("6\nline 011467\n")
    drv.power_off(inst)
    assert drv.get_console_output(inst) == output  # a stopped guest's log stays readable
    drv.destroy(None, inst)
    assert not log.parent.exists()
    with pytest.raises(exception.InstanceNotFound):
        drv.get_console_output(inst)


def test_spawn_of_a_missing_image_leaves_nothing_behind(make_driver, tmp_path: Path) -> None:
    drv = make_driver()
    inst = instance(image_ref="nope.qcow2")
    with pytest.raises(exception.InstanceSpawnFailure, match="nope.qcow2 does not exist"):
        drv.spawn(None, inst)
    assert not drv.instance_exists(inst)
    assert not (tmp_path / "instances" / inst.uuid).exists()


def test_guests_of_other_tools_are_not_listed(make_driver) -> None:
    drv = make_driver()
    conn = drv._host.get_connection()
    other = conn.defineXML(
        "<domain type='test'><name>not-ours</name><memory unit='MiB'>64</memory>"
        "<os><type>hvm</type></os></domain>"
    )
    inst = instance()
    drv.spawn(None, inst)
    assert drv.list_instances() == [inst.name]
    assert drv.list_instance_uuids() == [inst.uuid]
    drv.destroy(None, inst)
    other.undefine()


def test_virt_type_test_needs_a_test_uri() -> None:
    drv = LibvirtDriver(make_conf(connection_uri="qemu:///system"))
    with pytest.raises(exception.ConfigurationError, match="needs a test:/// connection_uri"):
        drv.init_host("h")


def test_unreachable_libvirt_fails_init_host(tmp_path: Path) -> None:
    uri = f"qemu+unix:///system?socket={tmp_path}/no-such-sock"
    drv = LibvirtDriver(make_conf(virt_type="qemu", connection_uri=uri))
    with pytest.raises(exception.HypervisorUnavailable, match="no-such-sock"):
        drv.init_host("h")


def test_calls_before_init_host_raise_not_ready() -> None:
    with pytest.raises(exception.VirtDriverNotReady):
        LibvirtDriver(make_conf()).list_instances()


# --- losing and regaining the connection --------------------------------------------------


def _wait(predicate: Any, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_lost_connection_is_reported_once_and_reconnected(make_driver, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="nubis.plugins.virt.libvirt")
    drv = make_driver()
    seen: list[events.Event] = []
    drv.register_event_listener(seen.append)
    host = drv._host
    conn = host.get_connection()

    real_open = libvirt.open
    failures = {"left": 3}

    def flaky_open(uri: str) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise libvirt.libvirtError("Failed to connect socket: Connection refused")
        return real_open(uri)

    monkeypatch.setattr(libvirt, "open", flaky_open)
    host._closed(conn, libvirt.VIR_CONNECT_CLOSE_REASON_EOF, None)
    host._closed(conn, libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE, None)  # no second report
    assert not drv.is_hypervisor_available()
    with pytest.raises(exception.HypervisorUnavailable, match="libvirtd closed the connection"):
        drv.list_instances()
    assert _wait(drv.is_hypervisor_available)
    assert drv.list_instances() == []
    # The host marks itself available, then emits the event: wait for the event too.
    assert _wait(lambda: any(getattr(e, "available", False) for e in seen))
    assert drv.flush_events(5)
    status = [e for e in seen if isinstance(e, events.HypervisorStatusEvent)]
    assert [e.available for e in status] == [False, True]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    back = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(errors) == 1 and "lost the connection" in errors[0].getMessage()
    assert len(back) == 1 and "after 4 attempts" in back[0].getMessage()


def test_a_call_on_a_dead_connection_raises_unavailable(make_driver, monkeypatch) -> None:
    drv = make_driver()
    monkeypatch.setattr(Host, "_alive", staticmethod(lambda conn: False))

    def broken(*_a: Any) -> Any:
        raise libvirt.libvirtError("End of file while reading data: Input/output error")

    monkeypatch.setattr(libvirt.virConnect, "listAllDomains", broken)
    with pytest.raises(exception.HypervisorUnavailable, match="End of file"):
        drv.list_instances()
    assert not drv.is_hypervisor_available()
    monkeypatch.undo()
    assert _wait(drv.is_hypervisor_available)
