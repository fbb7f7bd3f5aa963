"""Rescue of libvirt guests: :class:`LibvirtRescue`, a mixin of LibvirtDriver
(``supports_rescue``), as Nova's libvirt driver rescues.

A rescue keeps the guest's own persistent definition in ``unrescue.xml`` in its
directory (:mod:`.instance_files`), makes the rescue disk ``disk.rescue`` -- a qcow2
overlay of the rescue image, as the root disk is one of the instance's image -- and
redefines the domain (same name, same uuid) from its own definition with the rescue
disk first (``vda``, the boot disk) and its own disks after it (``vdb``, ...), marked
with a ``nubis:rescue`` element in the nubis metadata; then starts it. Everything else
of the definition -- memory, vCPUs, the logged serial console -- stays. Unrescue stops
the rescue guest, redefines the domain from ``unrescue.xml``, starts it and deletes the
two files. destroy() removes them with the guest's directory.

Works on every connection, ``test:///`` included (libvirt's test driver defines,
redefines and starts domains without opening their disks).
"""

from __future__ import annotations

import contextlib
import logging
import os
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from nubis.core import exception
from nubis.core.virt import power_state
from nubis.plugins.virt.libvirt import guest_xml, qcow2
from nubis.plugins.virt.libvirt import instance_files as files
from nubis.plugins.virt.libvirt.host import error_code

LOG = logging.getLogger(__name__)

GiB = 1024**3
#: The guest's own definition while it is rescued, and the rescue disk.
UNRESCUE_XML = "unrescue.xml"
RESCUE_DISK = "disk.rescue"
_RESCUE = f"{{{guest_xml.NAMESPACE}}}rescue"
_MARKER = f"./metadata/{{{guest_xml.NAMESPACE}}}instance"


def _target_names(count: int) -> list[str]:
    """``vda``, ``vdb``, ... for *count* disks (at most 26: a guest has a handful)."""
    if count > 26:
        raise ValueError(f"a rescue guest cannot have {count} disks")
    return [f"vd{chr(ord('a') + index)}" for index in range(count)]


def rescue_xml(own_xml: str, rescue_disk: str | None, rescue_image: str) -> str:
    """The domain XML of the rescue guest of the guest defined by *own_xml*: the rescue
    disk *rescue_disk* (None: none) first, the guest's own disks after it, retargeted
    ``vda``, ``vdb``, ... in that order, and the ``nubis:rescue`` mark naming
    *rescue_image*."""
    root = ET.fromstring(own_xml)
    devices = root.find("devices")
    if devices is None:
        devices = ET.SubElement(root, "devices")
    own_disks = [d for d in devices.findall("disk") if d.get("device", "disk") == "disk"]
    disks = list(own_disks)
    if rescue_disk is not None:
        disk = ET.Element("disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type="qcow2")
        ET.SubElement(disk, "source", file=rescue_disk)
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
        children = list(devices)
        devices.insert(children.index(own_disks[0]) if own_disks else 0, disk)
        disks.insert(0, disk)
    for disk, name in zip(disks, _target_names(len(disks)), strict=True):
        target = disk.find("target")
        if target is None:
            target = ET.SubElement(disk, "target", bus="virtio")
        target.set("dev", name)
        for address in disk.findall("address"):  # libvirt assigns new ones
            disk.remove(address)
    marker = root.find(_MARKER)
    if marker is None:
        raise ValueError("the domain has no nubis metadata: not a nubis guest")
    for old in marker.findall(_RESCUE):
        marker.remove(old)
    ET.SubElement(marker, _RESCUE, image=rescue_image)
    ET.register_namespace(guest_xml.PREFIX, guest_xml.NAMESPACE)
    return ET.tostring(root, encoding="unicode")


def is_rescue_xml(xml: str) -> bool:
    """Whether domain *xml* is a rescue guest's (:func:`rescue_xml` marked it)."""
    marker = ET.fromstring(xml).find(_MARKER)
    return marker is not None and marker.find(_RESCUE) is not None


def _write_atomically(path: str, text: str) -> None:
    partial = f"{path}.part"
    with open(partial, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


class LibvirtRescue:
    """Mixin of :class:`~.driver.LibvirtDriver` (which provides ``_domain``,
    ``_state``, ``_guard``, ``_opts``, ``_instance_dir`` and ``_base_image``): see the
    module docstring."""

    def rescue(self, context: Any, instance: Any, rescue_image_ref: str | None) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        instance_dir = files.make_dir(driver._opts.instances_path, instance.uuid)
        kept = os.path.join(instance_dir, UNRESCUE_XML)
        disk_path = os.path.join(instance_dir, RESCUE_DISK)
        with driver._guard(conn):
            current = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        if is_rescue_xml(current) and os.path.isfile(kept):
            with open(kept, encoding="utf-8") as f:
                own = f.read()  # rescued again: the first rescue kept the guest's own
        else:
            own = current
            _write_atomically(kept, own)
        disk = None
        try:
            with driver._guard(conn):
                if dom.isActive():
                    dom.destroy()
                if dom.hasManagedSaveImage(0):
                    dom.managedSaveRemove(0)
            _remove(disk_path)  # a previous rescue's: every rescue starts afresh
            if rescue_image_ref:
                base = driver._base_image(rescue_image_ref)
                size = max(qcow2.virtual_size(base), int(instance.root_gb or 0) * GiB)
                qcow2.create(disk_path, size, base, qcow2.image_format(base))
                disk = disk_path
            xml = rescue_xml(own, disk, rescue_image_ref or "")
            with driver._guard(conn):
                dom = conn.defineXML(xml)
                dom.create()
        except exception.HypervisorUnavailable:
            raise
        except Exception:
            self._give_back(conn, own, kept, disk_path)
            raise
        LOG.info(
            "rescued %s from image %s on %s",
            instance.uuid,
            rescue_image_ref or "none",
            driver.uri,
        )

    def _give_back(self, conn: libvirt.virConnect, own: str, kept: str, disk_path: str) -> None:
        """After a failed rescue: the guest's own definition again (off), no rescue files."""
        driver: Any = self
        try:
            with driver._guard(conn):
                dom = conn.defineXML(own)
                if dom.isActive():
                    dom.destroy()
        except Exception:  # the rescue's own error is the one to report
            LOG.exception("could not give a guest its own definition back after a failed rescue")
            return
        _remove(kept, disk_path)

    def unrescue(self, context: Any, instance: Any) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        instance_dir = driver._instance_dir(instance.uuid)
        kept = os.path.join(instance_dir, UNRESCUE_XML)
        try:
            with open(kept, encoding="utf-8") as f:
                own: str | None = f.read()
        except FileNotFoundError:
            own = None  # not rescued (or unrescued already): only start it
        with driver._guard(conn):
            if own is not None:
                if dom.isActive():
                    dom.destroy()
                dom = conn.defineXML(own)
        state = driver._state(conn, dom)
        with driver._guard(conn):
            if state == power_state.PAUSED:
                dom.resume()
            elif state != power_state.RUNNING:
                try:
                    dom.create()
                except libvirt.libvirtError as exc:
                    if error_code(exc) != libvirt.VIR_ERR_OPERATION_INVALID:  # running now
                        raise
        _remove(kept, os.path.join(instance_dir, RESCUE_DISK))
        LOG.info("unrescued %s on %s", instance.uuid, driver.uri)
