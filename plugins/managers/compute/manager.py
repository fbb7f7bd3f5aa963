"""ComputeManager: the endpoint of nubis-compute (``nubis.managers: compute``).

It serves :class:`nubis.core.compute.rpcapi.ComputeAPI` (its public RPC methods match
that client's one to one) and talks to the hypervisor only through the virt driver that
``[compute] virt_driver`` names, loaded with :func:`nubis.core.plugins.load_one`. Towards
its periodic tasks it is a :class:`nubis.core.compute.host.ComputeHost`: the tasks of
``nubis.periodic_tasks`` use that contract and nothing else of it.

Operations
    Each instance operation moves ``task_state`` with compare-and-swap saves
    (``save(expected_task_state=[...])``): the first save claims the instance for the
    operation -- accepting the task state a caller may already have set, or none -- and
    the last one ends it only if nobody took the instance meanwhile. A refused
    transition (another task or vm_state) is logged and recorded on the action's event,
    and changes nothing. Any other error reverts ``task_state`` to None (a failed build
    or rebuild also sets ``vm_state`` error), records an InstanceFault, and records the event as
    failed. Every user-visible operation records an instance action (started here when
    the caller did not) with an event named like Nova's (``compute_stop_instance``).
    Operations, the power-state sync and the lifecycle-event listener on one instance
    are serialised by a per-instance lock taken with a timeout.

Live migration (docs/architecture.md, flow 3; the message sequence is in
:mod:`nubis.core.compute.rpcapi`)
    The ``live_migration`` cast marks the Migration ``queued`` and the instance
    ``migrating``, hands the work to a thread of its own and returns the RPC worker at
    once. The thread waits for one of ``[compute] max_concurrent_live_migrations``
    slots (polling, so a queued migration can be cancelled), then: ``preparing``
    (pre_live_migration on the destination, an RPC call with a timeout) -> ``running``
    (the driver copies; each progress sample is written to the Migration) ->
    ``completed`` after post_live_migration_at_destination on the destination has moved
    the instance's host and node there. A failure or an abort rolls back on both hosts
    (rollback_live_migration_at_destination on the destination, the instance active
    with no task on the source) and ends ``failed`` or ``cancelled``, or ``error`` when
    the rollback itself or a post-migration step failed. Every RPC call made while a
    slot is held has a timeout (``rpc_response_timeout``).

Hypervisor status
    A HypervisorStatusEvent saying the hypervisor went away disables this host's
    service record (reason ``AUTO: ...``); the one saying it is back enables it again
    (only if it was this manager that disabled it). A lifecycle event of a guest applies
    the power-state rules (:mod:`nubis.core.compute.power_sync`) to its instance; while
    the instance's lock is held (an operation such as a build's spawn, or a sync, is
    under way and sets the power state itself) the event is dropped without reading the
    instance, as the sync would skip a busy instance anyway.

The pieces
    The manager composes collaborators, each seeing it only through
    :class:`~.operations.ManagerView` (host, conf, driver, RPC client):
    :class:`~.operations.Operations` (locks, actions, events, faults around every
    operation), :class:`~.nodes.NodeTrackers` (a resource tracker per node),
    :class:`~.lifecycle.Lifecycle` (build, start, stop, reboot, delete),
    :class:`~.rebuild.Rebuilds` (rebuild, console output),
    :class:`~.snapshots.Snapshots` (createImage, createBackup),
    :class:`~.shelve.Shelves` (shelve, shelveOffload, unshelve),
    :class:`~.power.PowerActions` (pause, suspend, diagnostics, host uptime),
    :class:`~.rescue.Rescues` (rescue, unrescue),
    :class:`~.deferred_delete.DeferredDeletes` (soft delete, restore),
    :class:`~.live_migration.LiveMigrations` (the source's side) and
    :class:`~.live_migration_dest.IncomingMigrations` (the destination's side). The
    RPC methods stay here, with their signatures, and hand the work over.
"""

from __future__ import annotations

import contextlib
from typing import Any

import oslo_messaging as messaging

