"""What a virt driver reports of one guest for ``GET /servers/{id}/diagnostics``.

:meth:`~nubis.core.virt.driver.ComputeDriver.get_diagnostics` returns a
:class:`Diagnostics`: Nova's standard diagnostics model (microversion 2.48) -- the
guest's power state, which driver and hypervisor run it, its uptime, and the details of
its vCPUs, memory, disks and NICs -- plus what the older free-form answer of Nova's
libvirt driver shows and the standard model has no field for (device names, the
hypervisor's raw memory statistics). A field the driver cannot tell is None.

It crosses the compute RPC API as a plain dict (:meth:`Diagnostics.to_primitive`, and
back with :meth:`Diagnostics.from_primitive`); the REST API renders it with
:meth:`Diagnostics.standard_view` from 2.48 and :meth:`Diagnostics.legacy_view` before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nubis.core.virt import power_state

__all__ = [
    "DETAIL_FIELDS",
    "DRIVERS",
    "STANDARD_FIELDS",
    "CpuDiagnostics",
    "Diagnostics",
    "DiskDiagnostics",
    "MemoryDiagnostics",
    "NicDiagnostics",
]

#: The values of ``driver`` (Nova's HypervisorDriver enum, which the 2.48 response
#: schema enforces): a driver names the one its guests are modelled on.
DRIVERS = ("libvirt", "xenapi", "vmwareapi", "ironic", "hyperv")


@dataclasses.dataclass(frozen=True)
class CpuDiagnostics:
    """One vCPU: its index, the CPU time it used (ns) and its utilisation (%)."""

    id: int | None = None
    time: int | None = None
    utilisation: int | None = None


@dataclasses.dataclass(frozen=True)
class NicDiagnostics:
    """One NIC's counters since the guest started (``name``: its host-side device)."""

    mac_address: str | None = None
    rx_octets: int | None = None
    rx_errors: int | None = None
    rx_drop: int | None = None
    rx_packets: int | None = None
    rx_rate: int | None = None
    tx_octets: int | None = None
    tx_errors: int | None = None
    tx_drop: int | None = None
    tx_packets: int | None = None
    tx_rate: int | None = None
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class DiskDiagnostics:
    """One disk's I/O counters since the guest started (``name``: its target, ``vda``)."""

    read_bytes: int | None = None
    read_requests: int | None = None
    write_bytes: int | None = None
    write_requests: int | None = None
    errors_count: int | None = None
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class MemoryDiagnostics:
    """The guest's memory in MiB: what it was given and what it uses."""

    maximum: int | None = None
    used: int | None = None


