"""Client of the compute service's RPC API (nubis-compute, topic ``[compute] topic``).

Every message goes to one compute host (``server=``): the instance's host, or the
destination of a live migration. Operations a user asked for are casts; reading an
instance's console output, the live-migration checks and the steps the source asks of
the destination are calls, each with a timeout (the caller may hold a concurrency slot
while it waits).

The states an instance is handed over in are in :mod:`nubis.core.compute.states`.

The live-migration sequence (docs/architecture.md, flow 3)::

    conductor -> dest:   check_can_live_migrate_destination      (call)
                 dest -> source: check_can_live_migrate_source   (call)
    conductor -> source: live_migration                          (cast; 1.1 adds `migration`)
                 source -> dest: pre_live_migration              (call)
                 source: driver live migration, progress on the Migration
                 source -> dest: post_live_migration_at_destination     (call)  or
                 source -> dest: rollback_live_migration_at_destination (call)

Version history:

* 1.0 - build_and_run_instance, start_instance, stop_instance, reboot_instance,
  terminate_instance, check_can_live_migrate_destination, check_can_live_migrate_source,
  pre_live_migration, live_migration (migrate_data only: the source looks the
  Migration up itself), live_migration_abort, post_live_migration_at_destination,
  rollback_live_migration_at_destination
* 1.1 - live_migration takes the Migration object (``migration``)
* 1.2 - build_and_run_instance takes the RequestSpec (``request_spec``): a failed build
  is rescheduled through the conductor
* 1.3 - get_console_output (a call) and rebuild_instance (a cast). A 1.2 host has
  neither: callers check ``can_send_version(CONSOLE_OUTPUT_VERSION)`` /
  ``REBUILD_VERSION`` first and refuse with ServiceTooOld (there is nothing to degrade
  to), since oslo.messaging would refuse the message itself with a less clear error.
* 1.4 - pause_instance, unpause_instance, suspend_instance, resume_instance (casts),
  get_instance_diagnostics and get_host_uptime (calls). Callers check
  ``can_send_version(PAUSE_VERSION)`` (``SUSPEND_VERSION``, ``DIAGNOSTICS_VERSION``,
  ``HOST_UPTIME_VERSION``) and refuse with ServiceTooOld.
* 1.5 - snapshot_instance, backup_instance, shelve_instance, shelve_offload_instance and
  unshelve_instance (casts). Callers check ``can_send_version(SNAPSHOT_VERSION)`` /
  ``SHELVE_VERSION`` and refuse with ServiceTooOld.
* 1.6 - rescue_instance, unrescue_instance, soft_delete_instance and restore_instance
  (casts). Callers check ``can_send_version(RESCUE_VERSION)`` /
  ``DEFERRED_DELETE_VERSION``: rescue, unrescue and restore refuse with ServiceTooOld;
  a soft delete falls back to an ordinary delete.
"""

from __future__ import annotations

from typing import Any

from nubis.core import binaries
from nubis.core.rpc.client import RPCAPIClient


