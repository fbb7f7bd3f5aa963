"""The snapshot part of the virt driver contract (``supports_snapshot``).

A guest spawned from a base image put in the driver's image store (``image_store()``)
is snapshotted running and stopped: snapshot() reports the two steps in order, writes
``<image store>/<image id>`` -- a standalone image (no backing file), mode 0640, no
``.part`` file left -- and returns what the store computed, which must match the file
(size, MD5, SHA-512, format). The guest is left in the power state it had; a guest
spawned from the snapshot runs. An unknown guest raises InstanceNotFound and a step
that raises stops the snapshot with no file written. A driver without the capability
must refuse with SnapshotNotSupported.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import exception
from nubis.core.conformance import harness
from nubis.core.conformance.suites.virt.fixtures import Harness
from nubis.core.virt import disk_image, power_state
from nubis.core.virt import driver as virt_driver

CTX = None  # drivers may ignore the request context
BASE_BYTES = 1 << 20


class Steps:
    """An ``update_task_state`` that records the steps, optionally raising at one."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.fail_at = fail_at

    def __call__(self, task_state: str, expected_state: str | None = None) -> None:
        self.seen.append((task_state, expected_state))
        if task_state == self.fail_at:
            raise exception.UnexpectedTaskStateError(
                instance_uuid="conformance", expected=expected_state, actual="deleting"
            )


@pytest.fixture
def store_images(nubis_virt: Harness) -> Iterator[list[str]]:
    """Ids of images this test put in (or had written to) the driver's image store;
    their files are removed afterwards."""
    made: list[str] = []
    yield made
    if made:
        store = nubis_virt.driver.image_store()
        for image_id in made:
            store.remove(image_id)


def _base_image(drv: Any, made: list[str]) -> str:
    """A raw base image of BASE_BYTES in the driver's image store; its id."""
    image_id = str(uuid.uuid4())
    made.append(image_id)
    drv.image_store().write(image_id, _Zeros(BASE_BYTES))
    return image_id


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1) -> bytes:
        n = self.left if size < 0 else min(size, self.left)
        self.left -= n
        return b"\0" * n


def _check_written(drv: Any, image_id: str, stored: Any) -> None:
    path = drv.image_store().path(image_id)
    assert os.path.isfile(path), f"snapshot(): expected the file {path}, observed none"
    assert not os.path.exists(path + ".part"), "snapshot() left its .part file behind"
    assert os.stat(path).st_mode & 0o777 == 0o640, (
        f"snapshot(): expected mode 0640 for {path}, observed {os.stat(path).st_mode & 0o777:o}"
    )
    data = open(path, "rb").read()
    assert stored.size == len(data), (
        f"snapshot() returned size {stored.size}, the file has {len(data)} bytes"
    )
    assert stored.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert stored.os_hash_value == hashlib.sha512(data).hexdigest()
    info = disk_image.inspect(path)
    assert stored.disk_format == info.format
    assert not info.has_backing_file, "snapshot(): the image must stand on its own"


@pytest.mark.nubis_capability("supports_snapshot")
def test_snapshot_of_running_and_stopped_guests(
    nubis_virt: Harness, store_images: list[str]
) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_snapshot")
    base = _base_image(drv, store_images)
    inst = nubis_virt.instance(image_ref=base, root_gb=0)
    drv.spawn(CTX, inst)
    for wanted in ("running", "shutdown"):
        if wanted == "shutdown":
            drv.power_off(inst)
        image_id = str(uuid.uuid4())
        store_images.append(image_id)
        steps = Steps()
        stored = drv.snapshot(CTX, inst, image_id, steps)
        assert steps.seen == [
            (virt_driver.SNAPSHOT_PENDING_UPLOAD, None),
            (virt_driver.SNAPSHOT_UPLOADING, virt_driver.SNAPSHOT_PENDING_UPLOAD),
        ], f"snapshot() of a {wanted} guest reported steps {steps.seen}"
        _check_written(drv, image_id, stored)
        observed = power_state.name(drv.get_info(inst).state)
        assert observed == wanted, (
            f"snapshot() of a {wanted} guest must leave it {wanted}, observed {observed}"
        )
    # a guest spawned from the snapshot runs
    child = nubis_virt.instance(image_ref=store_images[-1])
    drv.spawn(CTX, child)
    assert power_state.name(drv.get_info(child).state) == "running"
    drv.destroy(CTX, child)
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_snapshot")
def test_snapshot_stopped_by_a_step_writes_nothing(
    nubis_virt: Harness, store_images: list[str]
) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_snapshot")
    inst = nubis_virt.instance(image_ref=_base_image(drv, store_images))
    drv.spawn(CTX, inst)
    image_id = str(uuid.uuid4())
    store_images.append(image_id)
    for step in (virt_driver.SNAPSHOT_PENDING_UPLOAD, virt_driver.SNAPSHOT_UPLOADING):
        with pytest.raises(exception.UnexpectedTaskStateError):
            drv.snapshot(CTX, inst, image_id, Steps(fail_at=step))
        path = drv.image_store().path(image_id)
        assert not os.path.exists(path) and not os.path.exists(path + ".part"), (
            f"snapshot() stopped at step {step} left a file behind"
        )
    assert power_state.name(drv.get_info(inst).state) == "running"
    drv.destroy(CTX, inst)


@pytest.mark.nubis_capability("supports_snapshot")
def test_snapshot_of_an_unknown_guest(nubis_virt: Harness, store_images: list[str]) -> None:
    drv = nubis_virt.driver
    nubis_virt.require(drv, "supports_snapshot")
    ghost = nubis_virt.instance(image_ref=_base_image(drv, store_images))
    image_id = str(uuid.uuid4())
    store_images.append(image_id)
    with pytest.raises(exception.InstanceNotFound):
        drv.snapshot(CTX, ghost, image_id, Steps())
    assert not os.path.exists(drv.image_store().path(image_id))


def test_undeclared_snapshot_is_refused_honestly(nubis_virt: Harness) -> None:
    drv = nubis_virt.driver
    if drv.has_capability("supports_snapshot"):
        harness.skip(harness.NOT_APPLICABLE, f"{nubis_virt.label} has supports_snapshot")
    inst = nubis_virt.instance()
    with pytest.raises(exception.SnapshotNotSupported):
        drv.snapshot(CTX, inst, str(uuid.uuid4()), Steps())
    with pytest.raises(exception.SnapshotNotSupported):
        drv.image_store()
