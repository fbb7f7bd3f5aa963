"""Snapshots of libvirt guests (:mod:`nubis.plugins.virt.libvirt.snapshot`) on libvirt's
in-process test driver, with the real ``qemu-img``: the snapshot holds what the guest's
disk holds (its base image through the overlay), stands on its own, leaves the guest as
it was; an unshelved guest's disk is a standalone copy of its shelved image; and the
refusals (no root disk, no qemu-img, a convert that fails)."""

from __future__ import annotations

import os
import subprocess
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception
from nubis.core.virt import disk_image, power_state
from nubis.plugins.virt.libvirt import snapshot as libvirt_snapshot
from nubis.plugins.virt.libvirt.driver import LibvirtDriver
from tests.unit.plugins.virt.libvirt.test_driver import instance, make_conf

MARK = b"nubis base image\n"


@pytest.fixture
def drv(tmp_path: Path) -> Iterator[LibvirtDriver]:
    driver = LibvirtDriver(
        make_conf(instances_path=str(tmp_path / "instances"), images_path=str(tmp_path / "images"))
    )
    driver.init_host("test-host")
    yield driver
    driver.cleanup_host("test-host")


def base_image(drv: LibvirtDriver) -> str:
    image_id = str(uuid.uuid4())
    data = MARK + b"\0" * ((1 << 20) - len(MARK))
    drv.image_store().write(image_id, types.SimpleNamespace(read=_reader(data)))
    return image_id


def _reader(data: bytes) -> Any:
    view = {"at": 0}

    def read(size: int = -1) -> bytes:
        chunk = data[view["at"] : view["at"] + (size if size >= 0 else len(data))]
        view["at"] += len(chunk)
        return chunk

    return read


def same_content(first: str, second: str) -> bool:
    done = subprocess.run(["qemu-img", "compare", first, second], capture_output=True)
    return done.returncode == 0


def steps() -> Any:
    seen: list[tuple[str, str | None]] = []

    def update(task_state: str, expected_state: str | None = None) -> None:
        seen.append((task_state, expected_state))

    update.seen = seen  # type: ignore[attr-defined]
    return update


def test_a_snapshot_is_the_guests_disk_flattened(drv: LibvirtDriver) -> None:
    base = base_image(drv)
    inst = instance(image_ref=base)
    drv.spawn(None, inst)
    image_id = str(uuid.uuid4())
    stored = drv.snapshot(None, inst, image_id, steps())
    path = drv.image_store().path(image_id)
    info = disk_image.inspect(path)
    assert stored.disk_format == info.format == "qcow2" and not info.has_backing_file
    assert stored.size == os.path.getsize(path)
    assert info.virtual_size == 1 << 30  # the overlay's size: the flavor's root disk
    disk = os.path.join(drv._instance_dir(inst.uuid), "disk")
    assert same_content(disk, path)
    assert drv.get_info(inst).state == power_state.RUNNING  # paused and resumed
    drv.destroy(None, inst)


def test_an_unshelved_guest_gets_a_standalone_copy(drv: LibvirtDriver) -> None:
    base = base_image(drv)
    inst = instance(image_ref=base)
    drv.spawn(None, inst)
    shelved = str(uuid.uuid4())
    drv.snapshot(None, inst, shelved, steps())
    drv.destroy(None, inst)
    inst.image_ref = shelved
    inst.system_metadata = {"shelved_image_id": shelved}
    drv.spawn(None, inst)
    disk = os.path.join(drv._instance_dir(inst.uuid), "disk")
    assert not disk_image.inspect(disk).has_backing_file
    assert disk_image.virtual_size(disk) == 1 << 30
    drv.image_store().remove(shelved)  # the unshelve deletes it: the guest keeps its disk
    assert os.path.isfile(disk) and drv.get_info(inst).state == power_state.RUNNING
    # any other spawn makes an overlay on its image
    other = instance(image_ref=base, system_metadata={"shelved_image_id": shelved})
    drv.spawn(None, other)
    assert disk_image.inspect(os.path.join(drv._instance_dir(other.uuid), "disk")).has_backing_file


def test_refusals_leave_no_file(drv: LibvirtDriver, monkeypatch: Any) -> None:
    diskless = instance()
    drv.spawn(None, diskless)
    image_id = str(uuid.uuid4())
    with pytest.raises(exception.InstanceSnapshotFailure, match="no root disk"):
        drv.snapshot(None, diskless, image_id, steps())
    inst = instance(image_ref=base_image(drv))
    drv.spawn(None, inst)
    monkeypatch.setattr(libvirt_snapshot.shutil, "which", lambda _name: None)
    with pytest.raises(exception.SnapshotNotSupported, match="qemu-utils"):
        drv.snapshot(None, inst, image_id, steps())
    monkeypatch.undo()
    os.remove(os.path.join(drv._instance_dir(inst.uuid), "disk"))
    with pytest.raises(exception.InstanceSnapshotFailure):
        drv.snapshot(None, inst, image_id, steps())
    with pytest.raises(exception.InstanceSnapshotFailure, match="qemu-img convert"):
        libvirt_snapshot.convert("/nonexistent/disk", str(drv.image_store().path("x")))
    path = drv.image_store().path(image_id)
    assert not os.path.exists(path) and not os.path.exists(path + ".part")
    assert drv.get_info(inst).state == power_state.RUNNING
