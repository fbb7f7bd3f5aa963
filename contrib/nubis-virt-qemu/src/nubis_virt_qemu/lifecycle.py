"""The guest lifecycle of :class:`~nubis_virt_qemu.driver.QemuDriver`.

:class:`GuestLifecycleMixin` holds the ComputeDriver methods that create, power,
reboot, destroy, list and describe the guests of this host (``spawn``,
``destroy``, ``power_off``, ``power_on``, ``reboot``, ``get_info``,
``list_instances``, ``list_instance_uuids``), and :data:`POWER_STATES`, the
mapping of QEMU's run status to a power state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from typing import Any

from nubis.core import exception
from nubis.core.virt import driver, power_state
from nubis_virt_qemu import host as qemu_host
from nubis_virt_qemu import images, process
from nubis_virt_qemu.base import QemuDriverBase, _Guest
from nubis_virt_qemu.guest import GuestSpec, write_spec
from nubis_virt_qemu.images import GiB
from nubis_virt_qemu.qmp import QmpError

LOG = logging.getLogger(__name__)

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


class GuestLifecycleMixin(QemuDriverBase):
    """Create, power, reboot, destroy and list guests; see the module docstring."""

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
