"""Snapshots of libvirt guests: :class:`LibvirtSnapshots`, a mixin of LibvirtDriver.

A guest's root disk is a qcow2 overlay ``<instances_path>/<uuid>/disk`` on a base image
of the image store (:mod:`.instance_files`, made by spawn on every domain type, the
``test`` one included). A snapshot is that disk flattened into a standalone qcow2 image
-- ``qemu-img convert -O qcow2`` reads through the backing chain -- written straight
into the image store's ``.part`` file (:meth:`nubis.core.images.store.Store.write_produced`:
hashed, checked and renamed into place, nothing left behind on failure).

A running guest is paused while its disk is read, so the copy is consistent with what
the guest had written, and resumed afterwards; a paused, suspended or stopped guest is
left as it is. ``-U`` (force share) lets qemu-img read a disk a running QEMU holds
locked. A guest without a root disk (built without an image) has nothing to snapshot.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Any

import libvirt

from nubis.core import exception
from nubis.core.images.store import Store, Stored
from nubis.core.virt import power_state, snapshot
from nubis.plugins.virt.libvirt import instance_files as files
from nubis.plugins.virt.libvirt import qcow2

LOG = logging.getLogger(__name__)

#: The ``system_metadata`` key naming a shelved instance's image (Nova's).
SHELVED_IMAGE_ID = "shelved_image_id"

#: Seconds ``qemu-img convert`` may take before the snapshot is given up (a disk of
#: hundreds of GiB on slow storage still fits).
CONVERT_TIMEOUT = 3600


def qemu_img() -> str:
    """The path of ``qemu-img``; SnapshotNotSupported naming the package when absent."""
    found = shutil.which("qemu-img")
    if found is None:
        raise exception.SnapshotNotSupported(
            driver="libvirt", reason="qemu-img is not installed (Debian: qemu-utils)"
        )
    return found


def convert(
    source: str, target: str, source_format: str = "qcow2", timeout: float = CONVERT_TIMEOUT
) -> None:
    """Write *source* (with its backing chain) to *target* as a standalone qcow2 image;
    InstanceSnapshotFailure with qemu-img's message when it fails or times out."""
    command = [qemu_img(), "convert", "-U", "-f", source_format, "-O", "qcow2", source, target]
    _run(command, source, timeout)


def _run(command: list[str], source: str, timeout: float) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)
    except subprocess.CalledProcessError as exc:
        message = " ".join(exc.stderr.decode(errors="replace").split()) or f"exit {exc.returncode}"
        raise exception.InstanceSnapshotFailure(
            instance_uuid=os.path.basename(os.path.dirname(source)),
            reason=f"qemu-img {command[1]} of {source}: {message}",
        ) from None
    except subprocess.TimeoutExpired:
        raise exception.InstanceSnapshotFailure(
            instance_uuid=os.path.basename(os.path.dirname(source)),
            reason=f"qemu-img {command[1]} of {source} took more than {timeout:g} s",
        ) from None


class LibvirtSnapshots:
    """Mixin of :class:`~.driver.LibvirtDriver` (which provides ``_domain``,
    ``_state``, ``_guard``, ``_opts`` and ``_instance_dir``): ``supports_snapshot``,
    and the root disk spawn makes."""

    def _root_disk(self, instance: Any, base: str, disk: str, size: int) -> None:
        """Make the root disk *disk* (*size* bytes at least) of *instance* from base
        image *base*: a qcow2 overlay on it -- or, when *base* is the instance's shelved
        image (an unshelve: the image is deleted once the guest runs), a standalone
        copy, so that the disk does not depend on that file."""
        metadata = getattr(instance, "system_metadata", None) or {}
        shelved = metadata.get(SHELVED_IMAGE_ID)
        if not shelved or shelved != instance.image_ref:
            qcow2.create(disk, size, base, qcow2.image_format(base))
            return
        convert(base, disk, source_format=qcow2.image_format(base))
        if qcow2.virtual_size(disk) < size:
            _run([qemu_img(), "resize", "-f", "qcow2", disk, str(size)], disk, CONVERT_TIMEOUT)

    def image_store(self) -> Store:
        driver: Any = self
        return Store(str(driver._opts.images_path))

    def snapshot(
        self, context: Any, instance: Any, image_id: str, update_task_state: Any
    ) -> Stored:
        driver: Any = self
        conn, dom = driver._domain(instance)
        disk = os.path.join(driver._instance_dir(instance.uuid), files.DISK)
        if not os.path.isfile(disk):
            raise exception.InstanceSnapshotFailure(
                instance_uuid=instance.uuid,
                reason="the guest has no root disk (it was built without an image)",
            )
        qemu_img()  # before any step is reported

        def produce(path: str) -> None:
            paused = False
            if driver._state(conn, dom) == power_state.RUNNING:
                with driver._guard(conn):
                    dom.suspend()
                paused = True
            try:
                convert(disk, path)
            finally:
                if paused:
                    with driver._guard(conn):
                        try:
                            dom.resume()
                        except libvirt.libvirtError:
                            LOG.exception("resuming %s after its snapshot failed", instance.uuid)
                            raise

        stored = snapshot.write_image(
            self.image_store(),
            image_id,
            update_task_state,
            produce=produce,
            expected_format="qcow2",
            label=f"the snapshot of {instance.uuid}",
        )
        LOG.info(
            "snapshot of %s written as image %s (%d bytes)", instance.uuid, image_id, stored.size
        )
        return stored
