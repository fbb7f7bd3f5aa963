"""What the libvirt driver reports of its host's resources beyond libvirt's own
figures: memory as /proc/meminfo sees it, and the disk space the instances' overlays
may still claim."""

from __future__ import annotations

import os
from typing import Any

import libvirt

from nubis.plugins.virt.libvirt import qcow2

GiB = 1024**3


def memory_mb(conn: libvirt.virConnect, info: list[Any]) -> tuple[int, int]:
    """Return (total, used) MiB: /proc/meminfo's view where libvirt offers it, else the
    node's memory (``info`` is ``conn.getInfo()``) and what the running guests use."""
    try:
        stats = conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
    except libvirt.libvirtError:
        stats = {}
    if stats.get("total"):
        free = stats.get("free", 0) + stats.get("buffers", 0) + stats.get("cached", 0)
        return int(stats["total"]) // 1024, (int(stats["total"]) - int(free)) // 1024
    total = int(info[1])
    used = 0
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        try:
            used += int(dom.info()[2]) // 1024
        except libvirt.libvirtError:
            pass
    return total, used


def existing_ancestor(path: str) -> str:
    """*path*, or its nearest ancestor that exists (the file system to measure)."""
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def overcommitted_gb(instances_path: str) -> int:
    """GiB the overlays in *instances_path* may still grow by (virtual - allocated)."""
    grow = 0
    try:
        entries = os.listdir(instances_path)
    except OSError:
        return 0
    for entry in entries:
        disk = os.path.join(instances_path, entry, "disk")
        try:
            grow += max(0, qcow2.virtual_size(disk) - os.stat(disk).st_blocks * 512)
        except OSError:
            continue
    return -(-grow // GiB)