#: The scalar fields of the 2.48 view (the API's response schema requires each).
STANDARD_FIELDS = (
    "state",
    "driver",
    "hypervisor",
    "hypervisor_os",
    "uptime",
    "config_drive",
    "num_cpus",
    "num_nics",
    "num_disks",
)
#: The list fields of the 2.48 view and the keys each item of them shows.
DETAIL_FIELDS = {
    "cpu_details": ("id", "time", "utilisation"),
    "nic_details": tuple(f.name for f in dataclasses.fields(NicDiagnostics))[:-1],
    "disk_details": tuple(f.name for f in dataclasses.fields(DiskDiagnostics))[:-1],
}
_ITEM_CLASSES: dict[str, type] = {
    "cpu_details": CpuDiagnostics,
    "nic_details": NicDiagnostics,
    "disk_details": DiskDiagnostics,
}


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """The diagnostics of one guest; see the module docstring.

    ``state`` is a power-state name (:data:`nubis.core.virt.power_state.STATE_MAP`),
    ``driver`` one of :data:`DRIVERS`, ``uptime`` seconds since the guest was started
    (None: unknown). ``memory_stats`` are the hypervisor's raw memory statistics (KiB,
    by its names: ``actual``, ``rss``, ...), shown only by the legacy view.
    Raises ValueError for a state or driver outside those lists.
    """

    state: str
    driver: str
    hypervisor: str | None = None
    hypervisor_os: str | None = None
    uptime: int | None = None
    config_drive: bool = False
    cpu_details: tuple[CpuDiagnostics, ...] = ()
    nic_details: tuple[NicDiagnostics, ...] = ()
    disk_details: tuple[DiskDiagnostics, ...] = ()
    memory_details: MemoryDiagnostics = MemoryDiagnostics()
    memory_stats: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in power_state.STATE_MAP.values():
            known = ", ".join(power_state.STATE_MAP.values())
            raise ValueError(f"diagnostics state {self.state!r} is not one of {known}")
        if self.driver not in DRIVERS:
            raise ValueError(
                f"diagnostics driver {self.driver!r} is not one of {', '.join(DRIVERS)}"
            )

    @property
    def num_cpus(self) -> int:
        return len(self.cpu_details)

    @property
    def num_nics(self) -> int:
        return len(self.nic_details)

    @property
    def num_disks(self) -> int:
        return len(self.disk_details)

    # --- over the wire -----------------------------------------------------------------

    def to_primitive(self) -> dict[str, Any]:
        """This model as a dict of JSON types (what the compute RPC API carries)."""
        return {
            "state": self.state,
            "driver": self.driver,
            "hypervisor": self.hypervisor,
            "hypervisor_os": self.hypervisor_os,
            "uptime": self.uptime,
            "config_drive": self.config_drive,
            **{
                key: [dataclasses.asdict(item) for item in getattr(self, key)]
                for key in _ITEM_CLASSES
            },
            "memory_details": dataclasses.asdict(self.memory_details),
            "memory_stats": dict(self.memory_stats),
        }

    @classmethod
    def from_primitive(cls, data: Mapping[str, Any]) -> Diagnostics:
        """The model :meth:`to_primitive` made *data* from (ValueError when it is not one)."""
        try:
            items = {
                key: tuple(item_cls(**item) for item in data.get(key) or ())
                for key, item_cls in _ITEM_CLASSES.items()
            }
            return cls(
                state=data["state"],
                driver=data["driver"],
                hypervisor=data.get("hypervisor"),
                hypervisor_os=data.get("hypervisor_os"),
                uptime=data.get("uptime"),
                config_drive=bool(data.get("config_drive")),
                memory_details=MemoryDiagnostics(**(data.get("memory_details") or {})),
                memory_stats=dict(data.get("memory_stats") or {}),
                **items,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a diagnostics primitive: {exc}") from exc

    # --- what the REST API shows -----------------------------------------------------------

    def standard_view(self) -> dict[str, Any]:
        """Nova's diagnostics body from microversion 2.48: every field of the model,
        None where unknown, and nothing else."""
        view: dict[str, Any] = {name: getattr(self, name) for name in STANDARD_FIELDS}
        for key, names in DETAIL_FIELDS.items():
            view[key] = [{n: getattr(item, n) for n in names} for item in getattr(self, key)]
        view["memory_details"] = {
            "maximum": self.memory_details.maximum,
            "used": self.memory_details.used,
        }
        return view

    def legacy_view(self) -> dict[str, Any]:
        """The free-form body before 2.48, keyed as Nova's libvirt driver keys it:
        ``cpu0_time``, ``vda_read``/``_read_req``/``_write``/``_write_req``/``_errors``,
        ``<nic>_rx``/``_rx_packets``/... ``_tx_drop``, ``memory`` (KiB) and
        ``memory-<statistic>``. Unknown counters are left out."""
        view: dict[str, Any] = {}
        for cpu in self.cpu_details:
            if cpu.id is not None and cpu.time is not None:
                view[f"cpu{cpu.id}_time"] = cpu.time
        for number, disk in enumerate(self.disk_details):
            prefix = disk.name or f"disk{number}"
            _put(view, f"{prefix}_read_req", disk.read_requests)
            _put(view, f"{prefix}_read", disk.read_bytes)
            _put(view, f"{prefix}_write_req", disk.write_requests)
            _put(view, f"{prefix}_write", disk.write_bytes)
            _put(view, f"{prefix}_errors", disk.errors_count)
        for number, nic in enumerate(self.nic_details):
            prefix = nic.name or f"nic{number}"
            _put(view, f"{prefix}_rx", nic.rx_octets)
            _put(view, f"{prefix}_rx_packets", nic.rx_packets)
            _put(view, f"{prefix}_rx_errors", nic.rx_errors)
            _put(view, f"{prefix}_rx_drop", nic.rx_drop)
            _put(view, f"{prefix}_tx", nic.tx_octets)
            _put(view, f"{prefix}_tx_packets", nic.tx_packets)
            _put(view, f"{prefix}_tx_errors", nic.tx_errors)
            _put(view, f"{prefix}_tx_drop", nic.tx_drop)
        if self.memory_details.maximum is not None:
            view["memory"] = self.memory_details.maximum * 1024
        for name, value in self.memory_stats.items():
            view[f"memory-{name}"] = value
        return view


def _put(view: dict[str, Any], key: str, value: int | None) -> None:
    if value is not None:
        view[key] = value
