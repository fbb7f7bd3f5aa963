"""Client of the conductor's RPC API: the remote object model.

Version history:

* 1.0 - object_action, object_class_action_versions, object_backport_versions
"""

from __future__ import annotations

from typing import Any

from nubis.core import binaries
from nubis.core.rpc.client import RPCAPIClient


class ConductorAPI(RPCAPIClient):
    """Sends remotable object calls to any conductor on ``[conductor] topic``."""

    RPC_API = "conductor"
    BINARY = binaries.CONDUCTOR
    TOPIC_OPTION = ("conductor", "topic")
    VERSION = "1.0"

    def object_action(
        self, context: Any, objinst: Any, objmethod: str, args: Any, kwargs: Any
    ) -> tuple[dict[str, Any], Any]:
        """Run ``objinst.objmethod`` on a conductor; return ``(updates, result)``."""
        cctxt = self.client.prepare(version="1.0")
        updates, result = cctxt.call(
            context, "object_action", objinst=objinst, objmethod=objmethod, args=args,
            kwargs=kwargs,
        )
        return updates, result

    def object_class_action_versions(
        self,
        context: Any,
        objname: str,
        objmethod: str,
        object_versions: dict[str, str],
        args: Any,
        kwargs: Any,
    ) -> Any:
        """Run classmethod *objmethod* of *objname* on a conductor; return its result."""
        cctxt = self.client.prepare(version="1.0")
        return cctxt.call(
            context, "object_class_action_versions", objname=objname, objmethod=objmethod,
            object_versions=object_versions, args=args, kwargs=kwargs,
        )

    def object_backport_versions(
        self, context: Any, objinst: Any, object_versions: dict[str, str]
    ) -> Any:
        """Have a conductor return *objinst* as a primitive at *object_versions*."""
        cctxt = self.client.prepare(version="1.0")
        return cctxt.call(
            context, "object_backport_versions", objinst=objinst,
            object_versions=object_versions,
        )


class ComputeTaskAPI(RPCAPIClient):
    """Sends long-running compute tasks to any conductor (namespace ``compute_task``).

    Version history:

    * 1.0 - build_instances, live_migrate_instance
    * 1.1 - rebuild_instance (a 1.0 conductor has none: callers check
      ``can_send_version(REBUILD_VERSION)`` first and refuse with ServiceTooOld)
    * 1.2 - unshelve_instance (callers check ``can_send_version(UNSHELVE_VERSION)``)
    """

    RPC_API = "compute_task"
    BINARY = binaries.CONDUCTOR
    TOPIC_OPTION = ("conductor", "topic")
    VERSION = "1.2"
    #: The version that brought rebuild_instance.
    REBUILD_VERSION = "1.1"
    #: The version that brought unshelve_instance.
    UNSHELVE_VERSION = "1.2"
    NAMESPACE = "compute_task"

    def build_instances(self, ctxt: Any, instances: list[Any], spec: Any) -> None:
        """Schedule and build *instances* (all of RequestSpec *spec*'s size); a cast.

        The conductor picks a host per instance, casts the build to it, and when a
        build fails there, the compute host sends it back here with
        ``spec.num_attempts`` raised and its own host in ``spec.ignore_hosts`` until
        ``[scheduler] max_attempts``; then the instance goes to ERROR with a fault.
        """
        self.client.prepare(version="1.0").cast(
            ctxt, "build_instances", instances=instances, spec=spec
        )

    def live_migrate_instance(
        self,
        ctxt: Any,
        instance: Any,
        host: str | None = None,
        block_migration: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Check and start the live migration of *instance*; return its Migration.

        A call: it returns once the destination (*host*, or the scheduler's choice
        when None) passed every check and the migration was cast to the source
        compute, whose progress shows on the returned Migration. A failed check raises
        here (NoValidHost, MigrationPreCheckError, ComputeServiceUnavailable,
        InstanceInvalidState) and leaves the instance ACTIVE on its source with the
        migration in ``error``.
        """
        cctxt = self.client.prepare(version="1.0", timeout=timeout)
        return cctxt.call(
            ctxt, "live_migrate_instance", instance=instance, host=host,
            block_migration=block_migration,
        )

    def rebuild_instance(
        self,
        ctxt: Any,
        instance: Any,
        image_ref: str | None,
        orig_image_ref: str | None,
        preserve_ephemeral: bool = False,
    ) -> None:
        """Have a conductor send the rebuild of *instance* to its host (1.1; a cast).

        The instance is in task ``rebuilding`` (the compute API claimed it) with
        ``image_ref`` already *image_ref*. The conductor checks that it still is and
        casts the rebuild to the instance's host; when it cannot, the task is ended
        with a fault and the action finished. A rebuild that made no progress is ended
        by the reconciler (``[conductor] task_timeout``).
        """
        self.client.prepare(version=self.REBUILD_VERSION).cast(
            ctxt,
            "rebuild_instance",
            instance=instance,
            image_ref=image_ref,
            orig_image_ref=orig_image_ref,
            preserve_ephemeral=preserve_ephemeral,
        )

    def unshelve_instance(self, ctxt: Any, instance: Any, spec: Any) -> None:
        """Have a conductor unshelve *instance* (1.2; a cast): power a ``shelved`` one on
        at its host, or schedule a ``shelved_offloaded`` one by RequestSpec *spec* (its
        ``force_hosts`` a requested zone's or host) and have the chosen host spawn it from
        its shelved image. The instance is in task ``unshelving`` (the compute API
        claimed it); when it cannot be placed or sent, the task ends with a fault and the
        instance stays shelved.
        """
        self.client.prepare(version=self.UNSHELVE_VERSION).cast(
            ctxt, "unshelve_instance", instance=instance, spec=spec
        )
