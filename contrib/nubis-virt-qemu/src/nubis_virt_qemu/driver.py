"""QemuDriver: the ComputeDriver that runs QEMU directly (``nubis.virt: qemu``).

No libvirt: each guest is a ``qemu-system-x86_64`` process the driver starts itself
(KVM when /dev/kvm is usable, TCG otherwise) and controls over its QMP socket with
QEMU's own client library, ``qemu.qmp`` (see :mod:`.qmp`). Everything about a guest
lives in ``[qemu] state_path/<uuid>/`` (see :mod:`.guest`), so a driver that restarts
finds its guests again -- running ones through their pid file and QMP socket, powered-off
ones through their definition -- and a guest outlives the compute service.

Guests
    A guest has ``memory_mb``, ``vcpus``, a serial console (``console.log``), no
    display, no network, and either no disk (empty ``image_ref``) or one virtio disk:
    a qcow2 overlay on the base image ``image_ref`` names in ``[qemu] images_path``
    (see :mod:`.images`). Powered off means no QEMU process; powering on starts one
    from the stored definition. A guest that powers itself off (ACPI) ends its
    process too. HARD reboot power-cycles the process; SOFT presses the ACPI power
    button, waits up to ``wait_soft_reboot_seconds`` for the guest to power off, then
    starts it again (or power-cycles it when it did not cooperate).

States and events
    ``get_info`` is QMP ``query-status`` (no process: SHUTDOWN). Lifecycle events come
    from QMP events and the end of the process: the first RESUME after a start is
    STARTED, a later one RESUMED, STOP is PAUSED, the process ending is STOPPED (or
    MIGRATION_COMPLETED on the source of a live migration). Steps of a live migration
    (the switch-over pause, the guest arriving on the destination) are not reported.

Live migration
    Pre-copy over TCP, QEMU to QEMU. The destination starts the same machine (the
    source sends its definition in migrate_data as ``qemu_guest``) with ``-incoming
    defer``, listens with ``migrate-incoming`` on ``tcp:<host_ip>:0`` and sends the port
    QEMU chose back as ``qemu_migration_uri``; the source runs ``migrate`` and reports
    ``query-migrate`` as progress (:mod:`.migration`). Both sides enable QMP's
    ``return-path`` capability, so the source only sees "completed" once the
    destination has loaded the guest. Diskless guests always move; guests with a disk
    only when ``instances_path_shared`` and both hosts use the same instances_path.
    Block migration is refused.

Every QMP command waits at most ``qmp_timeout``, every process start ``start_timeout``
and every process end ``stop_timeout`` (then SIGKILL).
"""

from __future__ import annotations

import logging
import os
import platform
import time
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from nubis.core import exception
from nubis.core.virt import hardware
from nubis_virt_qemu import host as qemu_host
from nubis_virt_qemu import images, process
from nubis_virt_qemu.base import POLL, _Guest
from nubis_virt_qemu.guest import GuestPaths, read_spec, socket_path_problem, write_spec
from nubis_virt_qemu.images import GiB
from nubis_virt_qemu.lifecycle import GuestLifecycleMixin
from nubis_virt_qemu.live_migration import LiveMigrationMixin
from nubis_virt_qemu.qmp import QmpError, QmpLoop

LOG = logging.getLogger(__name__)

HOST_ID_FILE = "host-id"


