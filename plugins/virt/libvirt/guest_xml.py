"""The libvirt domain XML of an instance, and what the driver reads back from XML.

A guest is: ``instance.memory_mb`` MiB, ``instance.vcpus`` vCPUs, ACPI (so that a clean
shutdown can be asked for), a serial console on a pty whose output libvirt logs to the
file ``console_log`` (truncated at each start, as Nova's are; the firmware writes to the
serial console too, so even a diskless guest logs its boot attempt), no memory balloon,
and either no disk (an empty ``image_ref``) or one virtio disk -- the instance's qcow2
overlay. The
domain's metadata carries a ``nubis:instance`` element: that is how the driver tells
its own guests from other guests of the same libvirtd.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from nubis.core.virt import hardware

NAMESPACE = "https://nubis.dev/xmlns/libvirt/instance/1"
PREFIX = "nubis"


@dataclass(frozen=True)
class GuestSpec:
    """What the domain XML is built from."""

    uuid: str
    name: str
    memory_mb: int
    vcpus: int
    domain_type: str  # kvm, qemu or test
    disk_path: str | None = None
    image: str | None = None
    console_log: str | None = None


def spec_from_instance(
    instance: Any, domain_type: str, disk_path: str | None, console_log: str | None = None
) -> GuestSpec:
    """Return the GuestSpec of *instance* (its memory_mb and vcpus must be positive)."""
    memory_mb, vcpus = int(instance.memory_mb or 0), int(instance.vcpus or 0)
    if memory_mb <= 0 or vcpus <= 0:
        raise ValueError(f"memory_mb ({memory_mb}) and vcpus ({vcpus}) must be positive")
    return GuestSpec(
        uuid=str(instance.uuid),
        name=str(instance.name),
        memory_mb=memory_mb,
        vcpus=vcpus,
        domain_type=domain_type,
        disk_path=disk_path,
        image=instance.image_ref or None,
        console_log=console_log,
    )


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def domain_xml(spec: GuestSpec) -> str:
    """Return the domain XML of *spec*."""
    domain = ET.Element("domain", type=spec.domain_type)
    _sub(domain, "name", spec.name)
    _sub(domain, "uuid", spec.uuid)
    metadata = _sub(domain, "metadata")
    marker = ET.SubElement(metadata, f"{{{NAMESPACE}}}instance")
    _sub(marker, f"{{{NAMESPACE}}}name", spec.name)
    if spec.image:
        _sub(marker, f"{{{NAMESPACE}}}image", spec.image)
    _sub(domain, "memory", str(spec.memory_mb), unit="MiB")
    _sub(domain, "vcpu", str(spec.vcpus))
    os_element = _sub(domain, "os")
    _sub(os_element, "type", "hvm")
    _sub(os_element, "boot", dev="hd")
    _sub(os_element, "bios", useserial="yes")
    features = _sub(domain, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    if spec.disk_path:
        disk = _sub(devices, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type="qcow2")
        _sub(disk, "source", file=spec.disk_path)
        _sub(disk, "target", dev="vda", bus="virtio")
    serial = _sub(devices, "serial", type="pty")
    if spec.console_log:
        _sub(serial, "log", file=spec.console_log, append="off")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    _sub(devices, "memballoon", model="none")
    ET.register_namespace(PREFIX, NAMESPACE)
    return ET.tostring(domain, encoding="unicode")


_CONSOLE_LOGS = ("./devices/serial/log", "./devices/console/log")


def console_log_path(xml: str) -> str | None:
    """Return the file libvirt logs the serial console of domain *xml* to, or None
    (a guest defined without a console log)."""
    root = ET.fromstring(xml)
    for path in _CONSOLE_LOGS:
        log = root.find(path)
        if log is not None and log.get("file"):
            return str(log.get("file"))
    return None


def with_console_log(xml: str, path: str) -> str:
    """Return domain *xml* with its console logged to *path* instead (libvirt repeats
    the serial's log on the ``<console>`` that mirrors it); *xml* itself when it has
    no console log."""
    root = ET.fromstring(xml)
    logs = [log for where in _CONSOLE_LOGS for log in root.findall(where) if log.get("file")]
    if not logs:
        return xml
    for log in logs:
        log.set("file", path)
    ET.register_namespace(PREFIX, NAMESPACE)
    return ET.tostring(root, encoding="unicode")


def disk_paths(xml: str) -> list[str]:
    """Return the source files of the ``<disk device='disk'>`` elements of domain *xml*."""
    root = ET.fromstring(xml)
    paths = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        if source is not None and source.get("file"):
            paths.append(str(source.get("file")))
    return paths


@dataclass(frozen=True)
class HostCapabilities:
    """What the driver uses of libvirt's capabilities XML."""

    host_uuid: str
    arch: str
    cpu_info: str  # hardware.cpu_info JSON
    guests: tuple[tuple[str, str, str], ...]  # (arch, domain type, os type)

    def domain_types(self) -> set[str]:
        return {g[1] for g in self.guests}

    def cpu_xml(self) -> str:
        """The host CPU as ``<cpu>`` XML, for virConnectCompareCPU on another host."""
        return cpu_xml_from_info(self.cpu_info)


def parse_capabilities(xml: str) -> HostCapabilities:
    """Parse libvirt's capabilities XML."""
    root = ET.fromstring(xml)
    cpu = root.find("./host/cpu")
    arch = (cpu.findtext("arch") if cpu is not None else None) or "unknown"
    topology = cpu.find("topology") if cpu is not None else None

    def topo(name: str) -> int:
        value = topology.get(name) if topology is not None else None
        return int(value) if value and value.isdigit() else 1

    features = [f.get("name", "") for f in cpu.findall("feature")] if cpu is not None else []
    info = hardware.cpu_info(
        arch,
        cpu.findtext("model") if cpu is not None else None,
        cpu.findtext("vendor") if cpu is not None else None,
        topo("sockets"),
        topo("cores"),
        topo("threads"),
        [f for f in features if f],
    )
    guests = []
    for guest in root.findall("guest"):
        os_type = guest.findtext("os_type") or "hvm"
        arch_element = guest.find("arch")
        if arch_element is None:
            continue
        for dom in arch_element.findall("domain"):
            guests.append((arch_element.get("name", arch), dom.get("type", ""), os_type))
    return HostCapabilities(
        host_uuid=root.findtext("./host/uuid") or "",
        arch=arch,
        cpu_info=info,
        guests=tuple(dict.fromkeys(guests)),
    )


def cpu_xml_from_info(cpu_info: str) -> str:
    """Return ``<cpu>`` XML describing the CPU of a ``cpu_info`` JSON string."""
    info = json.loads(cpu_info)
    cpu = ET.Element("cpu")
    _sub(cpu, "arch", str(info.get("arch") or ""))
    if info.get("model"):
        _sub(cpu, "model", str(info["model"]))
    if info.get("vendor"):
        _sub(cpu, "vendor", str(info["vendor"]))
    topology = info.get("topology") or {}
    _sub(
        cpu,
        "topology",
        sockets=str(topology.get("sockets", 1)),
        cores=str(topology.get("cores", 1)),
        threads=str(topology.get("threads", 1)),
    )
    for feature in info.get("features") or []:
        _sub(cpu, "feature", name=str(feature))
    return ET.tostring(cpu, encoding="unicode")
