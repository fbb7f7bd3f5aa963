"""The common base of :class:`~nubis_virt_qemu.driver.QemuDriver`: guests at run time.

:class:`_Guest` is a guest as the driver tracks it while it runs (its process, its
QMP monitor, where it is in its life); :class:`QemuDriverBase` holds the driver's
state and what every part of the driver uses: QMP commands and status, the QMP
events turned into lifecycle events, and starting, attaching to, stopping and
removing a guest's QEMU process. The public ComputeDriver methods are in
:mod:`.lifecycle`, :mod:`.live_migration` and :mod:`.driver`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import threading
import time
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import driver, events
from nubis.core.virt import migration as lm
from nubis_virt_qemu import conf as qemu_conf
from nubis_virt_qemu import host as qemu_host
from nubis_virt_qemu import process
from nubis_virt_qemu.guest import GuestPaths, GuestSpec
from nubis_virt_qemu.migration import MigrationJob
from nubis_virt_qemu.qmp import Monitor, QmpError, QmpLoop

LOG = logging.getLogger(__name__)

POLL = 0.02


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


class QemuDriverBase(driver.ComputeDriver):
    """The QEMU driver's state and shared helpers; see the module docstring."""

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

    def _instance_type(self) -> str:
        return "kvm" if self.accel == "kvm" else "qemu"
