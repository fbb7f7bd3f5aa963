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

import contextlib
import dataclasses
import logging
import os
import platform
import shutil
import threading
import time
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import driver, events, hardware, power_state
from nubis.core.virt import migration as lm
from nubis_virt_qemu import conf as qemu_conf
from nubis_virt_qemu import host as qemu_host
from nubis_virt_qemu import images, process
from nubis_virt_qemu.guest import GuestPaths, GuestSpec, read_spec, socket_path_problem, write_spec
from nubis_virt_qemu.migration import MigrationJob
from nubis_virt_qemu.qmp import Monitor, QmpError, QmpLoop

LOG = logging.getLogger(__name__)

GiB = 1024**3
HOST_ID_FILE = "host-id"
POLL = 0.02

#: QMP ``query-status`` status -> power state.
POWER_STATES = {
    "running": power_state.RUNNING,
    "paused": power_state.PAUSED,
    "prelaunch": power_state.PAUSED,
    "inmigrate": power_state.PAUSED,
    "postmigrate": power_state.PAUSED,
    "finish-migrate": power_state.PAUSED,
    "save-vm": power_state.PAUSED,
    "restore-vm": power_state.PAUSED,
    "debug": power_state.PAUSED,
    "colo": power_state.PAUSED,
    "watchdog": power_state.PAUSED,
    "io-error": power_state.PAUSED,
    "suspended": power_state.SUSPENDED,
    "shutdown": power_state.SHUTDOWN,
    "guest-panicked": power_state.CRASHED,
    "internal-error": power_state.CRASHED,
}


@dataclasses.dataclass(eq=False)
class _Guest:
    """A guest of this host as the driver tracks it at run time."""

    spec: GuestSpec
    paths: GuestPaths
    pid: int | None = None
    monitor: Monitor | None = None
    #: A STARTED was reported and no STOPPED since.
    started: bool = False
    #: The next RESUME is the guest starting (STARTED, not RESUMED).
    starting: bool = False
    #: Source of a live migration in progress: its pause and resume are not events.
    migrating: bool = False
    #: Source after a completed live migration: its exit is MIGRATION_COMPLETED.
    departed: bool = False
    #: Serialises the operations on this guest (never taken in the QMP loop's thread).
    op_lock: threading.RLock = dataclasses.field(default_factory=threading.RLock)


