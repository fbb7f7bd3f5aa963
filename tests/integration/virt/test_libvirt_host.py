"""The libvirt driver against real libvirtd: overlay disks, and losing libvirtd.

* A guest whose ``image_ref`` names a local base image boots from a qcow2 overlay the
  driver wrote itself (no qemu-img); destroy removes the overlay.
* When the libvirtd a driver talks to goes away the driver reports itself unavailable
  (HypervisorStatusEvent, HypervisorUnavailable from calls) and is available again,
  on its own, once libvirtd is back. The daemon stopped and restarted is a second
  libvirtd (tests/fixtures/libvirt_hosts.py), never the machine's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import events, power_state
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from nubis.plugins.virt.libvirt import qcow2
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from tests.fixtures.libvirt_hosts import (  # noqa: F401
    SecondLibvirtHost,
    second_libvirt_host,
    start_second_host,
    stop_libvirtd,
)
from tests.fixtures.real_servers import libvirt_domain_type

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nubis-lh-", dir="/var/tmp"))
    path.chmod(0o755)  # QEMU runs as libvirt-qemu
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_driver(state_dir: Path) -> Iterator[Any]:
    made: list[LibvirtDriver] = []

    def make(uri: str, **options: Any) -> LibvirtDriver:
        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        libvirt_conf.register_opts(conf)
        values = {
            "virt_type": libvirt_domain_type(),
            "connection_uri": uri,
            "instances_path": str(state_dir / "instances"),
            "images_path": str(state_dir / "images"),
            **options,
        }
        for name, value in values.items():
            conf.set_override(name, value, group="libvirt")
        drv = LibvirtDriver(conf)
        drv.init_host("lh-host")
        made.append(drv)
        return drv

    yield make
    for drv in made:
        drv.cleanup_host("lh-host")


def guest(**fields: Any) -> Any:
    values = dict(
        uuid=str(uuid.uuid4()),
        name=f"nubis-lh-{uuid.uuid4().hex[:8]}",
        memory_mb=64,
        vcpus=1,
        root_gb=1,
        image_ref="",
        host="lh-host",
        node=None,
        power_state=0,
    )
    values.update(fields)
    return types.SimpleNamespace(**values)


def test_guest_boots_from_an_overlay_on_a_local_base_image(
    make_driver: Any, state_dir: Path, libvirt_uri: str
) -> None:
    images = state_dir / "images"
    images.mkdir(mode=0o755)
    base = images / "base.qcow2"
    qcow2.create(str(base), 32 * 1024**2)  # an empty image is enough to start a guest
    drv = make_driver(libvirt_uri)
    inst = guest(image_ref="base.qcow2", root_gb=1)
    drv.spawn(None, inst)
    try:
        assert drv.get_info(inst).state == power_state.RUNNING
        overlay = state_dir / "instances" / inst.uuid / "disk"
        assert qcow2.virtual_size(str(overlay)) == 1024**3
        res = drv.get_available_resource(drv.get_available_nodes()[0])
        assert res["disk_available_least"] < res["local_gb"] - res["local_gb_used"]
    finally:
        drv.destroy(None, inst)
    assert not overlay.parent.exists()
    assert base.exists(), "destroy must never touch the base image"


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_lost_libvirtd_disables_the_driver_until_it_is_back(
    make_driver: Any,
    second_libvirt_host: SecondLibvirtHost,  # noqa: F811
) -> None:
    host = second_libvirt_host
    drv = make_driver(host.uri, reconnect_interval=0.2)
    seen: list[events.Event] = []
    drv.register_event_listener(seen.append)
    assert drv.is_hypervisor_available()

    stop_libvirtd(host)
    lost_at = time.monotonic()
    assert _wait(lambda: not drv.is_hypervisor_available(), 10), "the loss went unnoticed"
    noticed = time.monotonic() - lost_at
    with pytest.raises(exception.HypervisorUnavailable, match=str(host.socket)):
        drv.list_instances()

    start_second_host(host)
    back_at = time.monotonic()
    assert _wait(drv.is_hypervisor_available, 10), "the driver did not reconnect"
    reconnected = time.monotonic() - back_at
    inst = guest(root_gb=0)
    drv.spawn(None, inst)  # usable again, events included
    drv.destroy(None, inst)
    assert drv.flush_events(5)
    status = [e for e in seen if isinstance(e, events.HypervisorStatusEvent)]
    assert [e.available for e in status] == [False, True]
    assert "lost" in status[0].reason and "restored" in status[1].reason
    print(
        f"\nlibvirtd loss noticed after {noticed:.2f}s; reconnected {reconnected:.2f}s "
        "after it was back"
    )
    assert os.path.exists(host.socket)
