"""``fake``: an in-memory hypervisor (namespace ``nubis.virt``).

Guests are records in memory: spawning one takes no time and no resources. The host's
resources come from the ``[fake_driver]`` options. Every FakeDriver that ran
``init_host(host)`` joins a process-wide registry under that host name, so several
fake compute hosts in one process can live-migrate guests between each other (with
progress, abort and rollback), which is what functional tests of the compute manager
need. It declares every capability of the contract. A snapshot is a real file in the
image store (see :mod:`.fake_snapshot`).

Each guest keeps a console log, as a real guest's serial console would show it: a
short boot log (naming the guest, its image and the boot's number) on every start --
spawn, power on, reboot, rebuild -- and shutdown lines when it stops. It moves with the
guest in a live migration, starts afresh on a rebuild and goes with destroy().

For tests it also offers fault injection: :meth:`FakeDriver.set_hypervisor_available`
(the hypervisor "connection" goes away and comes back, with HypervisorStatusEvents),
:meth:`FakeDriver.inject_power_state` (a guest changes state behind the manager's
back, with the matching LifecycleEvent) and :meth:`FakeDriver.fail_next_spawns` (which
fails rebuilds too: a rebuild boots the guest anew).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import driver, events, hardware, power_state
from nubis.core.virt import migration as lm
from nubis.plugins.virt.fake_power import FakePower
from nubis.plugins.virt.fake_rescue import FakeRescue
from nubis.plugins.virt.fake_snapshot import FakeSnapshots

LOG = logging.getLogger(__name__)

GROUP = cfg.OptGroup("fake_driver", title="The fake (in-memory) virt driver")

OPTS = [
    cfg.IntOpt("vcpus", default=8, min=1, help="vCPUs of each fake node."),
    cfg.IntOpt("memory_mb", default=16384, min=1, help="Memory of each fake node, MiB."),
    cfg.IntOpt("local_gb", default=1024, min=1, help="Local disk of each fake node, GiB."),
    cfg.ListOpt(
        "nodes",
        default=[],
        help="Names of the nodes a fake host manages; empty: one node named like the host.",
    ),
    cfg.StrOpt("host_ip", default="127.0.0.1", help="What get_host_ip_addr() returns."),
    cfg.FloatOpt(
        "live_migration_seconds",
        default=0.2,
        min=0,
        help="How long a fake live migration takes; progress is reported in "
        "live_migration_steps equal steps.",
    ),
    cfg.StrOpt(
        "images_path",
        default="",
        help="The image store this host shares with nubis-api ([api] images_path names "
        "the same directory): snapshots are written there. Empty: <state_path>/images, "
        "nubis-api's default (a directory under the system's temporary directory when "
        "the process has no state_path).",
    ),
    cfg.IntOpt(
        "live_migration_steps",
        default=4,
        min=1,
        help="Number of progress reports of a fake live migration.",
    ),
]

MiB = 1024**2
#: Lines of console output a fake guest keeps (the oldest go first).
CONSOLE_LINES = 2000

_REGISTRY: dict[str, FakeDriver] = {}
_REGISTRY_LOCK = threading.Lock()


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``[fake_driver]`` options (entry point ``oslo.config.opts: nubis.virt.fake``)."""
    return [(GROUP.name, list(OPTS))]


def registered_hosts() -> list[str]:
    """Return the names of the fake hosts initialised in this process."""
    with _REGISTRY_LOCK:
        return sorted(_REGISTRY)