class ComputeAPI(RPCAPIClient):
    """Sends compute operations to one compute host on ``[compute] topic``."""

    RPC_API = "compute"
    BINARY = binaries.COMPUTE
    TOPIC_OPTION = ("compute", "topic")
    VERSION = "1.6"
    #: The version that brought get_console_output / rebuild_instance.
    CONSOLE_OUTPUT_VERSION = "1.3"
    REBUILD_VERSION = "1.3"
    #: The version that brought pause/unpause, suspend/resume, diagnostics, host uptime.
    PAUSE_VERSION = "1.4"
    SUSPEND_VERSION = "1.4"
    DIAGNOSTICS_VERSION = "1.4"
    HOST_UPTIME_VERSION = "1.4"
    #: The version that brought snapshot_instance / backup_instance.
    SNAPSHOT_VERSION = "1.5"
    #: The version that brought shelve_instance / shelve_offload_instance /
    #: unshelve_instance.
    SHELVE_VERSION = "1.5"
    #: The version that brought rescue_instance / unrescue_instance.
    RESCUE_VERSION = "1.6"
    #: The version that brought soft_delete_instance / restore_instance.
    DEFERRED_DELETE_VERSION = "1.6"

    # --- instance operations (casts to the instance's host) ------------------------------

    def build_and_run_instance(
        self,
        ctxt: Any,
        instance: Any,
        host: str,
        node: str | None = None,
        request_spec: Any = None,
    ) -> None:
        """Build *instance* on *host* (node *node*, or the host's first) and start it.

        With *request_spec* (1.2) a build that fails on *host* is sent back to the
        conductor to be rescheduled elsewhere; a 1.1 host errors the instance instead.
        """
        version = "1.2"
        kwargs: dict[str, Any] = {"instance": instance, "node": node}
        if self.can_send_version(version):
            kwargs["request_spec"] = request_spec
        else:
            version = "1.0"
        self.client.prepare(server=host, version=version).cast(
            ctxt, "build_and_run_instance", **kwargs
        )

    def start_instance(self, ctxt: Any, instance: Any) -> None:
        """Power a stopped instance on."""
        self.client.prepare(server=instance.host, version="1.0").cast(
            ctxt, "start_instance", instance=instance
        )

    def stop_instance(self, ctxt: Any, instance: Any, clean_shutdown: bool = True) -> None:
        """Power an instance off; *clean_shutdown* asks the guest first."""
        self.client.prepare(server=instance.host, version="1.0").cast(
            ctxt, "stop_instance", instance=instance, clean_shutdown=clean_shutdown
        )

    def reboot_instance(self, ctxt: Any, instance: Any, reboot_type: str = "SOFT") -> None:
        """Reboot an instance: ``SOFT`` or ``HARD``."""
        self.client.prepare(server=instance.host, version="1.0").cast(
            ctxt, "reboot_instance", instance=instance, reboot_type=reboot_type
        )

    def terminate_instance(self, ctxt: Any, instance: Any) -> None:
        """Destroy the instance's guest and delete the instance."""
        self.client.prepare(server=instance.host, version="1.0").cast(
            ctxt, "terminate_instance", instance=instance
        )

    def rebuild_instance(
        self,
        ctxt: Any,
        instance: Any,
        image_ref: str | None,
        orig_image_ref: str | None,
        preserve_ephemeral: bool = False,
    ) -> None:
        """Rebuild *instance* in place on its host from *image_ref* (1.3; a cast).

        The instance arrives in task ``rebuilding`` with ``image_ref`` already the new
        image; *orig_image_ref* is the one it was built from.
        """
        self.client.prepare(server=instance.host, version=self.REBUILD_VERSION).cast(
            ctxt,
            "rebuild_instance",
            instance=instance,
            image_ref=image_ref,
            orig_image_ref=orig_image_ref,
            preserve_ephemeral=preserve_ephemeral,
        )

    # --- snapshots and shelving (casts to the instance's host; 1.5) ---------------------

    def snapshot_instance(self, ctxt: Any, instance: Any, image_id: str) -> None:
        """Snapshot the guest of *instance* into image *image_id* (queued, created by
        the caller); the instance arrives in task ``image_snapshot_pending``."""
        self.client.prepare(server=instance.host, version=self.SNAPSHOT_VERSION).cast(
            ctxt, "snapshot_instance", instance=instance, image_id=image_id
        )

    def backup_instance(
        self, ctxt: Any, instance: Any, image_id: str, backup_type: str, rotation: int
    ) -> None:
        """Snapshot the guest into backup image *image_id* (task ``image_backup``),
        then delete the oldest backups of the instance of *backup_type* beyond
        *rotation*."""
        self.client.prepare(server=instance.host, version=self.SNAPSHOT_VERSION).cast(
            ctxt,
            "backup_instance",
            instance=instance,
            image_id=image_id,
            backup_type=backup_type,
            rotation=rotation,
        )

    def shelve_instance(
        self, ctxt: Any, instance: Any, image_id: str, clean_shutdown: bool = True
    ) -> None:
        """Power the guest off, snapshot it into image *image_id* and mark the
        instance ``shelved`` (offloaded at once with ``shelved_offload_time`` 0);
        the instance arrives in task ``shelving``."""
        self.client.prepare(server=instance.host, version=self.SHELVE_VERSION).cast(
            ctxt,
            "shelve_instance",
            instance=instance,
            image_id=image_id,
            clean_shutdown=clean_shutdown,
        )

    def shelve_offload_instance(
        self, ctxt: Any, instance: Any, clean_shutdown: bool = True
    ) -> None:
        """Remove the guest of a shelved instance from its host and release the
        host's resources (task ``shelving_offloading``)."""
        self.client.prepare(server=instance.host, version=self.SHELVE_VERSION).cast(
            ctxt, "shelve_offload_instance", instance=instance, clean_shutdown=clean_shutdown
        )

    def unshelve_instance(
        self,
        ctxt: Any,
        instance: Any,
        host: str,
        node: str | None = None,
        request_spec: Any = None,
    ) -> None:
        """Spawn the guest of an offloaded instance on *host* (node *node*) from its
        shelved image (task ``unshelving``; the conductor chose the host)."""
        self.client.prepare(server=host, version=self.SHELVE_VERSION).cast(
            ctxt, "unshelve_instance", instance=instance, node=node, request_spec=request_spec
        )

    def pause_instance(self, ctxt: Any, instance: Any) -> None:
        """Pause *instance* (task ``pausing``) on its host (1.4; a cast)."""
        self.client.prepare(server=instance.host, version=self.PAUSE_VERSION).cast(
            ctxt, "pause_instance", instance=instance
        )

    def unpause_instance(self, ctxt: Any, instance: Any) -> None:
        """Unpause *instance* (task ``unpausing``) on its host (1.4; a cast)."""
        self.client.prepare(server=instance.host, version=self.PAUSE_VERSION).cast(
            ctxt, "unpause_instance", instance=instance
        )

    def suspend_instance(self, ctxt: Any, instance: Any) -> None:
        """Suspend *instance* (task ``suspending``) on its host (1.4; a cast)."""
        self.client.prepare(server=instance.host, version=self.SUSPEND_VERSION).cast(
            ctxt, "suspend_instance", instance=instance
        )

    def resume_instance(self, ctxt: Any, instance: Any) -> None:
        """Resume *instance* (task ``resuming``) on its host (1.4; a cast)."""
        self.client.prepare(server=instance.host, version=self.SUSPEND_VERSION).cast(
            ctxt, "resume_instance", instance=instance
        )

    # --- rescue and deferred delete (casts to the instance's host; 1.6) -----------------

    def rescue_instance(
        self,
        ctxt: Any,
        instance: Any,
        rescue_image_ref: str | None = None,
        clean_shutdown: bool = True,
    ) -> None:
        """Boot *instance*'s guest from a rescue disk of *rescue_image_ref* (None: the
        instance's own image), its disks attached after it; the instance arrives in
        task ``rescuing``. *clean_shutdown* asks a running guest to shut down first."""
        self.client.prepare(server=instance.host, version=self.RESCUE_VERSION).cast(
            ctxt,
            "rescue_instance",
            instance=instance,
            rescue_image_ref=rescue_image_ref,
            clean_shutdown=clean_shutdown,
        )

    def unrescue_instance(self, ctxt: Any, instance: Any) -> None:
        """Give a rescued instance its own guest back (task ``unrescuing``)."""
        self.client.prepare(server=instance.host, version=self.RESCUE_VERSION).cast(
            ctxt, "unrescue_instance", instance=instance
        )

    def soft_delete_instance(self, ctxt: Any, instance: Any) -> None:
        """Power the guest off and mark the instance ``soft-delete`` (task
        ``soft-deleting``); its guest, disks and resources stay until it is reclaimed."""
        self.client.prepare(server=instance.host, version=self.DEFERRED_DELETE_VERSION).cast(
            ctxt, "soft_delete_instance", instance=instance
        )

    def restore_instance(self, ctxt: Any, instance: Any) -> None:
        """Power a soft-deleted instance's guest on and make it active (task
        ``restoring``)."""
        self.client.prepare(server=instance.host, version=self.DEFERRED_DELETE_VERSION).cast(
            ctxt, "restore_instance", instance=instance
        )

    # --- reads (calls to the instance's host) --------------------------------------------

    def get_console_output(
        self,
        ctxt: Any,
        instance: Any,
        tail_length: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """Return the last *tail_length* lines of the instance's console output (None:
        all its driver keeps) from its host (1.3), waiting *timeout* seconds at most.

        Raises ConsoleOutputNotSupported (the host's driver keeps none), InstanceNotFound
        (no such guest on the host) or MessagingTimeout (the host did not answer).
        """
        cctxt = self.client.prepare(
            server=instance.host, version=self.CONSOLE_OUTPUT_VERSION, timeout=timeout
        )
        result: str = cctxt.call(
            ctxt, "get_console_output", instance=instance, tail_length=tail_length
        )
        return result

    def get_instance_diagnostics(
        self, ctxt: Any, instance: Any, timeout: float | None = None
    ) -> dict[str, Any]:
        """Return the diagnostics of *instance*'s guest from its host (1.4), waiting
        *timeout* seconds at most: a
        :meth:`~nubis.core.virt.diagnostics.Diagnostics.to_primitive` dict.

        Raises InstanceInvalidState (the guest is not running), VirtOperationNotSupported
        (the host's driver has no diagnostics), InstanceNotFound (no guest there) or
        MessagingTimeout (the host did not answer).
        """
        cctxt = self.client.prepare(
            server=instance.host, version=self.DIAGNOSTICS_VERSION, timeout=timeout
        )
        result: dict[str, Any] = cctxt.call(ctxt, "get_instance_diagnostics", instance=instance)
        return result

    def get_host_uptime(self, ctxt: Any, host: str, timeout: float | None = None) -> str:
        """Return compute host *host*'s uptime line (the ``uptime`` command's) (1.4),
        waiting *timeout* seconds at most. Raises VirtOperationNotSupported or
        MessagingTimeout."""
        cctxt = self.client.prepare(server=host, version=self.HOST_UPTIME_VERSION, timeout=timeout)
        result: str = cctxt.call(ctxt, "get_host_uptime")
        return result

    # --- live migration ------------------------------------------------------------------

    def check_can_live_migrate_destination(
        self,
        ctxt: Any,
        instance: Any,
        destination: str,
        block_migration: bool = False,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Ask *destination* whether *instance* can come; it asks the source in turn.

        Returns migrate_data (see :mod:`nubis.core.virt.migration`); raises
        MigrationPreCheckError (or what the drivers raise) when it cannot.
        """
        cctxt = self.client.prepare(server=destination, version="1.0", timeout=timeout)
        result: dict[str, Any] = cctxt.call(
            ctxt,
            "check_can_live_migrate_destination",
            instance=instance,
            block_migration=block_migration,
        )
        return result

    def check_can_live_migrate_source(
        self,
        ctxt: Any,
        instance: Any,
        dest_check_data: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Ask the instance's host whether it can leave; returns migrate_data."""
        cctxt = self.client.prepare(server=instance.host, version="1.0", timeout=timeout)
        result: dict[str, Any] = cctxt.call(
            ctxt,
            "check_can_live_migrate_source",
            instance=instance,
            dest_check_data=dest_check_data,
        )
        return result

    def pre_live_migration(
        self,
        ctxt: Any,
        instance: Any,
        host: str,
        migrate_data: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Have destination *host* prepare to receive *instance*; returns migrate_data."""
        cctxt = self.client.prepare(server=host, version="1.0", timeout=timeout)
        result: dict[str, Any] = cctxt.call(
            ctxt, "pre_live_migration", instance=instance, migrate_data=migrate_data
        )
        return result

    def live_migration(
        self,
        ctxt: Any,
        instance: Any,
        dest: str,
        block_migration: bool,
        migrate_data: dict[str, Any],
        migration: Any,
    ) -> None:
        """Cast the live migration of *instance* to *dest* to its source host.

        At 1.1 the Migration record travels with it. Capped at 1.0 (``[upgrade_levels]
        compute = 1.0``, or ``auto`` with a 1.0 compute running) only migrate_data is
        sent, and the source finds the Migration itself (the newest live migration of
        the instance from that host that has not started).
        """
        kwargs: dict[str, Any] = {
            "instance": instance,
            "dest": dest,
            "block_migration": block_migration,
            "migrate_data": migrate_data,
        }
        version = "1.1"
        if self.can_send_version(version):
            kwargs["migration"] = migration
        else:
            version = "1.0"
        self.client.prepare(server=instance.host, version=version).cast(
            ctxt, "live_migration", **kwargs
        )

    def live_migration_abort(self, ctxt: Any, instance: Any, migration_id: int) -> None:
        """Ask the source host to abort live migration *migration_id* of *instance*.

        A migration still ``queued`` is cancelled before it starts; a running one is
        aborted through the driver and rolled back.
        """
        self.client.prepare(server=instance.host, version="1.0").cast(
            ctxt, "live_migration_abort", instance=instance, migration_id=migration_id
        )

    def post_live_migration_at_destination(
        self,
        ctxt: Any,
        instance: Any,
        host: str,
        block_migration: bool = False,
        node: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Have destination *host* take the arrived guest over (node *node*)."""
        cctxt = self.client.prepare(server=host, version="1.0", timeout=timeout)
        cctxt.call(
            ctxt,
            "post_live_migration_at_destination",
            instance=instance,
            block_migration=block_migration,
            node=node,
        )

    def rollback_live_migration_at_destination(
        self,
        ctxt: Any,
        instance: Any,
        host: str,
        migrate_data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Have destination *host* remove what it prepared for a failed migration."""
        cctxt = self.client.prepare(server=host, version="1.0", timeout=timeout)
        cctxt.call(
            ctxt,
            "rollback_live_migration_at_destination",
            instance=instance,
            migrate_data=migrate_data,
        )