from nubis.core import exception, objects, plugins
from nubis.core.compute import power_sync
from nubis.core.compute.host import AuditResult, ComputeHost
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.context import get_admin_context
from nubis.core.manager import Manager
from nubis.core.virt import driver as virt_driver
from nubis.core.virt import events as virt_events
from nubis.plugins.managers.compute.bookkeeping import PendingRecords
from nubis.plugins.managers.compute.deferred_delete import DeferredDeletes
from nubis.plugins.managers.compute.lifecycle import Lifecycle
from nubis.plugins.managers.compute.live_migration import LiveMigrations
from nubis.plugins.managers.compute.live_migration_dest import IncomingMigrations
from nubis.plugins.managers.compute.locks import KeyedLocks
from nubis.plugins.managers.compute.nodes import NodeTrackers
from nubis.plugins.managers.compute.operations import LOG, Operations
from nubis.plugins.managers.compute.power import PowerActions
from nubis.plugins.managers.compute.rebuild import Rebuilds
from nubis.plugins.managers.compute.rescue import Rescues
from nubis.plugins.managers.compute.resource_tracker import ResourceTracker
from nubis.plugins.managers.compute.shelve import Shelves
from nubis.plugins.managers.compute.snapshots import Snapshots

#: Prefix of the disabled_reason this manager sets (and only then clears).
AUTO_DISABLED = "AUTO: "
#: The periodic task (``nubis.periodic_tasks``) whose run before RPC starts is the
#: first resource audit. Found through its entry point, whether or not ``[compute]
#: periodic_tasks`` lists it: claims need the ComputeNodes it creates.
FIRST_AUDIT_TASK = "update_available_resource"