@dataclasses.dataclass
class FakeGuest:
    uuid: str
    name: str
    memory_mb: int
    vcpus: int
    root_gb: int
    node: str
    state: int = power_state.RUNNING
    image_ref: str = ""
    boots: int = 0
    console: list[str] = dataclasses.field(default_factory=list)
    booted_at: float = 0.0  # time.monotonic() of the last boot
    rescue_image: str | None = None  # rescued from this image ("": no rescue disk)

    def log(self, *lines: str) -> None:
        """Append *lines* to the console log, keeping the newest CONSOLE_LINES."""
        self.console.extend(lines)
        del self.console[:-CONSOLE_LINES]

    def boot(self) -> None:
        """Log a boot, as a Linux guest with its console on ttyS0 would."""
        self.boots += 1
        self.booted_at = time.monotonic()
        image = self.image_ref or "none (diskless)"
        if self.rescue_image is not None:
            image = f"{self.rescue_image or 'none'} (rescue; its own disk {image} second)"
        self.log(
            "[    0.000000] Linux version 6.1.0-nubis-fake (nubis@fake) #1 SMP PREEMPT_DYNAMIC",
            "[    0.000000] Command line: console=ttyS0,115200 root=/dev/vda1 ro",
            f"[    0.004000] Memory: {self.memory_mb * 1024}K available",
            f"[    0.008000] smpboot: Allowing {self.vcpus} CPUs, 0 hotplug CPUs",
            "[    0.120000] Freeing unused kernel image memory: 2048K",
            "[    0.121000] Run /sbin/init as init process",
            f"[    0.300000] systemd[1]: Hostname set to <{self.name}>.",
            f"nubis fake guest {self.uuid}: boot {self.boots}, image {image}",
            "[  OK  ] Reached target Multi-User System.",
            "",
            f"{self.name} login: ",
        )

    def shut_down(self) -> None:
        """Log a shutdown."""
        self.log(
            "[  OK  ] Stopped target Multi-User System.",
            "[  OK  ] Reached target Power-Off.",
            "[   42.000000] reboot: Power down",
        )


@dataclasses.dataclass
class _Migration:
    aborted: threading.Event = dataclasses.field(default_factory=threading.Event)

    def abort(self) -> None:
        self.aborted.set()


