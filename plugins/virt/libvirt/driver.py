"""LibvirtDriver: the ComputeDriver on libvirt-python (``nubis.virt: libvirt``).

Guests are persistent libvirt domains named ``instance.name`` with ``instance.uuid``
(see :mod:`.guest_xml`); their overlay disks and serial console logs (``console.log``,
read back by get_console_output) live in ``[libvirt] instances_path/<uuid>``.
One connection (:mod:`.host`) serves every call; when it is lost the driver reports
itself unavailable (``is_hypervisor_available()``, a HypervisorStatusEvent) until the
connection is back.

Live migration is peer-to-peer (``migrateToURI3`` with LIVE | PEER2PEER | PERSIST_DEST |
UNDEFINE_SOURCE, see :mod:`.migration`). The destination tells the source how its
libvirtd is reached (``[libvirt] live_migration_uri``, in migrate_data as
``libvirt_migration_uri``) and its host UUID (``libvirt_host_uuid``: a "destination"
with the source's UUID is the same host) and its instances_path
(``libvirt_instances_path``: the guest's console log moves to the destination's
directory of the guest; see :mod:`.instance_files`). Only diskless guests, or guests
whose instances_path is shared by both hosts (``instances_path_shared``), can move;
block migration is refused.

On a ``test:///`` URI (libvirt's in-process test driver, ``virt_type = test``) nothing
really runs and nothing can migrate: the driver withdraws ``supports_live_migration``
and its live-migration checks raise LiveMigrationNotSupported naming the URI.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Mapping
from typing import Any

import libvirt
from oslo_config import cfg

from nubis.core import exception
from nubis.core.virt import console, driver, events, hardware, power_state
from nubis.core.virt import migration as lm
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from nubis.plugins.virt.libvirt import guest_xml, host_resources, power, qcow2
from nubis.plugins.virt.libvirt import instance_files as files
from nubis.plugins.virt.libvirt.host import Host, error_code, is_test_uri
from nubis.plugins.virt.libvirt.migration import LiveMigrationJob, migration_params
from nubis.plugins.virt.libvirt.rescue import LibvirtRescue
from nubis.plugins.virt.libvirt.snapshot import LibvirtSnapshots
from nubis.plugins.virt.libvirt.states import POWER_STATES, lifecycle_transition

LOG = logging.getLogger(__name__)

GiB = 1024**3
POLL = 0.05  # seconds between state polls while waiting for a guest

class LibvirtDriver(LibvirtRescue, LibvirtSnapshots, power.LibvirtPower, driver.ComputeDriver):
    """The libvirt driver; construct as ``LibvirtDriver(conf)``."""

    capabilities: Mapping[str, bool] = {
        "supports_live_migration": True,
        "supports_reboot_soft": True,
        "supports_clean_shutdown": True,
        "supports_lifecycle_events": True,
        "supports_multiple_nodes": False,
        "supports_console_output": True,
        "supports_snapshot": True,
        "supports_rescue": True,
        **power.CAPABILITIES,
    }

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        libvirt_conf.register_opts(conf)
        self.uri = conf.libvirt.connection_uri or libvirt_conf.DEFAULT_URIS[conf.libvirt.virt_type]
        self.domain_type = "test" if is_test_uri(self.uri) else conf.libvirt.virt_type
        if is_test_uri(self.uri):
            self.capabilities = {**type(self).capabilities, "supports_live_migration": False}
        self.host_name: str | None = None
        self._host: Host | None = None
        self._caps: guest_xml.HostCapabilities | None = None
        self._nodename: str | None = None
        self._migrations: lm.ActiveMigrations[LiveMigrationJob] = lm.ActiveMigrations()

    # --- helpers -----------------------------------------------------------------------

    @property
    def _opts(self) -> Any:
        return self.conf.libvirt

    def _conn(self) -> libvirt.virConnect:
        if self._host is None:
            raise exception.VirtDriverNotReady(driver="libvirt", reason="init_host() not called")
        return self._host.get_connection()

    def _guard(self, conn: libvirt.virConnect) -> Any:
        assert self._host is not None
        return self._host.guard(conn)

    def _lookup(self, conn: libvirt.virConnect, uuid: str) -> libvirt.virDomain | None:
        with self._guard(conn):
            try:
                return conn.lookupByUUIDString(uuid)
            except libvirt.libvirtError as exc:
                if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                    return None
                raise

    def _domain(self, instance: Any) -> tuple[libvirt.virConnect, libvirt.virDomain]:
        conn = self._conn()
        dom = self._lookup(conn, instance.uuid)
        if dom is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return conn, dom

    def _state(self, conn: libvirt.virConnect, dom: libvirt.virDomain) -> int:
        with self._guard(conn):
            try:
                state, _reason = dom.state()
            except libvirt.libvirtError as exc:
                if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                    raise exception.InstanceNotFound(instance_id=dom.UUIDString()) from exc
                raise
        return POWER_STATES.get(state, power_state.NOSTATE)

    def _wait_state(
        self, conn: libvirt.virConnect, dom: libvirt.virDomain, wanted: int, timeout: float
    ) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._state(conn, dom) == wanted:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    def _is_nubis_guest(self, dom: libvirt.virDomain) -> bool:
        try:
            dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, guest_xml.NAMESPACE, 0)
        except libvirt.libvirtError as exc:
            if error_code(exc) in (libvirt.VIR_ERR_NO_DOMAIN_METADATA, libvirt.VIR_ERR_NO_DOMAIN):
                return False
            raise
        return True

    def _guests(self) -> list[libvirt.virDomain]:
        conn = self._conn()
        with self._guard(conn):
            return [d for d in conn.listAllDomains(0) if self._is_nubis_guest(d)]

    def _instance_dir(self, uuid: str) -> str:
        return files.instance_dir(self._opts.instances_path, uuid)

    def _base_image(self, image_ref: str) -> str:
        path = (
            image_ref
            if os.path.isabs(image_ref)
            else os.path.join(self._opts.images_path, image_ref)
        )
        if not os.path.isfile(path):
            raise FileNotFoundError(f"base image {path} does not exist")
        return path

    def _on_lifecycle(self, uuid: str, event: int, detail: int) -> None:
        transition = lifecycle_transition(event, detail)
        if transition is not None:
            self.emit_event(events.LifecycleEvent(uuid, transition))

    def _on_status(self, available: bool, reason: str) -> None:
        self.emit_event(events.HypervisorStatusEvent(available=available, reason=reason))

    def _on_connect(self, conn: libvirt.virConnect) -> None:
        self._caps = guest_xml.parse_capabilities(conn.getCapabilities())

    # --- host --------------------------------------------------------------------------

    def init_host(self, host: str) -> None:
        if self._opts.virt_type == "test" and not is_test_uri(self.uri):
            raise exception.ConfigurationError(
                option="[libvirt] virt_type",
                reason=f"test needs a test:/// connection_uri, not {self.uri}",
            )
        self.host_name = host
        self._host = Host(
            self.uri,
            on_lifecycle=self._on_lifecycle,
            on_status=self._on_status,
            reconnect_interval=self._opts.reconnect_interval,
            keepalive=(self._opts.keepalive_interval, self._opts.keepalive_count),
            on_connect=self._on_connect,
        )
        self._host.connect()
        assert self._caps is not None
        if self.domain_type not in self._caps.domain_types():
            offered = ", ".join(sorted(self._caps.domain_types())) or "none"
            self._host.close()
            raise exception.ConfigurationError(
                option="[libvirt] virt_type",
                reason=f"{self.uri} offers no {self.domain_type} guests (offers: {offered})",
            )
        LOG.info("libvirt driver connected to %s (%s guests)", self.uri, self.domain_type)

    def cleanup_host(self, host: str) -> None:
        for job in self._migrations.jobs():
            job.abort("aborted: the compute service is stopping")
        if self._host is not None:
            self._host.close()
        self.flush_events(timeout=5)

    def is_hypervisor_available(self) -> bool:
        return self._host is not None and self._host.available

    def get_host_ip_addr(self) -> str:
        return hardware.host_ip(self._opts.host_ip, self.host_name)

    # --- guests ------------------------------------------------------------------------

    def spawn(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        conn = self._conn()
        if self._lookup(conn, instance.uuid) is not None:
            raise exception.InstanceExists(instance_uuid=instance.uuid)
        instance_dir = self._instance_dir(instance.uuid)
        dom = None
        try:
            disk = None
            files.make_dir(self._opts.instances_path, instance.uuid)
            if instance.image_ref:
                base = self._base_image(instance.image_ref)
                disk = os.path.join(instance_dir, files.DISK)
                size = max(qcow2.virtual_size(base), int(instance.root_gb or 0) * GiB)
                self._root_disk(instance, base, disk, size)
            log = os.path.join(instance_dir, files.CONSOLE_LOG)
            spec = guest_xml.spec_from_instance(instance, self.domain_type, disk, log)
            with self._guard(conn):
                dom = conn.defineXML(guest_xml.domain_xml(spec))
                dom.create()
        except exception.HypervisorUnavailable:
            raise
        except (libvirt.libvirtError, OSError, ValueError) as exc:
            self._remove(conn, dom, instance_dir)
            raise exception.InstanceSpawnFailure(
                instance_uuid=instance.uuid, reason=" ".join(str(exc).split())
            ) from exc
        LOG.info("spawned %s (%s) on %s", instance.uuid, instance.name, self.uri)

    def _remove(
        self, conn: libvirt.virConnect, dom: libvirt.virDomain | None, instance_dir: str | None
    ) -> None:
        """Stop and undefine *dom*, delete *instance_dir*; tolerate what is already gone."""
        if dom is not None:
            with self._guard(conn):
                for attempt in range(3):
                    try:
                        if dom.isActive():
                            dom.destroy()
                        break
                    except libvirt.libvirtError as exc:
                        if error_code(exc) == libvirt.VIR_ERR_NO_DOMAIN:
                            break
                        if attempt == 2 or error_code(exc) != libvirt.VIR_ERR_OPERATION_TIMEOUT:
                            raise
                        time.sleep(0.5)  # QEMU slow to die: try again
                try:
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                except libvirt.libvirtError as exc:
                    if error_code(exc) not in (
                        libvirt.VIR_ERR_NO_DOMAIN,
                        libvirt.VIR_ERR_OPERATION_INVALID,
                    ):
                        raise
        if instance_dir and os.path.isdir(instance_dir):
            shutil.rmtree(instance_dir, ignore_errors=True)

    def destroy(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
        destroy_disks: bool = True,
    ) -> None:
        conn = self._conn()
        dom = self._lookup(conn, instance.uuid)
        self._remove(conn, dom, self._instance_dir(instance.uuid) if destroy_disks else None)

    def power_off(self, instance: Any, timeout: float = 0, retry_interval: float = 0) -> None:
        conn, dom = self._domain(instance)
        if self._state(conn, dom) == power_state.SHUTDOWN:
            return
        if timeout > 0 and self._clean_shutdown(conn, dom, timeout, retry_interval):
            return
        with self._guard(conn):
            try:
                dom.destroy()
            except libvirt.libvirtError as exc:
                if error_code(exc) != libvirt.VIR_ERR_OPERATION_INVALID:  # already off
                    raise
        self._wait_state(conn, dom, power_state.SHUTDOWN, 10)

    def _clean_shutdown(
        self, conn: libvirt.virConnect, dom: libvirt.virDomain, timeout: float, retry: float
    ) -> bool:
        """Ask the guest to shut down, again every *retry* s; True once it is off."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._guard(conn):
                try:
                    dom.shutdown()
                except libvirt.libvirtError as exc:
                    if error_code(exc) == libvirt.VIR_ERR_OPERATION_INVALID:  # already off
                        return True
                    raise
            wait = (
                min(retry, deadline - time.monotonic())
                if retry > 0
                else deadline - time.monotonic()
            )
            if self._wait_state(conn, dom, power_state.SHUTDOWN, max(0.0, wait)):
                return True
        return False

    def power_on(
        self,
        context: Any,
        instance: Any,
        network_info: Any = None,
        block_device_info: Any = None,
    ) -> None:
        conn, dom = self._domain(instance)
        if self._state(conn, dom) == power_state.RUNNING:
            return
        with self._guard(conn):
            if self._state(conn, dom) == power_state.PAUSED:
                dom.resume()
            else:
                dom.create()

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
        conn, dom = self._domain(instance)
        running = self._state(conn, dom) == power_state.RUNNING
        if reboot_type == driver.REBOOT_SOFT and running:
            if self._clean_shutdown(conn, dom, self._opts.wait_soft_reboot_seconds, 0):
                with self._guard(conn):
                    dom.create()
                return
            LOG.info(
                "instance %s did not shut down within %s s; rebooting it hard",
                instance.uuid,
                self._opts.wait_soft_reboot_seconds,
            )
        with self._guard(conn):
            if dom.isActive():
                dom.destroy()
            self._boot_fresh(dom)

    def get_console_output(self, instance: Any) -> str:
        conn, dom = self._domain(instance)
        with self._guard(conn):
            path = guest_xml.console_log_path(dom.XMLDesc(0))
        if path is None:
            return ""  # defined without a console log (before nubis logged consoles)
        try:
            return console.read_log_tail(path)
        except OSError as exc:
            raise exception.ConfigurationError(
                option="[libvirt] instances_path",
                reason=f"cannot read the console log of {instance.uuid}: {exc}",
            ) from exc

    def get_info(self, instance: Any) -> driver.InstanceInfo:
        conn, dom = self._domain(instance)
        state = self._state(conn, dom)
        with self._guard(conn):
            internal = dom.ID()
        return driver.InstanceInfo(state=state, internal_id=str(internal) if internal > 0 else None)

    def list_instances(self) -> list[str]:
        return [d.name() for d in self._guests()]

    def list_instance_uuids(self) -> list[str]:
        return [d.UUIDString() for d in self._guests()]

    # --- nodes and resources -----------------------------------------------------------

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        """The one node: the hypervisor's host name; on a test:/// URI (a simulated
        host inside this process, where every one would report this machine's name)
        the compute host's name, so that several of them can be told apart."""
        if refresh or self._nodename is None:
            if is_test_uri(self.uri) and self.host_name:
                self._nodename = self.host_name
            else:
                conn = self._conn()
                with self._guard(conn):
                    self._nodename = str(conn.getHostname())
        return [self._nodename]

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        if nodename not in self.get_available_nodes():
            raise exception.ComputeHostNodeNotFound(host=self.host_name, nodename=nodename)
        conn = self._conn()
        caps = self._caps
        assert caps is not None
        with self._guard(conn):
            info = conn.getInfo()
            memory_mb, memory_used_mb = host_resources.memory_mb(conn, info)
            vcpus_used = 0
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                try:
                    vcpus_used += int(dom.info()[3])
                except libvirt.libvirtError as exc:  # went away meanwhile
                    if error_code(exc) != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
            hv_type = str(conn.getType())
            hv_version = int(conn.getVersion())
        instances_path = self._opts.instances_path
        total_gb, used_gb, free_gb = hardware.disk_usage_gb(
            host_resources.existing_ancestor(instances_path)
        )
        return {
            "vcpus": int(info[2]),
            "memory_mb": memory_mb,
            "local_gb": total_gb,
            "vcpus_used": vcpus_used,
            "memory_mb_used": memory_used_mb,
            "local_gb_used": used_gb,
            "hypervisor_type": hv_type,
            "hypervisor_version": hv_version,
            "hypervisor_hostname": nodename,
            "cpu_info": caps.cpu_info,
            "disk_available_least": free_gb - host_resources.overcommitted_gb(instances_path),
            "supported_instances": [
                [arch, dtype, os_type]
                for arch, dtype, os_type in caps.guests
                if dtype == self.domain_type
            ],
        }

    # --- live migration ----------------------------------------------------------------

    def _require_live_migration(self) -> None:
        if not self.has_capability("supports_live_migration"):
            raise exception.LiveMigrationNotSupported(
                driver=f"libvirt on {self.uri}",
                reason="libvirt's test driver cannot migrate guests"
                if is_test_uri(self.uri)
                else "this connection cannot migrate guests",
            )

    def _migration_uri(self, host: str) -> str:
        template = str(self._opts.live_migration_uri)
        return template % host if "%s" in template else template

    def check_can_live_migrate_destination(
        self,
        context: Any,
        instance: Any,
        src_compute_info: Mapping[str, Any],
        dst_compute_info: Mapping[str, Any],
        block_migration: bool = False,
    ) -> dict[str, Any]:
        self._require_live_migration()
        conn = self._conn()
        caps = self._caps
        assert caps is not None and self.host_name is not None

        def refuse(reason: str) -> exception.MigrationPreCheckError:
            return exception.MigrationPreCheckError(instance_uuid=instance.uuid, reason=reason)

        if block_migration:
            raise refuse("block migration is not supported by the libvirt driver")
        with self._guard(conn):
            my_type, my_version = str(conn.getType()), int(conn.getVersion())
        src = dict(src_compute_info or {})
        if src.get("hypervisor_type") and src["hypervisor_type"] != my_type:
            raise refuse(f"source hypervisor is {src['hypervisor_type']}, destination {my_type}")
        if src.get("hypervisor_version") and int(src["hypervisor_version"]) > my_version:
            raise refuse(
                f"destination hypervisor version {my_version} is older than the source's "
                f"{src['hypervisor_version']}"
            )
        if src.get("cpu_info"):
            self._compare_cpu(conn, str(src["cpu_info"]), refuse)
        return {
            lm.DEST_HOST: self.host_name,
            lm.BLOCK_MIGRATION: False,
            "libvirt_migration_uri": self._migration_uri(self.host_name),
            "libvirt_host_uuid": caps.host_uuid,
            "libvirt_shared_storage": bool(self._opts.instances_path_shared),
            files.INSTANCES_PATH_KEY: str(self._opts.instances_path),
        }

    def _compare_cpu(self, conn: libvirt.virConnect, cpu_info: str, refuse: Any) -> None:
        try:
            xml = guest_xml.cpu_xml_from_info(cpu_info)
        except ValueError:
            raise refuse("the source's cpu_info is not JSON") from None
        with self._guard(conn):
            try:
                verdict = conn.compareCPU(xml, 0)
            except libvirt.libvirtError as exc:
                LOG.warning("cannot compare the source CPU with this host's: %s", exc)
                return
        if verdict == libvirt.VIR_CPU_COMPARE_INCOMPATIBLE:
            raise refuse("the source host's CPU is incompatible with this host's CPU")

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        self._require_live_migration()
        conn, dom = self._domain(instance)
        caps = self._caps
        assert caps is not None

        def refuse(reason: str) -> exception.MigrationPreCheckError:
            return exception.MigrationPreCheckError(instance_uuid=instance.uuid, reason=reason)

        state = self._state(conn, dom)
        if state != power_state.RUNNING:
            raise refuse(f"the guest is {power_state.name(state)}, not running")
        dest = dest_check_data.get(lm.DEST_HOST)
        if dest_check_data.get("libvirt_host_uuid") == caps.host_uuid or dest == self.host_name:
            raise refuse(f"destination {dest} is this very host (host UUID {caps.host_uuid})")
        with self._guard(conn):
            disks = guest_xml.disk_paths(dom.XMLDesc(0))
        shared = self._opts.instances_path_shared and dest_check_data.get("libvirt_shared_storage")
        if disks and not shared:
            raise refuse(
                f"the guest has local disks ({', '.join(disks)}) and instances_path is not "
                "shared with the destination; block migration is not supported"
            )
        return {**dest_check_data, "libvirt_source_host": self.host_name}

    def pre_live_migration(
        self,
        context: Any,
        instance: Any,
        block_device_info: Any,
        network_info: Any,
        disk_info: Any,
        migrate_data: dict[str, Any],
    ) -> dict[str, Any]:
        self._require_live_migration()
        conn = self._conn()
        if self._lookup(conn, instance.uuid) is not None:
            raise exception.MigrationPreCheckError(
                instance_uuid=instance.uuid,
                reason=f"a guest with this uuid already exists on {self.host_name}",
            )
        if instance.image_ref:
            try:
                self._base_image(instance.image_ref)
            except FileNotFoundError as exc:
                raise exception.MigrationPreCheckError(
                    instance_uuid=instance.uuid, reason=str(exc)
                ) from exc
        return {**migrate_data, **files.prepare_incoming(self._opts.instances_path, instance.uuid)}

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
        self._require_live_migration()
        data: dict[str, Any] = migrate_data if migrate_data is not None else {}
        result, error = lm.RESULT_FAILED, ""
        try:
            _conn, dom = self._domain(instance)
            dest_uri = data.get("libvirt_migration_uri") or self._migration_uri(dest)
            dest_dir = data.get(files.INSTANCES_PATH_KEY) or self._opts.instances_path
            params = migration_params(
                dom,
                self._opts.live_migration_bandwidth,
                os.path.join(files.instance_dir(dest_dir, instance.uuid), files.CONSOLE_LOG),
            )
            memory_gib = max(1.0, int(instance.memory_mb or 0) / 1024)
            progress = data.get(lm.PROGRESS_CALLBACK)
            job = LiveMigrationJob(
                dom,
                dest_uri,
                params,
                progress if callable(progress) else None,
                interval=self._opts.live_migration_progress_interval,
                timeout=self._opts.live_migration_completion_timeout * memory_gib,
                abort_timeout=self._opts.live_migration_abort_timeout,
            )
            LOG.info("live-migrating %s to %s (%s)", instance.uuid, dest, dest_uri)
            started = time.monotonic()
            with self._migrations.running(instance.uuid, job):
                result, error = job.run()
            if result == lm.RESULT_COMPLETED:
                files.forget_outgoing(self._opts.instances_path, instance.uuid, data)
            LOG.info(
                "live migration of %s to %s: %s after %.1f s%s",
                instance.uuid,
                dest,
                result,
                time.monotonic() - started,
                f" ({error})" if error else "",
            )
        except Exception as exc:  # every failure goes to recover_method
            result, error = lm.RESULT_FAILED, exception.one_line(exc)
        lm.report_outcome(
            context, instance, dest, block_migration, data, result, error, post_method,
            recover_method,
        )

    def live_migration_abort(self, instance: Any) -> None:
        self._require_live_migration()
        self._migrations.get(instance.uuid).abort()

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_migration: bool = False,
        block_device_info: Any = None,
    ) -> None:
        self._require_live_migration()
        conn, dom = self._domain(instance)
        with self._guard(conn):
            if not dom.isPersistent():  # PERSIST_DEST normally did this already
                conn.defineXML(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        files.settle_incoming(self._opts.instances_path, instance.uuid)

    def rollback_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        network_info: Any,
        block_device_info: Any,
        destroy_disks: bool = True,
        migrate_data: dict[str, Any] | None = None,
    ) -> None:
        self._require_live_migration()
        conn = self._conn()
        dom = self._lookup(conn, instance.uuid)
        # The guest's disks stay: on shared storage they are the source guest's disks.
        shared = bool(self._opts.instances_path_shared)
        self._remove(conn, dom, None)
        files.forget_incoming(
            self._opts.instances_path, instance.uuid, migrate_data, keep=shared or not destroy_disks
        )
