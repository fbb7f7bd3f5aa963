"""The console log of real QEMU guests, through the libvirt driver.

Host A is the machine's libvirtd (qemu:///system), host B a second libvirtd in its own
mount namespace (tests/fixtures/libvirt_hosts.py), each with an instances_path of its
own. Guests are diskless 64 MiB guests: their firmware (SeaBIOS, told to use the
serial port) prints its banner and "No bootable device" to the serial console, which
libvirt logs to the guest's console.log -- real output to read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import migration as lm
from nubis.core.virt import power_state
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from nubis.plugins.virt.libvirt import guest_xml
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from tests.fixtures.libvirt_hosts import SecondLibvirtHost, second_libvirt_host  # noqa: F401
from tests.fixtures.real_servers import libvirt_domain_type, libvirt_uri, wait_until  # noqa: F401

pytestmark = pytest.mark.libvirtd

WAIT = 30.0
BANNER = "SeaBIOS"


def _instances_path(request: pytest.FixtureRequest, name: str) -> str:
    path = tempfile.mkdtemp(prefix=f"nubis-con-{name}-", dir="/var/tmp")
    os.chmod(path, 0o755)  # QEMU runs as libvirt-qemu
    request.addfinalizer(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


class Hosts:
    """The drivers of the test and the guests it started (destroyed on teardown)."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.drivers: list[tuple[LibvirtDriver, str]] = []
        self.guests: list[Any] = []

    def driver(self, host: str, uri: str, inbound: str) -> LibvirtDriver:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        libvirt_conf.register_opts(conf)
        for name, value in {
            "virt_type": libvirt_domain_type(),
            "connection_uri": uri,
            "live_migration_uri": inbound,
            "instances_path": _instances_path(self.request, host),
            "live_migration_progress_interval": 0.2,
        }.items():
            conf.set_override(name, value, group="libvirt")
        drv = LibvirtDriver(conf)
        drv.init_host(host)
        self.drivers.append((drv, host))
        return drv

    def guest(self) -> Any:
        inst = types.SimpleNamespace(
            uuid=str(uuid.uuid4()),
            name=f"nubis-con-{uuid.uuid4().hex[:8]}",
            memory_mb=64,
            vcpus=1,
            root_gb=0,
            image_ref="",
            host="con-a",
            node=None,
            power_state=power_state.NOSTATE,
        )
        self.guests.append(inst)
        return inst

    def close(self) -> None:
        for drv, host in self.drivers:
            for inst in self.guests:
                if drv.instance_exists(inst):
                    drv.destroy(None, inst)
            drv.cleanup_host(host)


@pytest.fixture
def hosts(request: pytest.FixtureRequest, libvirt_uri: str) -> Iterator[Hosts]:  # noqa: F811
    made = Hosts(request)
    try:
        yield made
    finally:
        made.close()


def _shows_banner(drv: LibvirtDriver, inst: Any) -> bool:
    return BANNER in drv.get_console_output(inst)


def test_console_output_of_a_real_guest(hosts: Hosts) -> None:
    drv = hosts.driver("con-a", "qemu:///system", "qemu:///system")
    inst = hosts.guest()
    drv.spawn(None, inst)
    assert wait_until(lambda: _shows_banner(drv, inst), WAIT), drv.get_console_output(inst)
    booting = wait_until(lambda: "Booting from" in drv.get_console_output(inst), WAIT)
    assert booting, drv.get_console_output(inst)
    drv.power_off(inst)
    assert BANNER in drv.get_console_output(inst)  # still readable while it is off
    drv.power_on(None, inst)
    assert wait_until(lambda: _shows_banner(drv, inst), WAIT)
    log = Path(drv.conf.libvirt.instances_path) / inst.uuid / "console.log"
    assert log.is_file()
    drv.destroy(None, inst)
    assert not log.parent.exists()
    with pytest.raises(exception.InstanceNotFound):
        drv.get_console_output(inst)


def test_the_console_log_moves_with_a_live_migration(
    hosts: Hosts,
    second_libvirt_host: SecondLibvirtHost,  # noqa: F811
) -> None:
    second = second_libvirt_host
    src = hosts.driver("con-a", "qemu:///system", second.main_uri_from_here)
    dst = hosts.driver("con-b", second.uri, second.uri)
    inst = hosts.guest()
    src.spawn(None, inst)
    assert wait_until(lambda: _shows_banner(src, inst), WAIT)
    source_dir = Path(src.conf.libvirt.instances_path) / inst.uuid
    dest_dir = Path(dst.conf.libvirt.instances_path) / inst.uuid

    data = dst.check_can_live_migrate_destination(
        None,
        inst,
        src.get_available_resource(src.get_available_nodes()[0]),
        dst.get_available_resource(dst.get_available_nodes()[0]),
    )
    data = src.check_can_live_migrate_source(None, inst, data)
    data = dst.pre_live_migration(None, inst, None, None, None, data)
    calls: list[str] = []
    src.live_migration(
        None,
        inst,
        dst.host_name,
        lambda *args: calls.append("post"),
        lambda *args: calls.append("recover"),
        migrate_data=data,
    )
    assert calls == ["post"], data.get(lm.ERROR)
    dst.post_live_migration_at_destination(None, inst, None)

    conn = dst._host.get_connection()  # the XML the destination keeps
    domain = conn.lookupByUUIDString(inst.uuid)
    for flags in (0, 2):  # running, and persistent (VIR_DOMAIN_XML_INACTIVE)
        path = guest_xml.console_log_path(domain.XMLDesc(flags))
        assert path == str(dest_dir / "console.log"), flags
    assert not source_dir.exists(), "the source kept the guest's directory"
    assert sorted(p.name for p in dest_dir.iterdir()) == ["console.log"]  # marker gone
    assert isinstance(dst.get_console_output(inst), str)
    dst.destroy(None, inst)
    assert not dest_dir.exists()
