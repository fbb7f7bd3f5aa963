"""Live migration of :class:`~nubis_virt_qemu.driver.QemuDriver`, QEMU to QEMU.

:class:`LiveMigrationMixin` holds the ComputeDriver live-migration methods of both
sides: the pre-checks on destination and source, starting the incoming guest on
the destination (``pre_live_migration``), running the migration on the source
(``live_migration``, driving a :class:`~nubis_virt_qemu.migration.MigrationJob`),
abort, and the completion and rollback on the destination.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from nubis.core import exception
from nubis.core.virt import driver
from nubis.core.virt import migration as lm
from nubis_virt_qemu import host as qemu_host
from nubis_virt_qemu import process
from nubis_virt_qemu.base import QemuDriverBase, _Guest
from nubis_virt_qemu.guest import GuestSpec, write_spec
from nubis_virt_qemu.migration import MigrationJob
from nubis_virt_qemu.qmp import QmpError

LOG = logging.getLogger(__name__)


class LiveMigrationMixin(QemuDriverBase):
    """Both sides of a live migration; see the module docstring."""

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
