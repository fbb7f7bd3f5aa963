"""What a virt driver reports about its host: the resource dictionary and its parts.

:meth:`~nubis.core.virt.driver.ComputeDriver.get_available_resource` returns a dict with
exactly the keys of :data:`RESOURCE_KEYS` -- the fields of the ComputeNode record the
resource tracker fills from it:

================== ====== ===============================================================
key                type   meaning
================== ====== ===============================================================
vcpus              int    logical CPUs the node offers guests
memory_mb          int    memory of the node, MiB
local_gb           int    size of the file system holding guests' local disks, GiB
vcpus_used         int    vCPUs of the guests present on the node now
memory_mb_used     int    memory in use on the node now (host and guests), MiB
local_gb_used      int    space used on that file system now, GiB
hypervisor_type    str    e.g. ``"QEMU"``, ``"TEST"``, ``"fake"``
hypervisor_version int    the hypervisor's version as one integer (major*1e6+minor*1e3+rel)
hypervisor_hostname str   the node's name (equals a name from get_available_nodes)
cpu_info           str    JSON of :func:`cpu_info` (arch, model, vendor, topology, features)
disk_available_least int  GiB still free once every guest disk grows to its full size
supported_instances list  ``[[arch, hypervisor_type, vm_mode], ...]`` the node can run
================== ====== ===============================================================

The ``*_used`` values are what the hypervisor sees; the resource tracker computes the
usage it schedules against from instances and migrations itself.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any

GiB = 1024**3

RESOURCE_KEYS = frozenset(
    {
        "vcpus",
        "memory_mb",
        "local_gb",
        "vcpus_used",
        "memory_mb_used",
        "local_gb_used",
        "hypervisor_type",
        "hypervisor_version",
        "hypervisor_hostname",
        "cpu_info",
        "disk_available_least",
        "supported_instances",
    }
)

_INT_KEYS = (
    "vcpus",
    "memory_mb",
    "local_gb",
    "vcpus_used",
    "memory_mb_used",
    "local_gb_used",
    "hypervisor_version",
    "disk_available_least",
)
_STR_KEYS = ("hypervisor_type", "hypervisor_hostname", "cpu_info")


def resource_problems(resources: Mapping[str, Any]) -> list[str]:
    """Return what is wrong with a get_available_resource() result; empty when it is right."""
    problems = []
    keys = set(resources)
    if keys - RESOURCE_KEYS:
        problems.append(f"unexpected keys: {', '.join(sorted(keys - RESOURCE_KEYS))}")
    if RESOURCE_KEYS - keys:
        problems.append(f"missing keys: {', '.join(sorted(RESOURCE_KEYS - keys))}")
    for key in _INT_KEYS:
        value = resources.get(key)
        if key in resources and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{key} must be an int, got {value!r}")
    for key in _STR_KEYS:
        if key in resources and not isinstance(resources[key], str):
            problems.append(f"{key} must be a str, got {resources[key]!r}")
    if "cpu_info" in resources and isinstance(resources["cpu_info"], str):
        try:
            json.loads(resources["cpu_info"])
        except ValueError:
            problems.append("cpu_info is not JSON")
    supported = resources.get("supported_instances", [])
    if not isinstance(supported, list) or not all(
        isinstance(t, list) and len(t) == 3 and all(isinstance(p, str) for p in t)
        for t in supported
    ):
        problems.append(
            f"supported_instances must be a list of [arch, hv_type, vm_mode], got {supported!r}"
        )
    return problems


def cpu_info(
    arch: str,
    model: str | None,
    vendor: str | None,
    sockets: int,
    cores: int,
    threads: int,
    features: Iterable[str] = (),
) -> str:
    """Return the ``cpu_info`` JSON string (keys sorted, features sorted)."""
    return json.dumps(
        {
            "arch": arch,
            "model": model,
            "vendor": vendor,
            "topology": {"sockets": sockets, "cores": cores, "threads": threads},
            "features": sorted(set(features)),
        },
        sort_keys=True,
    )


def disk_usage_gb(path: str) -> tuple[int, int, int]:
    """Return (total, used, free) GiB of the file system holding *path* (rounded down)."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return total // GiB, used // GiB, free // GiB


def host_ip(configured: Any, hostname: str | None = None) -> str:
    """The IP address other hosts reach this one on: *configured* (a driver's
    ``host_ip`` option) when set, else what *hostname* (this machine's name by default)
    resolves to, else ``127.0.0.1``."""
    if configured:
        return str(configured)
    try:
        return socket.gethostbyname(hostname or socket.gethostname())
    except OSError:
        return "127.0.0.1"