class FakeDriver(FakePower, FakeRescue, FakeSnapshots, driver.ComputeDriver):
    """The in-memory driver; construct as ``FakeDriver(conf)``."""

    capabilities: Mapping[str, bool] = {
        "supports_live_migration": True,
        "supports_reboot_soft": True,
        "supports_clean_shutdown": True,
        "supports_lifecycle_events": True,
        "supports_multiple_nodes": True,
        "supports_console_output": True,
        "supports_rebuild": True,
        "supports_snapshot": True,
        "supports_pause": True,
        "supports_suspend": True,
        "supports_diagnostics": True,
        "supports_host_uptime": True,
        "supports_rescue": True,
    }

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        # A fresh OptGroup per ConfigOpts: oslo.config keeps overrides in the group.
        conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
        conf.register_opts(OPTS, group=GROUP.name)
        self.host: str | None = None
        self._lock = threading.RLock()
        self._guests: dict[str, FakeGuest] = {}
        self._incoming: set[str] = set()
        self._migrations: lm.ActiveMigrations[_Migration] = lm.ActiveMigrations()
        self._available = True
        self._spawn_failures: list[str] = []

    # --- helpers -----------------------------------------------------------------------

    @property
    def _opts(self) -> Any:
        return self.conf.fake_driver

    def _ready(self) -> str:
        if self.host is None:
            raise exception.VirtDriverNotReady(driver="fake", reason="init_host() not called")
        if not self._available:
            raise exception.HypervisorUnavailable(
                uri=f"fake://{self.host}", reason="made unavailable by the test"
            )
        return self.host

    def _nodes(self) -> list[str]:
        return list(self._opts.nodes) or [self._ready()]

    def _guest(self, instance: Any) -> FakeGuest:
        self._ready()
        guest = self._guests.get(instance.uuid)
        if guest is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return guest

    def _set_state(self, guest: FakeGuest, state: int) -> None:
        if guest.state == state:
            return
        guest.state = state
        transition = {
            power_state.RUNNING: events.STARTED,
            power_state.SHUTDOWN: events.STOPPED,
            power_state.CRASHED: events.STOPPED,
            power_state.PAUSED: events.PAUSED,
            power_state.SUSPENDED: events.PAUSED,
        }.get(state)
        if transition is not None:
            self.emit_event(events.LifecycleEvent(guest.uuid, transition))

    # --- host --------------------------------------------------------------------------

    def init_host(self, host: str) -> None:
        with _REGISTRY_LOCK:
            other = _REGISTRY.get(host)
            if other is not None and other is not self:
                raise exception.ConfigurationError(
                    option="[DEFAULT] host",
                    reason=f"a fake compute host named {host!r} is already running in this process",
                )
            _REGISTRY[host] = self
        self.host = host
        self.host_started_at = time.monotonic()

    def cleanup_host(self, host: str) -> None:
        with _REGISTRY_LOCK:
            if _REGISTRY.get(host) is self:
                del _REGISTRY[host]
        self.flush_events(timeout=5)

    def is_hypervisor_available(self) -> bool:
        return self._available

    def get_host_ip_addr(self) -> str:
        return str(self._opts.host_ip)

    # --- fault injection (tests) -------------------------------------------------------

    def set_hypervisor_available(self, available: bool, reason: str = "") -> None:
        """Make the fake hypervisor unreachable (methods raise HypervisorUnavailable) or back."""
        if available == self._available:
            return
        self._available = available
        reason = reason or ("connection restored" if available else "connection lost")
        self.emit_event(events.HypervisorStatusEvent(available=available, reason=reason))

    def inject_power_state(self, instance_uuid: str, state: int) -> None:
        """Change a guest's power state as if it happened on the hypervisor (with events)."""
        with self._lock:
            guest = self._guests.get(instance_uuid)
            if guest is None:
                raise exception.InstanceNotFound(instance_id=instance_uuid)
            self._set_state(guest, state)

    def fail_next_spawns(self, count: int, reason: str = "injected spawn failure") -> None:
        """Make the next *count* spawns or rebuilds on this host raise
        InstanceSpawnFailure (replacing any injected failures still pending; 0 clears
        them). A failed rebuild leaves no guest, as a failed spawn does."""
        with self._lock:
            self._spawn_failures = [reason] * count

    # --- guests ------------------------------------------------------------------------

    def spawn(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        nodes = self._nodes()
        with self._lock:
            if instance.uuid in self._guests:
                raise exception.InstanceExists(instance_uuid=instance.uuid)
            if self._spawn_failures:
                raise exception.InstanceSpawnFailure(
                    instance_uuid=instance.uuid, reason=self._spawn_failures.pop(0)
                )
            guest = FakeGuest(
                uuid=instance.uuid,
                name=instance.name,
                memory_mb=int(instance.memory_mb or 0),
                vcpus=int(instance.vcpus or 0),
                root_gb=int(instance.root_gb or 0),
                node=instance.node if instance.node in nodes else nodes[0],
                state=power_state.SHUTDOWN,
                image_ref=str(instance.image_ref or ""),
            )
            self._guests[instance.uuid] = guest
            guest.boot()
            self._set_state(guest, power_state.RUNNING)

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
            guest = self._guests.pop(instance.uuid, None)
            if guest is not None and guest.state != power_state.SHUTDOWN:
                self.emit_event(events.LifecycleEvent(guest.uuid, events.STOPPED))

    def power_off(self, instance: Any, timeout: float = 0, retry_interval: float = 0) -> None:
        with self._lock:
            guest = self._guest(instance)
            if guest.state != power_state.SHUTDOWN:
                guest.shut_down()
            self._set_state(guest, power_state.SHUTDOWN)

    def power_on(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        with self._lock:
            guest = self._guest(instance)
            if guest.state != power_state.RUNNING:
                guest.boot()
            self._set_state(guest, power_state.RUNNING)

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
        with self._lock:
            guest = self._guest(instance)
            if guest.state == power_state.RUNNING:
                guest.log("[   42.000000] reboot: Restarting system")
            self._set_state(guest, power_state.SHUTDOWN)
            guest.boot()
            self._set_state(guest, power_state.RUNNING)

    def rebuild(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        preserve_ephemeral: bool = False,
    ) -> None:
        with self._lock:
            guest = self._guest(instance)
            self._set_state(guest, power_state.SHUTDOWN)
            if self._spawn_failures:
                del self._guests[guest.uuid]
                raise exception.InstanceSpawnFailure(
                    instance_uuid=instance.uuid, reason=self._spawn_failures.pop(0)
                )
            guest.image_ref = str(instance.image_ref or "")
            guest.console.clear()
            guest.boots = 0
            guest.boot()
            self._set_state(guest, power_state.RUNNING)

    def get_console_output(self, instance: Any) -> str:
        with self._lock:
            lines = self._guest(instance).console
            text = "\n".join(lines) + "\n" if lines else ""
        data = text.encode()
        if len(data) > driver.MAX_CONSOLE_BYTES:
            # Valid UTF-8 but for a character the cut may halve: drop its bytes.
            text = data[-driver.MAX_CONSOLE_BYTES :].decode("utf-8", errors="ignore")
        return text

    def get_info(self, instance: Any) -> driver.InstanceInfo:
        with self._lock:
            guest = self._guest(instance)
            return driver.InstanceInfo(state=guest.state, internal_id=guest.uuid)

    def list_instances(self) -> list[str]:
        self._ready()
        with self._lock:
            return [g.name for g in self._guests.values()]

    def list_instance_uuids(self) -> list[str]:
        self._ready()
        with self._lock:
            return list(self._guests)

    # --- nodes and resources -----------------------------------------------------------

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        return self._nodes()

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        if nodename not in self._nodes():
            raise exception.ComputeHostNodeNotFound(host=self.host, nodename=nodename)
        opts = self._opts
        with self._lock:
            guests = [g for g in self._guests.values() if g.node == nodename]
        disk_used = sum(g.root_gb for g in guests)
        return {
            "vcpus": opts.vcpus,
            "memory_mb": opts.memory_mb,
            "local_gb": opts.local_gb,
            "vcpus_used": sum(g.vcpus for g in guests),
            "memory_mb_used": sum(g.memory_mb for g in guests),
            "local_gb_used": disk_used,
            "hypervisor_type": "fake",
            "hypervisor_version": 1000,
            "hypervisor_hostname": nodename,
            "cpu_info": hardware.cpu_info("x86_64", "fake", "nubis", 1, opts.vcpus, 1),
            "disk_available_least": opts.local_gb - disk_used,
            "supported_instances": [["x86_64", "fake", "hvm"]],
        }

    # --- live migration ----------------------------------------------------------------

    def check_can_live_migrate_destination(
        self,
        context: Any,
        instance: Any,
        src_compute_info: Mapping[str, Any],
        dst_compute_info: Mapping[str, Any],
        block_migration: bool = False,
    ) -> dict[str, Any]:
        host = self._ready()
        src_type = (src_compute_info or {}).get("hypervisor_type", "fake")
        if src_type != "fake":
            raise exception.MigrationPreCheckError(
                instance_uuid=instance.uuid,
                reason=f"source hypervisor {src_type} is not fake",
            )
        node = self._nodes()[0]
        free = self._opts.memory_mb - self.get_available_resource(node)["memory_mb_used"]
        if (instance.memory_mb or 0) > free:
            raise exception.MigrationPreCheckError(
                instance_uuid=instance.uuid,
                reason=f"destination {host} has {free} MiB free, needs {instance.memory_mb}",
            )
        return {lm.DEST_HOST: host, lm.BLOCK_MIGRATION: block_migration, "fake_dest_node": node}

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        host = self._ready()
        with self._lock:
            guest = self._guest(instance)
            if guest.state != power_state.RUNNING:
                raise exception.MigrationPreCheckError(
                    instance_uuid=instance.uuid,
                    reason=f"guest is {power_state.name(guest.state)}, not running",
                )
        dest = dest_check_data.get(lm.DEST_HOST)
        if dest == host:
            raise exception.MigrationPreCheckError(
                instance_uuid=instance.uuid, reason=f"destination {dest} is this host"
            )
        with _REGISTRY_LOCK:
            if dest not in _REGISTRY:
                raise exception.MigrationPreCheckError(
                    instance_uuid=instance.uuid,
                    reason=f"no fake host {dest!r} runs in this process",
                )
        return dict(dest_check_data)

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
        with self._lock:
            if instance.uuid in self._guests:
                raise exception.MigrationPreCheckError(
                    instance_uuid=instance.uuid, reason=f"guest already exists on {self.host}"
                )
            self._incoming.add(instance.uuid)
        return migrate_data

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
        with self._lock:
            guest = self._guests.get(instance.uuid)
        try:
            if guest is None:
                error = f"guest {instance.uuid} is not on {self.host}"
            else:
                with self._migrations.running(instance.uuid, _Migration()) as job:
                    result, error = self._copy(guest, dest, job, data)
        except Exception as exc:  # every failure goes to recover_method
            result, error = lm.RESULT_FAILED, exception.one_line(exc)
        lm.report_outcome(
            context, instance, dest, block_migration, data, result, error, post_method,
            recover_method,
        )

    def _copy(
        self, guest: FakeGuest, dest: str, job: _Migration, data: dict[str, Any]
    ) -> tuple[str, str]:
        """Simulate the memory copy, then move *guest* to *dest*; return (result, error)."""
        opts = self._opts
        steps = opts.live_migration_steps
        total = guest.memory_mb * MiB
        started = time.monotonic()
        callback = data.get(lm.PROGRESS_CALLBACK)
        for step in range(1, steps + 1):
            if job.aborted.wait(opts.live_migration_seconds / steps):
                return lm.RESULT_CANCELLED, "aborted by request"
            if callable(callback):
                done = total * step // steps
                progress = lm.MigrationProgress(
                    elapsed=time.monotonic() - started,
                    memory_total=total,
                    memory_processed=done,
                    memory_remaining=total - done,
                )
                lm.report_progress(callback, progress, guest.uuid)
        with _REGISTRY_LOCK:
            target = _REGISTRY.get(dest)
        if target is None:
            return lm.RESULT_FAILED, f"fake host {dest!r} went away during the migration"
        if not target.is_hypervisor_available():
            return lm.RESULT_FAILED, f"fake host {dest!r} is unavailable"
        # Both hosts' locks, always taken in host-name order (no deadlock between two
        # migrations in opposite directions).
        first, second = sorted((self, target), key=lambda d: d.host or "")
        with first._lock, second._lock:
            if job.aborted.is_set():
                return lm.RESULT_CANCELLED, "aborted by request"
            if guest.uuid in target._guests:
                return lm.RESULT_FAILED, f"guest already exists on {dest}"
            del self._guests[guest.uuid]
            node = data.get("fake_dest_node")
            target_nodes = target._nodes()
            moved = dataclasses.replace(
                guest, node=node if node in target_nodes else target_nodes[0]
            )
            target._guests[guest.uuid] = moved
            target._incoming.discard(guest.uuid)
        self.emit_event(events.LifecycleEvent(guest.uuid, events.MIGRATION_COMPLETED))
        return lm.RESULT_COMPLETED, ""

    def live_migration_abort(self, instance: Any) -> None:
        self._migrations.get(instance.uuid).abort()

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_migration: bool = False,
        block_device_info: Any = None,
    ) -> None:
        with self._lock:
            self._guest(instance)
            self._incoming.discard(instance.uuid)

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
            self._incoming.discard(instance.uuid)