class QemuDriver(GuestLifecycleMixin, LiveMigrationMixin):
    """The QEMU driver; construct as ``QemuDriver(conf)``.

    Its host and resource methods are here; the guest lifecycle is in
    :mod:`.lifecycle`, live migration in :mod:`.live_migration`, and the state and
    helpers they share in :mod:`.base`.
    """

    capabilities: Mapping[str, bool] = {
        "supports_live_migration": True,
        "supports_reboot_soft": True,
        "supports_clean_shutdown": True,
        "supports_lifecycle_events": True,
        "supports_multiple_nodes": False,
    }

    # --- host --------------------------------------------------------------------------

    def init_host(self, host: str) -> None:
        opts = self._opts
        problem = socket_path_problem(opts.state_path)
        if problem:
            raise exception.ConfigurationError(option="[qemu] state_path", reason=problem)
        try:
            info = qemu_host.probe_qemu(opts.binary, opts.start_timeout)
        except qemu_host.HostError as exc:
            raise exception.ConfigurationError(option="[qemu] binary", reason=str(exc)) from None
        try:
            info.resolve_machine(opts.machine_type)
        except qemu_host.HostError as exc:
            raise exception.ConfigurationError(
                option="[qemu] machine_type", reason=str(exc)
            ) from None
        try:
            self.accel = qemu_host.choose_accel(opts.accel)
        except qemu_host.HostError as exc:
            raise exception.ConfigurationError(option="[qemu] accel", reason=str(exc)) from None
        try:
            for path in (opts.state_path, opts.instances_path):
                os.makedirs(path, mode=0o755, exist_ok=True)
            self.host_id = self._read_host_id()
        except OSError as exc:
            raise exception.ConfigurationError(
                option="[qemu] state_path", reason=f"{exc.filename}: {exc.strerror}"
            ) from None
        self.qemu = info
        self._cpu_info = qemu_host.cpu_info()
        self._loop = QmpLoop(f"qemu-qmp-{host}")
        self._loop.start()
        self.host_name = host
        adopted = self._adopt_guests()
        LOG.info(
            "qemu driver ready on %s: QEMU %s (%s), %s, %d guests found in %s",
            host,
            info.version_text,
            info.binary,
            self.accel,
            adopted,
            opts.state_path,
        )

    def _read_host_id(self) -> str:
        """This host's identity (a UUID kept in state_path): "the same host" test."""
        path = os.path.join(self._opts.state_path, HOST_ID_FILE)
        try:
            with open(path) as f:
                return str(uuid_module.UUID(f.read().strip()))
        except (FileNotFoundError, ValueError):
            value = str(uuid_module.uuid4())
            with open(path, "w") as f:
                f.write(value + "\n")
            return value

    def _adopt_guests(self) -> int:
        """Find the guests in state_path again; attach to those whose QEMU still runs."""
        state_path = self._opts.state_path
        count = 0
        for entry in sorted(os.listdir(state_path)):
            try:
                uuid_module.UUID(entry)
            except ValueError:
                continue
            paths = GuestPaths(state_path, entry)
            try:
                spec = read_spec(paths)
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                LOG.error("ignoring guest directory %s: %s", paths.dir, exc)
                continue
            guest = _Guest(spec, paths)
            pid = process.read_pid(paths)
            status = None
            if pid is not None:
                try:
                    self._attach(guest, pid)
                    status = self._status(guest)
                except (QmpError, process.ProcessError) as exc:
                    LOG.error(
                        "guest %s runs (pid %d) but its QMP socket does not answer: %s",
                        spec.uuid,
                        pid,
                        exc,
                    )
            if spec.incoming:
                if status == "running":  # arrived while this driver was away: keep it
                    spec.incoming = False
                    write_spec(paths, spec)
                else:
                    LOG.warning(
                        "removing %s: an incoming live migration this driver no longer follows",
                        spec.uuid,
                    )
                    self._drop_incoming(guest)
                    continue
            guest.started = status is not None and status != "prelaunch"
            with self._lock:
                self._guests[spec.uuid] = guest
            count += 1
        return count

    def cleanup_host(self, host: str) -> None:
        with self._lock:
            guests = list(self._guests.values())
        for job in self._migrations.jobs():
            job.abort("aborted: the compute service is stopping")
        deadline = time.monotonic() + self._opts.live_migration_abort_timeout
        while self._migrations.jobs() and time.monotonic() < deadline:
            time.sleep(POLL)
        for guest in guests:
            monitor = guest.monitor
            if monitor is not None:
                monitor.close(self._opts.qmp_timeout)
                guest.monitor = None
        if self._loop is not None:
            self._loop.stop()
        self.flush_events(timeout=5)

    def get_host_ip_addr(self) -> str:
        return hardware.host_ip(self._opts.host_ip)

    # --- nodes and resources -----------------------------------------------------------

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        self._ready()
        assert self.host_name is not None
        return [self.host_name]

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        if nodename not in self.get_available_nodes():
            raise exception.ComputeHostNodeNotFound(host=self.host_name, nodename=nodename)
        assert self.qemu is not None
        with self._lock:
            guests = list(self._guests.values())
        memory_mb, memory_used_mb = qemu_host.memory_mb()
        total_gb, used_gb, free_gb = hardware.disk_usage_gb(_existing(self._opts.instances_path))
        arch = platform.machine() or "x86_64"
        return {
            "vcpus": os.cpu_count() or 1,
            "memory_mb": memory_mb,
            "local_gb": total_gb,
            "vcpus_used": sum(g.spec.vcpus for g in guests if g.pid is not None),
            "memory_mb_used": memory_used_mb,
            "local_gb_used": used_gb,
            "hypervisor_type": "QEMU",
            "hypervisor_version": self.qemu.version,
            "hypervisor_hostname": nodename,
            "cpu_info": self._cpu_info,
            "disk_available_least": free_gb - _overcommitted_gb(guests),
            "supported_instances": [[arch, self._instance_type(), "hvm"]],
        }


def _existing(path: str) -> str:
    """*path*, or its nearest existing parent (for the file system's size)."""
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _overcommitted_gb(guests: list[_Guest]) -> int:
    """GiB the guests' overlays may still grow by (virtual size - allocated)."""
    grow = 0
    for guest in guests:
        disk = guest.spec.disk
        if not disk or guest.spec.incoming:
            continue
        try:
            grow += max(0, images.virtual_size(disk) - os.stat(disk).st_blocks * 512)
        except OSError:
            continue
    return -(-grow // GiB)