class ComputeManager(Manager, ComputeHost):
    """Manages the guests of one compute host through its virt driver.

    *driver* may be given (an initialised-or-not ComputeDriver instance) instead of
    loading ``[compute] virt_driver``: tests and embedders that run several compute
    hosts with differently configured drivers in one process use it.
    """

    target = messaging.Target(version="1.6")
    service_name = "compute"

    def __init__(self, host: str, conf: Any = None, driver: Any = None) -> None:
        super().__init__(host, conf)
        self.driver: Any = driver
        self.instance_locks = KeyedLocks("instance")
        self.hypervisor_available = True
        self._rpcapi: ComputeAPI | None = None
        #: Records of failed operations waiting for the database/conductor to return.
        self.pending_records = PendingRecords(self.conf, self.host)
        ops = Operations(self.host, self.instance_locks, self.pending_records)
        self._nodes = NodeTrackers(self)
        self._lifecycle = Lifecycle(self, ops, self._nodes)
        self._rebuilds = Rebuilds(self, ops)
        self._snapshots = Snapshots(self, ops)
        self._shelves = Shelves(self, ops, self._nodes, self._snapshots)
        self._power = PowerActions(self, ops)
        self._rescues = Rescues(self, ops)
        self._deferred_deletes = DeferredDeletes(self, ops)
        self._outgoing = LiveMigrations(self, ops, self._nodes)
        self._incoming = IncomingMigrations(self, ops, self._nodes)

    # --- plumbing --------------------------------------------------------------------

    @property
    def compute_rpcapi(self) -> ComputeAPI:
        """The client this host uses to reach other compute hosts (made on first use)."""
        if self._rpcapi is None:
            self._rpcapi = ComputeAPI(conf=self.conf)
        return self._rpcapi

    @property
    def service_id(self) -> int | None:
        ref = getattr(self.service, "service_ref", None)
        return None if ref is None else int(ref.id)

    @property
    def rpc_timeout(self) -> float:
        return float(self.conf.rpc_response_timeout)

    @property
    def resource_trackers(self) -> dict[str, ResourceTracker]:
        """The resource tracker of each node audited so far (a snapshot)."""
        return self._nodes.snapshot()

    # --- lifecycle hooks -------------------------------------------------------------

    def init_host(self) -> None:
        """Load and start the virt driver, listen to its events, tidy stale task states."""
        objects.register_all()
        if self.driver is None:
            driver_cls = plugins.load_one(
                "nubis.virt", self.conf.compute.virt_driver, "[compute] virt_driver"
            )
            self.driver = driver_cls(self.conf)
        self.driver.init_host(self.host)
        self.driver.register_event_listener(self._handle_event)
        self._lifecycle.init_instances(get_admin_context())

    def pre_start_hook(self) -> None:
        """Audit resources once before RPC starts, so the ComputeNode exists for claims."""
        context = get_admin_context()
        if not self.driver.is_hypervisor_available():
            self._set_hypervisor_available(context, False, "unavailable at start")
        try:
            audit = plugins.load_one("nubis.periodic_tasks", FIRST_AUDIT_TASK)
            audit(self, context)
        except Exception:
            LOG.exception(
                "the first resource audit of %s failed; the periodic task retries", self.host
            )

    def cleanup_host(self) -> None:
        """Cancel queued migrations, wait (bounded) for running ones, stop the driver."""
        self._outgoing.stop(float(self.conf.graceful_shutdown_timeout or 60))
        if len(self.pending_records):
            try:
                self.pending_records.flush()  # one last try; init_instances ends the rest
            except Exception:
                LOG.exception("writing the kept records at stop failed")
        self.pending_records.stop()
        if self.driver is not None:
            self.driver.register_event_listener(None)
            self.driver.cleanup_host(self.host)

    def reset(self) -> None:
        """SIGHUP: rebuild the RPC client (``[upgrade_levels] compute`` may have changed)."""
        self._rpcapi = None

    # --- events from the driver ------------------------------------------------------

    def _handle_event(self, event: virt_events.Event) -> None:
        context = get_admin_context()
        if isinstance(event, virt_events.HypervisorStatusEvent):
            self._set_hypervisor_available(context, event.available, event.reason)
            return
        if not isinstance(event, virt_events.LifecycleEvent):
            return
        if event.transition == virt_events.MIGRATION_COMPLETED:
            return  # the guest left by live migration: not a stop
        if self.instance_locks.is_held(event.instance_uuid):
            # An operation (a build's spawn, a stop) or a sync holds it and sets the power
            # state itself; the sync below skips a held instance anyway, so it is not read.
            LOG.debug(
                "lifecycle event %s of %s: skipped, instance busy",
                event.transition,
                event.instance_uuid,
            )
            return
        try:
            instance = objects.Instance.get_by_uuid(context, event.instance_uuid)
        except exception.InstanceNotFound:
            return
        if instance.host != self.host or instance.task_state is not None:
            return
        outcome = power_sync.sync_instance(self, context, instance)
        LOG.debug("lifecycle event %s of %s: %s", event.transition, instance.uuid, outcome)

    def _set_hypervisor_available(self, context: Any, available: bool, reason: str) -> None:
        self.hypervisor_available = available
        if self.service_id is None:
            return
        record = objects.Service.get_by_id(context, self.service_id)
        if available:
            if record.disabled and (record.disabled_reason or "").startswith(AUTO_DISABLED):
                record.disabled = False
                record.disabled_reason = None
                record.save()
                LOG.info("hypervisor of %s is back (%s): service enabled", self.host, reason)
        elif not record.disabled:
            record.disabled = True
            record.disabled_reason = f"{AUTO_DISABLED}hypervisor unavailable: {reason}"
            record.save()
            LOG.error("hypervisor of %s is unavailable (%s): service disabled", self.host, reason)

    # --- the ComputeHost contract (nubis.core.compute.host; not RPC) -----------------

    def audit_node(
        self,
        context: Any,
        nodename: str,
        *,
        count_orphans: bool = True,
        host_instances: list[Any] | None = None,
        guest_uuids: list[str] | None = None,
    ) -> AuditResult:
        return self._nodes.get(nodename).update_available_resource(
            context,
            service_id=self.service_id,
            count_orphans=count_orphans,
            host_instances=host_instances,
            guest_uuids=guest_uuids,
        )

    def delete_compute_node(self, context: Any, node: Any) -> None:
        if node.host != self.host:
            raise ValueError(
                f"compute node {node.hypervisor_hostname} (id {node.id}) is of host "
                f"{node.host}, not {self.host}"
            )
        try:
            node.destroy()
        except exception.ComputeNodeNotFound:
            pass
        self._nodes.drop(node.hypervisor_hostname)

    def forget_instance(self, context: Any, instance_uuid: str) -> None:
        self._nodes.forget_instance(context, instance_uuid)

    def in_flight_instances(self) -> set[str]:
        return self._nodes.in_flight() | self._outgoing.in_flight() | self._incoming.in_flight()

    def instance_lock(
        self, instance_uuid: str, wanted_by: str, timeout: float
    ) -> contextlib.AbstractContextManager[None]:
        return self.instance_locks.hold(instance_uuid, wanted_by, timeout)

    def force_stop_instance(self, context: Any, instance: Any) -> None:
        self._lifecycle.force_stop_instance(context, instance)

    def offload_shelved_instance(self, context: Any, instance: Any) -> None:
        self._shelves.shelve_offload_instance(context, instance, clean_shutdown=False)

    # --- instance operations (RPC, casts) --------------------------------------------

    def build_and_run_instance(
        self, context: Any, instance: Any, node: str | None = None, request_spec: Any = None
    ) -> None:
        """Claim resources on *node*, spawn the guest, mark the instance active.

        When the claim or the spawn fails and the sender gave *request_spec* (1.2), the
        half-built guest is destroyed, the failure recorded as a fault and on the
        event, and the instance handed back to the conductor to be rescheduled without
        this host; without it, the instance goes to ERROR.
        """
        self._lifecycle.build_and_run_instance(context, instance, node, request_spec)

    def start_instance(self, context: Any, instance: Any) -> None:
        """Power a stopped instance on."""
        self._lifecycle.start_instance(context, instance)

    def stop_instance(self, context: Any, instance: Any, clean_shutdown: bool = True) -> None:
        """Power an instance off (asking the guest first with *clean_shutdown*)."""
        self._lifecycle.stop_instance(context, instance, clean_shutdown)

    def reboot_instance(
        self, context: Any, instance: Any, reboot_type: str = virt_driver.REBOOT_SOFT
    ) -> None:
        """Reboot an instance; a HARD reboot also starts a stopped one."""
        self._lifecycle.reboot_instance(context, instance, reboot_type)

    def terminate_instance(self, context: Any, instance: Any) -> None:
        """Destroy the guest (and its disks) and delete the instance."""
        self._lifecycle.terminate_instance(context, instance)

    def rebuild_instance(
        self,
        context: Any,
        instance: Any,
        image_ref: str | None = None,
        orig_image_ref: str | None = None,
        preserve_ephemeral: bool = False,
    ) -> None:
        """Rebuild the instance in place from its (new) image (1.3); see :mod:`.rebuild`.

        The instance arrives in task ``rebuilding`` with ``image_ref`` already
        *image_ref*; *orig_image_ref* (the image it was built from) is for the log.
        """
        LOG.debug(
            "rebuilding instance %s: image %s -> %s", instance.uuid, orig_image_ref, image_ref
        )
        self._rebuilds.rebuild_instance(context, instance, bool(preserve_ephemeral))

    def pause_instance(self, context: Any, instance: Any) -> None:
        """Pause the instance's guest (1.4); see :mod:`.power`."""
        self._power.pause_instance(context, instance)

    def unpause_instance(self, context: Any, instance: Any) -> None:
        """Let the instance's paused guest run on (1.4); see :mod:`.power`."""
        self._power.unpause_instance(context, instance)

    def suspend_instance(self, context: Any, instance: Any) -> None:
        """Save the instance's guest and stop it (1.4); see :mod:`.power`."""
        self._power.suspend_instance(context, instance)

    def resume_instance(self, context: Any, instance: Any) -> None:
        """Bring the instance's suspended guest back (1.4); see :mod:`.power`."""
        self._power.resume_instance(context, instance)

    # --- snapshots (RPC, casts; 1.5) -------------------------------------------------

    def snapshot_instance(self, context: Any, instance: Any, image_id: str) -> None:
        """Write the guest's snapshot as image *image_id* (queued, made by the compute
        API) and record it active; see :mod:`.snapshots`."""
        self._snapshots.snapshot_instance(context, instance, image_id)

    def backup_instance(
        self, context: Any, instance: Any, image_id: str, backup_type: str, rotation: int
    ) -> None:
        """Write the guest's backup as image *image_id*, then delete the instance's
        backups of *backup_type* beyond the newest *rotation*; see :mod:`.snapshots`."""
        self._snapshots.backup_instance(context, instance, image_id, backup_type, rotation)

    def shelve_instance(
        self, context: Any, instance: Any, image_id: str | None, clean_shutdown: bool = True
    ) -> None:
        """Power the guest off, write its snapshot as image *image_id* (None: a guest
        without a root disk) and mark the instance shelved; offloaded at once with
        ``[DEFAULT] shelved_offload_time`` 0. See :mod:`.shelve`."""
        self._shelves.shelve_instance(context, instance, image_id, clean_shutdown)

    def shelve_offload_instance(
        self, context: Any, instance: Any, clean_shutdown: bool = True
    ) -> None:
        """Remove a shelved instance's guest and release its resources here."""
        self._shelves.shelve_offload_instance(context, instance, clean_shutdown)

    def unshelve_instance(
        self, context: Any, instance: Any, node: str | None = None, request_spec: Any = None
    ) -> None:
        """Power a shelved instance on, or spawn an offloaded one here on *node* from
        its shelved image; then delete that image. See :mod:`.shelve`."""
        self._shelves.unshelve_instance(context, instance, node, request_spec)

    # --- rescue and deferred delete (RPC, casts; 1.6) -----------------------------------

    def rescue_instance(
        self,
        context: Any,
        instance: Any,
        rescue_image_ref: str | None = None,
        clean_shutdown: bool = True,
    ) -> None:
        """Boot the guest from a rescue disk of *rescue_image_ref* (None: the
        instance's own image), its disks attached after it; see :mod:`.rescue`."""
        self._rescues.rescue_instance(context, instance, rescue_image_ref, bool(clean_shutdown))

    def unrescue_instance(self, context: Any, instance: Any) -> None:
        """Give the rescued instance its own guest back; see :mod:`.rescue`."""
        self._rescues.unrescue_instance(context, instance)

    def soft_delete_instance(self, context: Any, instance: Any) -> None:
        """Power the guest off and mark the instance soft-deleted; see
        :mod:`.deferred_delete`."""
        self._deferred_deletes.soft_delete_instance(context, instance)

    def restore_instance(self, context: Any, instance: Any) -> None:
        """Power a soft-deleted instance's guest on and make it active; see
        :mod:`.deferred_delete`."""
        self._deferred_deletes.restore_instance(context, instance)

    # --- reads (RPC, calls) ----------------------------------------------------------

    def get_console_output(
        self, context: Any, instance: Any, tail_length: int | None = None
    ) -> str:
        """Return the last *tail_length* lines of the guest's console output (1.3).

        The caller gets ConsoleOutputNotSupported or InstanceNotFound as such (no
        traceback in this log).
        """
        try:
            return self._rebuilds.get_console_output(instance, tail_length)
        except exception.NubisException as exc:
            raise messaging.ExpectedException() from exc

    def get_instance_diagnostics(self, context: Any, instance: Any) -> dict[str, Any]:
        """Return the diagnostics of the instance's running guest (1.4), as a
        Diagnostics primitive. The caller gets InstanceInvalidState (the guest is not
        running), VirtOperationNotSupported or InstanceNotFound as such."""
        try:
            return self._power.get_instance_diagnostics(instance)
        except exception.NubisException as exc:
            raise messaging.ExpectedException() from exc

    def get_host_uptime(self, context: Any) -> str:
        """Return this host's uptime line (1.4; VirtOperationNotSupported as such)."""
        try:
            return self._power.get_host_uptime()
        except exception.NubisException as exc:
            raise messaging.ExpectedException() from exc

    # --- live migration: the destination's side (RPC, calls) --------------------------

    def check_can_live_migrate_destination(
        self, context: Any, instance: Any, block_migration: bool = False
    ) -> dict[str, Any]:
        """On the destination: check with the driver, then ask the source; return migrate_data."""
        return self._incoming.check_can_live_migrate_destination(context, instance, block_migration)

    def pre_live_migration(
        self, context: Any, instance: Any, migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the destination: claim the guest's resources and let the driver prepare."""
        return self._incoming.pre_live_migration(context, instance, migrate_data)

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        block_migration: bool = False,
        node: str | None = None,
    ) -> None:
        """On the destination: take the arrived guest over; the instance is now here."""
        self._incoming.post_live_migration_at_destination(context, instance, block_migration, node)

    def rollback_live_migration_at_destination(
        self, context: Any, instance: Any, migrate_data: dict[str, Any] | None = None
    ) -> None:
        """On the destination: remove what pre_live_migration prepared, release the claim."""
        self._incoming.rollback_live_migration_at_destination(context, instance, migrate_data)

    # --- live migration: the source's side (RPC) -------------------------------------

    def check_can_live_migrate_source(
        self, context: Any, instance: Any, dest_check_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the source: can the guest leave? Returns migrate_data."""
        return self._outgoing.check_can_live_migrate_source(context, instance, dest_check_data)

    def live_migration(
        self,
        context: Any,
        instance: Any,
        dest: str,
        block_migration: bool = False,
        migrate_data: dict[str, Any] | None = None,
        migration: Any = None,
    ) -> None:
        """Queue the live migration of *instance* to *dest*; returns at once (a cast).

        A 1.0 sender passes no *migration*: the record is looked up here (the newest
        live migration of the instance from this host to *dest* that has not started),
        or created when the sender made none.
        """
        self._outgoing.live_migration(
            context, instance, dest, block_migration, migrate_data, migration
        )

    def live_migration_abort(self, context: Any, instance: Any, migration_id: int) -> None:
        """Abort the live migration *migration_id*: cancel it if queued, else stop the copy."""
        self._outgoing.live_migration_abort(context, instance, migration_id)