class QemuDriver(driver.ComputeDriver):
    """The QEMU driver; construct as ``QemuDriver(conf)``."""

    capabilities: Mapping[str, bool] = {
        "supports_live_migration": True,
        "supports_reboot_soft": True,
        "supports_clean_shutdown": True,
        "supports_lifecycle_events": True,
        "supports_multiple_nodes": False,
    }

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        qemu_conf.register_opts(conf)
        self.host_name: str | None = None
        self.host_id: str | None = None
        self.accel: str | None = None
        self.qemu: qemu_host.QemuInfo | None = None
        self._cpu_info = ""
        self._loop: QmpLoop | None = None
        self._guests: dict[str, _Guest] = {}
        self._spawning: set[str] = set()
        self._migrations: lm.ActiveMigrations[MigrationJob] = lm.ActiveMigrations()
        self._lock = threading.Lock()

    # --- helpers -----------------------------------------------------------------------

    @property
    def _opts(self) -> Any:
        return self.conf.qemu

    def _ready(self) -> QmpLoop:
        if self._loop is None or self.qemu is None:
            raise exception.VirtDriverNotReady(driver="qemu", reason="init_host() not called")
        return self._loop

    def _guest(self, instance: Any) -> _Guest:
        self._ready()
        with self._lock:
            guest = self._guests.get(instance.uuid)
        if guest is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return guest

    def _paths(self, uuid: str) -> GuestPaths:
        return GuestPaths(self._opts.state_path, uuid)

    def _disk_dir(self, uuid: str) -> str:
        return os.path.join(self._opts.instances_path, uuid)

    def _execute(
        self,
        guest: _Guest,
        command: str,
        arguments: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        monitor = guest.monitor
        if monitor is None:
            raise QmpError(f"{command} on {guest.spec.uuid}: QEMU is not running", gone=True)
        return monitor.execute(command, arguments, timeout=timeout or self._opts.qmp_timeout)

    def _status(self, guest: _Guest) -> str | None:
        """QEMU's run status of the guest; None when no process runs. QmpError when
        QEMU runs but does not answer."""
        try:
            return str(self._execute(guest, "query-status")["status"])
        except QmpError as exc:
            if exc.gone:
                return None
            raise

    def _wait_status(self, guest: _Guest, wanted: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._status(guest) != wanted:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)
        return True

    def _fail(self, instance: Any, reason: str) -> exception.NubisException:
        return exception.NubisException(f"qemu driver: instance {instance.uuid}: {reason}")

    # --- events (in the QMP loop's thread) ----------------------------------------------

    def _on_qmp_event(self, guest: _Guest, name: str, data: dict[str, Any]) -> None:
        if guest.spec.incoming or guest.migrating:
            return
        if name == "RESUME":
            if guest.starting:
                guest.starting = False
                guest.started = True
                self.emit_event(events.LifecycleEvent(guest.spec.uuid, events.STARTED))
            else:
                self.emit_event(events.LifecycleEvent(guest.spec.uuid, events.RESUMED))
        elif name == "STOP" and guest.started:
            self.emit_event(events.LifecycleEvent(guest.spec.uuid, events.PAUSED))

    def _on_exit(self, guest: _Guest, monitor: Monitor) -> None:
        if guest.monitor is not monitor:
            return
        pid = guest.pid
        guest.pid, guest.monitor = None, None
        if pid is not None:
            self._reap_soon(pid)
        if guest.departed:
            self.emit_event(events.LifecycleEvent(guest.spec.uuid, events.MIGRATION_COMPLETED))
        elif guest.started and not guest.spec.incoming:
            self.emit_event(events.LifecycleEvent(guest.spec.uuid, events.STOPPED))
        guest.started = guest.starting = False

    def _reap_soon(self, pid: int, tries: int = 200) -> None:
        """Collect an ended QEMU child, trying again every 50 ms for 10 s (in the loop):
        its QMP connection closes a moment before the process is gone."""
        if process.reap(pid) or tries <= 0 or self._loop is None:
            return
        self._loop.loop.call_later(0.05, self._reap_soon, pid, tries - 1)

    # --- processes ---------------------------------------------------------------------

    def _attach(self, guest: _Guest, pid: int) -> None:
        """Connect a monitor to the guest's running QEMU *pid*."""
        loop = self._ready()
        holder: list[Monitor] = []
        monitor = Monitor(
            loop,
            guest.paths.qmp,
            f"{guest.spec.name}({guest.spec.uuid})",
            on_event=lambda name, data: self._on_qmp_event(guest, name, data),
            on_close=lambda: self._on_exit(guest, holder[0]),
        )
        holder.append(monitor)
        guest.pid, guest.monitor = pid, monitor
        try:
            monitor.connect(self._opts.start_timeout, alive=lambda: process.alive(pid))
        except QmpError:
            guest.monitor = None
            if not process.alive(pid):
                raise process.ProcessError(
                    f"QEMU exited at start: {process.last_error(guest.paths)}"
                ) from None
            raise

    def _start(self, guest: _Guest, incoming: bool = False) -> None:
        """Start the guest's QEMU (paused, or waiting for a migration) and attach to it."""
        assert self.qemu is not None and self.accel is not None
        argv = process.command(self.qemu.binary, guest.spec, guest.paths, self.accel, incoming)
        pid = process.start(argv, guest.paths)
        try:
            process.wait_for_socket(pid, guest.paths, self._opts.start_timeout)
            self._attach(guest, pid)
        except (process.ProcessError, QmpError):
            guest.pid = guest.monitor = None
            with contextlib.suppress(process.ProcessError):
                process.kill(pid, guest.paths, self._opts.stop_timeout)
            raise

    def _resume_new(self, guest: _Guest) -> None:
        """Let a guest started paused (``-S``) run; its RESUME is reported as STARTED."""
        guest.starting = True
        try:
            self._execute(guest, "cont")
        except QmpError:
            guest.starting = False
            raise
        if not self._wait_status(guest, "running", self._opts.qmp_timeout):
            raise QmpError(f"guest {guest.spec.uuid} is not running after cont")

    def _wait_exit(self, guest: _Guest, timeout: float, pid: int | None = None) -> bool:
        """Wait until the guest's process (*pid*, by default the current one) has ended,
        been reaped and its end handled."""
        monitor = guest.monitor
        pid = guest.pid if pid is None else pid
        if pid is None:
            return True
        deadline = time.monotonic() + timeout
        if not process.wait_gone(pid, timeout):
            return False
        if monitor is not None:
            monitor.closed.wait(max(0.5, deadline - time.monotonic()))
        if guest.pid == pid:  # no monitor saw it end (never attached): forget it here
            guest.pid = guest.monitor = None
            guest.started = guest.starting = False
        return True

    def _stop(self, guest: _Guest) -> None:
        """End the guest's QEMU at once (``quit``; SIGKILL when it does not go)."""
        pid = guest.pid
        if pid is None:
            return
        try:
            self._execute(guest, "quit")
        except QmpError as exc:
            LOG.debug("quit of %s: %s", guest.spec.uuid, exc)
        stop_timeout = self._opts.stop_timeout
        if not self._wait_exit(guest, stop_timeout, pid):
            LOG.warning(
                "QEMU of %s did not quit within %g s; killing it", guest.spec.uuid, stop_timeout
            )
            process.kill(pid, guest.paths, stop_timeout)
            self._wait_exit(guest, stop_timeout, pid)

    def _running(self, guest: _Guest) -> bool:
        return guest.pid is not None and process.alive(guest.pid)

    def _ask_shutdown(self, guest: _Guest, timeout: float, retry: float) -> bool:
        """Press the ACPI power button (again every *retry* s); True once the guest is off."""
        deadline = time.monotonic() + timeout
        pid = guest.pid
        while True:
            try:
                self._execute(guest, "system_powerdown")
            except QmpError as exc:
                if exc.gone:
                    return self._wait_exit(guest, self._opts.stop_timeout, pid)
                raise
            left = deadline - time.monotonic()
            wait = min(retry, left) if retry > 0 else left
            if self._wait_exit(guest, max(0.0, wait), pid):
                return True
            if time.monotonic() >= deadline:
                return False

    def _remove(self, guest: _Guest, delete_disk: bool) -> None:
        """Forget the guest and delete its directory (and its disk when asked)."""
        with self._lock:
            if self._guests.get(guest.spec.uuid) is guest:
                del self._guests[guest.spec.uuid]
        shutil.rmtree(guest.paths.dir, ignore_errors=True)
        if delete_disk and guest.spec.disk:
            shutil.rmtree(self._disk_dir(guest.spec.uuid), ignore_errors=True)

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

    # --- guests ------------------------------------------------------------------------

    def spawn(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        self._ready()
        assert self.qemu is not None
        uuid = str(instance.uuid)
        paths = self._paths(uuid)
        with self._lock:
            if uuid in self._guests or uuid in self._spawning or os.path.exists(paths.spec):
                raise exception.InstanceExists(instance_uuid=uuid)
            self._spawning.add(uuid)
        started = time.monotonic()
        guest: _Guest | None = None
        disk_dir = None
        try:
            spec = GuestSpec(
                uuid=uuid,
                name=str(instance.name),
                memory_mb=int(instance.memory_mb or 0),
                vcpus=int(instance.vcpus or 0),
                machine=self.qemu.resolve_machine(self._opts.machine_type),
                cpu_model=str(self._opts.cpu_model),
                image=str(instance.image_ref or ""),
            )
            os.makedirs(paths.dir, mode=0o755, exist_ok=True)
            if spec.image:
                base = images.find_base(self._opts.images_path, spec.image)
                disk_dir = self._disk_dir(uuid)
                os.makedirs(disk_dir, mode=0o755, exist_ok=True)
                spec.disk = os.path.join(disk_dir, "disk")
                images.create_overlay(
                    self._ready(),
                    self.qemu.binary,
                    base,
                    spec.disk,
                    int(instance.root_gb or 0) * GiB,
                    paths,
                    self._opts.start_timeout,
                )
            write_spec(paths, spec)
            guest = _Guest(spec, paths)
            self._start(guest)
            self._resume_new(guest)
        except (
            ValueError,
            OSError,
            images.ImageError,
            process.ProcessError,
            QmpError,
            qemu_host.HostError,
        ) as exc:
            if guest is not None and guest.pid is not None:
                with contextlib.suppress(process.ProcessError):
                    process.kill(guest.pid, paths, self._opts.stop_timeout)
            shutil.rmtree(paths.dir, ignore_errors=True)
            if disk_dir:
                shutil.rmtree(disk_dir, ignore_errors=True)
            guest = None
            raise exception.InstanceSpawnFailure(
                instance_uuid=uuid, reason=exception.one_line(exc)
            ) from exc
        finally:
            with self._lock:
                self._spawning.discard(uuid)
                if guest is not None and guest.pid is not None:
                    self._guests[uuid] = guest
        LOG.info(
            "spawned %s (%s) in %.2f s: QEMU pid %s, %s",
            uuid,
            spec.name,
            time.monotonic() - started,
            guest.pid,
            self.accel,
        )

    def destroy(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        destroy_disks: bool = True,
    ) -> None:
        self._ready()
        with self._lock:
            guest = self._guests.get(instance.uuid)
        if guest is None:
            return
        with guest.op_lock:
            self._stop(guest)
            self._remove(guest, delete_disk=destroy_disks)
        LOG.info("destroyed %s", instance.uuid)

    def power_off(self, instance: Any, timeout: float = 0, retry_interval: float = 0) -> None:
        guest = self._guest(instance)
        with guest.op_lock:
            if not self._running(guest):
                return
            if timeout > 0 and self._ask_shutdown(guest, timeout, retry_interval):
                return
            self._stop(guest)

    def power_on(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        guest = self._guest(instance)
        with guest.op_lock:
            try:
                status = self._status(guest)
                if status == "running":
                    return
                if status is None:
                    self._start(guest)
                    self._resume_new(guest)
                else:  # paused, or never resumed after a start
                    if status == "prelaunch":
                        guest.starting = True
                    self._execute(guest, "cont")
                    if not self._wait_status(guest, "running", self._opts.qmp_timeout):
                        raise QmpError(f"still {self._status(guest)} after cont")
            except (QmpError, process.ProcessError) as exc:
                raise self._fail(instance, f"power_on: {exception.one_line(exc)}") from exc

    def reboot(
        self,
        context: Any,
        instance: Any,
        reboot_type: str = driver.REBOOT_SOFT,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        if reboot_type not in driver.REBOOT_TYPES:
            raise exception.InvalidRebootType(reboot_type=reboot_type)
        guest = self._guest(instance)
        wait = self._opts.wait_soft_reboot_seconds
        with guest.op_lock:
            try:
                if reboot_type == driver.REBOOT_SOFT and self._status(guest) == "running":
                    if not self._ask_shutdown(guest, wait, 0):
                        LOG.info(
                            "instance %s did not power off within %s s of the ACPI "
                            "power button; rebooting it hard",
                            instance.uuid,
                            wait,
                        )
                self._stop(guest)
                self._start(guest)
                self._resume_new(guest)
            except (QmpError, process.ProcessError) as exc:
                raise self._fail(instance, f"reboot: {exception.one_line(exc)}") from exc

    def get_info(self, instance: Any) -> driver.InstanceInfo:
        guest = self._guest(instance)
        try:
            status = self._status(guest)
        except QmpError as exc:
            LOG.warning("cannot read the state of %s: %s", instance.uuid, exc)
            return driver.InstanceInfo(state=power_state.NOSTATE, internal_id=None)
        if status is None:
            return driver.InstanceInfo(state=power_state.SHUTDOWN, internal_id=None)
        pid = guest.pid
        return driver.InstanceInfo(
            state=POWER_STATES.get(status, power_state.NOSTATE),
            internal_id=str(pid) if pid else None,
        )

    def _listed(self) -> list[_Guest]:
        self._ready()
        with self._lock:
            return [g for g in self._guests.values() if not g.spec.incoming]

    def list_instances(self) -> list[str]:
        return [g.spec.name for g in self._listed()]

    def list_instance_uuids(self) -> list[str]:
        return [g.spec.uuid for g in self._listed()]

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

    def _instance_type(self) -> str:
        return "kvm" if self.accel == "kvm" else "qemu"

    # --- live migration ----------------------------------------------------------------

    def check_can_live_migrate_destination(
        self,
        context: Any,
        instance: Any,
        src_compute_info: Mapping[str, Any],
        dst_compute_info: Mapping[str, Any],
        block_migration: bool = False,
    ) -> dict[str, Any]:
        self._ready()
        assert self.qemu is not None

        def refuse(reason: str) -> exception.MigrationPreCheckError:
            return exception.MigrationPreCheckError(instance_uuid=instance.uuid, reason=reason)

        if block_migration:
            raise refuse(
                "block migration is not supported by the qemu driver; guests with a "
                "disk move only with [qemu] instances_path_shared"
            )
        src = dict(src_compute_info or {})
        if src.get("hypervisor_type") and src["hypervisor_type"] != "QEMU":
            raise refuse(f"source hypervisor is {src['hypervisor_type']}, destination QEMU")
        if src.get("hypervisor_version") and int(src["hypervisor_version"]) > self.qemu.version:
            raise refuse(
                f"destination QEMU {self.qemu.version} is older than the source's "
                f"{src['hypervisor_version']}"
            )
        kinds = {str(t[1]) for t in src.get("supported_instances") or [] if len(t) == 3}
        if kinds and self._instance_type() not in kinds:
            raise refuse(
                f"source runs {', '.join(sorted(kinds))} guests, this host "
                f"{self._instance_type()} (KVM and TCG guests cannot move between "
                "each other)"
            )
        _total, used = qemu_host.memory_mb()
        free = _total - used
        if int(instance.memory_mb or 0) > free:
            raise refuse(
                f"destination {self.host_name} has {free} MiB available, the guest "
                f"needs {instance.memory_mb}"
            )
        return {
            lm.DEST_HOST: self.host_name,
            lm.BLOCK_MIGRATION: False,
            "qemu_host_id": self.host_id,
            "qemu_accel": self.accel,
            "qemu_cpu_info": self._cpu_info,
            "qemu_shared_storage": bool(self._opts.instances_path_shared),
            "qemu_instances_path": os.path.realpath(self._opts.instances_path),
        }

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        guest = self._guest(instance)

        def refuse(reason: str) -> exception.MigrationPreCheckError:
            return exception.MigrationPreCheckError(instance_uuid=instance.uuid, reason=reason)

        try:
            status = self._status(guest)
        except QmpError as exc:
            raise refuse(f"QEMU does not answer: {exc}") from None
        if status != "running":
            raise refuse(f"the guest is {status or 'powered off'}, not running")
        dest = dest_check_data.get(lm.DEST_HOST)
        if dest_check_data.get("qemu_host_id") == self.host_id or dest == self.host_name:
            raise refuse(f"destination {dest} is this very host (host id {self.host_id})")
        if dest_check_data.get("qemu_accel") not in (None, self.accel):
            raise refuse(
                f"destination runs {dest_check_data['qemu_accel']} guests, this host {self.accel}"
            )
        if guest.spec.disk:
            shared = (
                self._opts.instances_path_shared
                and dest_check_data.get("qemu_shared_storage")
                and dest_check_data.get("qemu_instances_path")
                == os.path.realpath(self._opts.instances_path)
            )
            if not shared:
                raise refuse(
                    f"the guest has a local disk ({guest.spec.disk}) and "
                    "instances_path is not shared with the destination; block "
                    "migration is not supported"
                )
        if guest.spec.cpu_model == "host" and dest_check_data.get("qemu_cpu_info") not in (
            None,
            self._cpu_info,
        ):
            raise refuse(
                "the guest uses the host CPU (cpu_model = host) and the destination's CPU differs"
            )
        return {
            **dest_check_data,
            "qemu_guest": guest.spec.to_dict(),
            "qemu_source_host": self.host_name,
        }

    def pre_live_migration(
        self,
        context: Any,
        instance: Any,
        block_device_info: Any,
        network_info: Any,
        disk_info: Any,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        self._ready()
        assert self.qemu is not None

        def refuse(reason: str) -> exception.MigrationPreCheckError:
            return exception.MigrationPreCheckError(instance_uuid=instance.uuid, reason=reason)

        try:
            spec = GuestSpec.from_dict(migrate_data.get("qemu_guest"))
        except (TypeError, ValueError) as exc:
            raise refuse(
                f"migrate_data has no usable qemu_guest ({exc}); the source must "
                "be a qemu host that ran check_can_live_migrate_source"
            ) from None
        if spec.uuid != instance.uuid:
            raise refuse(f"migrate_data describes guest {spec.uuid}, not {instance.uuid}")
        if spec.machine not in self.qemu.machines:
            raise refuse(
                f"this host's QEMU {self.qemu.version_text} has no machine type {spec.machine}"
            )
        if spec.disk and not os.path.exists(spec.disk):
            raise refuse(f"the guest's disk {spec.disk} is not visible on this host")
        paths = self._paths(spec.uuid)
        with self._lock:
            if (
                spec.uuid in self._guests
                or spec.uuid in self._spawning
                or os.path.exists(paths.spec)
            ):
                raise refuse(f"a guest with this uuid already exists on {self.host_name}")
            self._spawning.add(spec.uuid)
        spec.incoming = True
        guest = _Guest(spec, paths)
        address = self.get_host_ip_addr()
        host_part = f"[{address}]" if ":" in address else address
        try:
            write_spec(paths, spec)
            self._start(guest, incoming=True)
            self._execute(
                guest,
                "migrate-set-capabilities",
                {"capabilities": [{"capability": "return-path", "state": True}]},
            )
            self._execute(guest, "migrate-incoming", {"uri": f"tcp:{host_part}:0"})
            listening = self._execute(guest, "query-migrate").get("socket-address") or []
            port = int(listening[0]["port"])
        except (OSError, process.ProcessError, QmpError, KeyError, IndexError, ValueError) as exc:
            self._drop_incoming(guest)
            raise refuse(f"cannot start the incoming guest: {exception.one_line(exc)}") from exc
        finally:
            with self._lock:
                self._spawning.discard(spec.uuid)
        with self._lock:
            self._guests[spec.uuid] = guest
        LOG.info(
            "waiting for %s to arrive from %s on tcp:%s:%d",
            spec.uuid,
            migrate_data.get("qemu_source_host"),
            host_part,
            port,
        )
        return {**migrate_data, "qemu_migration_uri": f"tcp:{host_part}:{port}"}

    def _drop_incoming(self, guest: _Guest) -> None:
        """Kill an incoming guest's QEMU and delete its directory (never its disk)."""
        pid = guest.pid or process.read_pid(guest.paths)
        if pid is not None:
            with contextlib.suppress(process.ProcessError):
                process.kill(pid, guest.paths, self._opts.stop_timeout)
            self._wait_exit(guest, self._opts.stop_timeout, pid)
        self._remove(guest, delete_disk=False)

    def live_migration(
        self,
        context: Any,
        instance: Any,
        dest: str,
        post_method: driver.PostMethod,
        recover_method: driver.RecoverMethod,
        block_migration: bool = False,
        migrate_data: dict[str, Any] | None = None,
    ) -> None:
        data: dict[str, Any] = migrate_data if migrate_data is not None else {}
        result, error = lm.RESULT_FAILED, ""
        try:
            guest = self._guest(instance)
            uri = data.get("qemu_migration_uri")
            if not uri:
                raise self._fail(
                    instance,
                    "migrate_data has no qemu_migration_uri: "
                    "pre_live_migration did not run on a qemu destination",
                )
            opts = self._opts
            progress = data.get(lm.PROGRESS_CALLBACK)
            source = guest

            def execute(command: str, arguments: dict[str, Any] | None = None) -> Any:
                return self._execute(source, command, arguments)

            job = MigrationJob(
                instance.uuid,
                execute,
                str(uri),
                progress if callable(progress) else None,
                interval=opts.live_migration_progress_interval,
                timeout=opts.live_migration_completion_timeout
                * max(1.0, int(instance.memory_mb or 0) / 1024),
                abort_timeout=opts.live_migration_abort_timeout,
                bandwidth_mib=opts.live_migration_bandwidth,
            )
            with self._migrations.running(instance.uuid, job):
                guest.migrating = True
                try:
                    execute(
                        "migrate-set-capabilities",
                        {"capabilities": [{"capability": "return-path", "state": True}]},
                    )
                    LOG.info("live-migrating %s to %s (%s)", instance.uuid, dest, uri)
                    started = time.monotonic()
                    result, error = job.run()
                    if result == lm.RESULT_COMPLETED:
                        self._depart(guest)
                finally:
                    if result != lm.RESULT_COMPLETED:
                        guest.migrating = False
            LOG.info(
                "live migration of %s to %s: %s after %.2f s%s",
                instance.uuid,
                dest,
                result,
                time.monotonic() - started,
                f" ({error})" if error else "",
            )
        except Exception as exc:  # every failure goes to recover_method
            result, error = lm.RESULT_FAILED, exception.one_line(exc)
        lm.report_outcome(
            context,
            instance,
            dest,
            block_migration,
            data,
            result,
            error,
            post_method,
            recover_method,
        )

    def _depart(self, guest: _Guest) -> None:
        """After a completed migration: end the paused source QEMU and forget the guest.

        Its disk, if any, is on shared storage and now the destination's: it stays.
        """
        with guest.op_lock:
            guest.departed = True
            self._stop(guest)
            self._remove(guest, delete_disk=False)

    def live_migration_abort(self, instance: Any) -> None:
        self._ready()
        self._migrations.get(instance.uuid).abort()

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_migration: bool = False,
        block_device_info: Any = None,
    ) -> None:
        guest = self._guest(instance)
        with guest.op_lock:
            try:
                arrived = self._wait_status(guest, "running", self._opts.qmp_timeout)
            except QmpError as exc:
                raise self._fail(instance, f"the arrived guest does not answer: {exc}") from exc
            if not arrived:
                raise self._fail(
                    instance,
                    "the guest did not start running here after the "
                    f"migration (QEMU status {self._status(guest)})",
                )
            guest.spec.incoming = False
            guest.started = True
            write_spec(guest.paths, guest.spec)
        LOG.info("%s arrived and runs here (pid %s)", instance.uuid, guest.pid)

    def rollback_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any,
        destroy_disks: bool = True,
        migrate_data: dict[str, Any] | None = None,
    ) -> None:
        self._ready()
        with self._lock:
            guest = self._guests.get(instance.uuid)
        if guest is None:
            return
        if not guest.spec.incoming:
            LOG.warning(
                "not rolling back %s here: it is not an incoming guest of this host", instance.uuid
            )
            return
        with guest.op_lock:
            self._drop_incoming(guest)


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
