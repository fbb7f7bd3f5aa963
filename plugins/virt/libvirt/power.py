"""Pause, suspend, diagnostics and the host's uptime of the libvirt driver:
:class:`LibvirtPower`, a mixin of LibvirtDriver (capabilities :data:`CAPABILITIES`).

* pause / unpause are ``virDomainSuspend`` / ``virDomainResume``: the guest's vCPUs
  stop, its memory stays in QEMU;
* suspend is a managed save (``virDomainManagedSave`` with ``SAVE_RUNNING``, so that
  the restore runs the guest even when it was paused): libvirt writes the guest's memory
  next to its definition and the domain is shut off -- its power state reads SHUTDOWN,
  as in Nova. resume is ``virDomainCreate``, which restores a managed save. A HARD
  reboot (:meth:`LibvirtPower._boot_fresh`) drops the saved image first, and destroy
  undefines the domain with it;
* diagnostics come from ``virDomainGetInfo`` (memory, vCPU count, state), the vCPU
  times of ``virDomainGetVcpus``, ``virDomainMemoryStats``, and the ``blockStats`` /
  ``interfaceStats`` of the disks and NICs in the domain XML, as Nova's libvirt driver
  reads them; what libvirt cannot tell for a domain is None;
* the host's uptime is this machine's (:func:`nubis.core.virt.uptime.this_host_uptime`):
  libvirtd runs where nubis-compute runs (on a ``test:///`` URI the simulated host is
  this machine too).
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import libvirt

from nubis.core import exception
from nubis.core.virt import diagnostics, power_state, uptime
from nubis.plugins.virt.libvirt.host import error_code

#: What the mixin lets LibvirtDriver declare.
CAPABILITIES: Mapping[str, bool] = {
    "supports_pause": True,
    "supports_suspend": True,
    "supports_diagnostics": True,
    "supports_host_uptime": True,
}

#: Seconds a pause, unpause, suspend or resume waits for the domain's new state.
STATE_WAIT = 30.0


def _invalid(
    instance: Any, operation: str, state: int, expected: str
) -> exception.InstanceInvalidState:
    return exception.InstanceInvalidState(
        action=operation,
        instance_uuid=instance.uuid,
        state=f"in power state {power_state.name(state)}",
        expected=f"in power state {expected}",
    )


def device_targets(xml: str) -> tuple[list[str], list[tuple[str | None, str | None]]]:
    """The ``<target dev>`` of each disk of domain *xml*, and (MAC address, target dev)
    of each of its interfaces (either may be None)."""
    root = ET.fromstring(xml)
    disks = []
    for disk in root.findall("./devices/disk"):
        target = disk.find("target")
        if disk.get("device", "disk") == "disk" and target is not None and target.get("dev"):
            disks.append(str(target.get("dev")))
    nics = []
    for nic in root.findall("./devices/interface"):
        mac, target = nic.find("mac"), nic.find("target")
        nics.append(
            (
                mac.get("address") if mac is not None else None,
                target.get("dev") if target is not None else None,
            )
        )
    return disks, nics


def _seconds_since(when: datetime.datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0, int((datetime.datetime.now(datetime.UTC) - when).total_seconds()))


class LibvirtPower:
    """Mixin of :class:`~.driver.LibvirtDriver` (which provides ``_domain``,
    ``_state``, ``_wait_state``, ``_guard`` and ``domain_type``): see the module
    docstring."""

    # --- pause, suspend --------------------------------------------------------------------

    def pause(self, instance: Any) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        state = driver._state(conn, dom)
        if state == power_state.PAUSED:
            return
        if state != power_state.RUNNING:
            raise _invalid(instance, "pause", state, "running")
        with driver._guard(conn):
            dom.suspend()
        driver._wait_state(conn, dom, power_state.PAUSED, STATE_WAIT)

    def unpause(self, instance: Any) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        state = driver._state(conn, dom)
        if state == power_state.RUNNING:
            return
        if state != power_state.PAUSED:
            raise _invalid(instance, "unpause", state, "paused")
        with driver._guard(conn):
            dom.resume()
        driver._wait_state(conn, dom, power_state.RUNNING, STATE_WAIT)

    def suspend(self, context: Any, instance: Any) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        state = driver._state(conn, dom)
        if state not in (power_state.RUNNING, power_state.PAUSED):
            if self._has_saved_image(conn, dom):
                return  # suspended already
            raise _invalid(instance, "suspend", state, "running or paused")
        with driver._guard(conn):
            dom.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING)
        driver._wait_state(conn, dom, power_state.SHUTDOWN, STATE_WAIT)

    def resume(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        driver: Any = self
        conn, dom = driver._domain(instance)
        state = driver._state(conn, dom)
        if state == power_state.RUNNING:
            return
        if not self._has_saved_image(conn, dom):
            raise _invalid(instance, "resume", state, "shutdown with a saved state (suspended)")
        with driver._guard(conn):
            dom.create()  # restores the managed save
        driver._wait_state(conn, dom, power_state.RUNNING, STATE_WAIT)

    def _has_saved_image(self, conn: libvirt.virConnect, dom: libvirt.virDomain) -> bool:
        driver: Any = self
        with driver._guard(conn):
            return bool(dom.hasManagedSaveImage(0))

    def _boot_fresh(self, dom: libvirt.virDomain) -> None:
        """Start the (inactive) domain from its disk, dropping a suspended guest's saved
        state: what a HARD reboot does. Call it inside ``_guard``."""
        if dom.hasManagedSaveImage(0):
            dom.managedSaveRemove(0)
        dom.create()

    # --- diagnostics -----------------------------------------------------------------------

    def get_diagnostics(self, instance: Any) -> diagnostics.Diagnostics:
        driver: Any = self
        conn, dom = driver._domain(instance)
        state = driver._state(conn, dom)
        try:
            with driver._guard(conn):
                _state, max_kib, kib, vcpus, _cpu_time = dom.info()
                cpus = self._vcpus(dom, int(vcpus))
                stats = self._optional(dom.memoryStats) or {}
                disks, nics = device_targets(dom.XMLDesc(0))
                disk_details = tuple(self._disk(dom, dev) for dev in disks)
                nic_details = tuple(self._nic(dom, mac, dev) for mac, dev in nics)
        except libvirt.libvirtError as exc:
            if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:  # went away meanwhile
                raise exception.InstanceNotFound(instance_id=instance.uuid) from exc
            raise
        return diagnostics.Diagnostics(
            state=power_state.name(state),
            driver="libvirt",
            hypervisor=str(driver.domain_type),
            hypervisor_os="linux",
            uptime=_seconds_since(getattr(instance, "launched_at", None)),
            config_drive=False,
            cpu_details=cpus,
            nic_details=nic_details,
            disk_details=disk_details,
            memory_details=diagnostics.MemoryDiagnostics(
                maximum=int(max_kib) // 1024, used=int(kib) // 1024
            ),
            memory_stats={str(k): int(v) for k, v in stats.items()},
        )

    @staticmethod
    def _optional(call: Any, *args: Any) -> Any:
        """*call(*args)*, or None when this hypervisor or domain cannot answer it (a
        domain that went away meanwhile still raises)."""
        try:
            return call(*args)
        except libvirt.libvirtError as exc:
            if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                raise
            return None

    def _vcpus(self, dom: libvirt.virDomain, count: int) -> tuple[diagnostics.CpuDiagnostics, ...]:
        info = self._optional(dom.vcpus)
        if not info:  # an inactive domain has no vCPU threads
            return tuple(diagnostics.CpuDiagnostics(id=n) for n in range(count))
        return tuple(
            diagnostics.CpuDiagnostics(id=int(number), time=int(cpu_time))
            for number, _state, cpu_time, _cpu in info[0]
        )

    def _disk(self, dom: libvirt.virDomain, dev: str) -> diagnostics.DiskDiagnostics:
        stats = self._optional(dom.blockStats, dev)
        if stats is None:
            return diagnostics.DiskDiagnostics(name=dev)
        rd_req, rd_bytes, wr_req, wr_bytes, errors = (int(v) for v in stats)
        return diagnostics.DiskDiagnostics(
            read_bytes=rd_bytes,
            read_requests=rd_req,
            write_bytes=wr_bytes,
            write_requests=wr_req,
            errors_count=errors,
            name=dev,
        )

    def _nic(
        self, dom: libvirt.virDomain, mac: str | None, dev: str | None
    ) -> diagnostics.NicDiagnostics:
        stats = self._optional(dom.interfaceStats, dev) if dev else None
        if stats is None:
            return diagnostics.NicDiagnostics(mac_address=mac, name=dev)
        rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes, tx_packets, tx_errs, tx_drop = (
            int(v) for v in stats
        )
        return diagnostics.NicDiagnostics(
            mac_address=mac,
            rx_octets=rx_bytes,
            rx_errors=rx_errs,
            rx_drop=rx_drop,
            rx_packets=rx_packets,
            tx_octets=tx_bytes,
            tx_errors=tx_errs,
            tx_drop=tx_drop,
            tx_packets=tx_packets,
            name=dev,
        )

    # --- the host --------------------------------------------------------------------------

    def get_host_uptime(self) -> str:
        driver: Any = self
        driver._conn()  # VirtDriverNotReady before init_host, like every other call
        return uptime.this_host_uptime()
