"""Live migration in the compute manager: the destination's side.

:class:`IncomingMigrations` carries out the manager's RPC methods that a live
migration calls on its destination (same names; the flow is in :mod:`.manager`'s
docstring, the message sequence in :mod:`nubis.core.compute.rpcapi`, the source's side
in :mod:`.live_migration`): the destination's check (which asks the source in turn),
``pre_live_migration`` -- which claims the guest's resources on a node, the incoming
claim held until post-migration settles it or a rollback aborts it -- and the
post-migration and rollback steps.
"""

from __future__ import annotations

import threading
from typing import Any

from nubis.core import objects
from nubis.core.compute.power_sync import hypervisor_power_state
from nubis.core.compute.states import InstanceActionName, TaskState
from nubis.core.virt import migration as lm
from nubis.plugins.managers.compute.claims import Claim, resources_of
from nubis.plugins.managers.compute.nodes import NodeTrackers
from nubis.plugins.managers.compute.operations import ManagerView, Operations


class IncomingMigrations:
    """The live migrations arriving on the host of the manager seen through *view*."""

    def __init__(self, view: ManagerView, ops: Operations, nodes: NodeTrackers) -> None:
        self._view = view
        self._ops = ops
        self._nodes = nodes
        self._incoming: dict[str, Claim] = {}  # by instance uuid
        self._lock = threading.Lock()

    @property
    def _driver(self) -> Any:
        return self._view.driver

    def in_flight(self) -> set[str]:
        """The instances whose live migration to this host holds an incoming claim."""
        with self._lock:
            return set(self._incoming)

    def check_can_live_migrate_destination(
        self, context: Any, instance: Any, block_migration: bool = False
    ) -> dict[str, Any]:
        """On the destination: check with the driver, then ask the source; return migrate_data."""
        with self._ops.operation(
            context,
            instance,
            "compute_check_can_live_migrate_destination",
            InstanceActionName.LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            source = objects.ComputeNode.get_by_host_and_nodename(
                context, instance.host, instance.node
            )
            nodename = self._nodes.default_node()
            rt = self._nodes.get(nodename)
            dest = rt.compute_node or objects.ComputeNode.get_by_host_and_nodename(
                context, self._view.host, nodename
            )
            dest_check_data = self._driver.check_can_live_migrate_destination(
                context, instance, resources_of(source), resources_of(dest), block_migration
            )
            result: dict[str, Any] = self._view.compute_rpcapi.check_can_live_migrate_source(
                context, instance, lm.serialisable(dest_check_data), timeout=self._view.rpc_timeout
            )
            return result

    def pre_live_migration(
        self, context: Any, instance: Any, migrate_data: dict[str, Any]
    ) -> dict[str, Any]:
        """On the destination: claim the guest's resources and let the driver prepare."""
        with self._ops.operation(
            context,
            instance,
            "compute_pre_live_migration",
            InstanceActionName.LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            claim = self._nodes.get(self._nodes.default_node()).incoming_claim(context, instance)
            try:
                data = self._driver.pre_live_migration(
                    context, instance, None, None, None, dict(migrate_data)
                )
            except Exception:
                claim.abort()
                raise
            with self._lock:
                self._incoming[instance.uuid] = claim
            return lm.serialisable(data)

    def post_live_migration_at_destination(
        self,
        context: Any,
        instance: Any,
        block_migration: bool = False,
        node: str | None = None,
    ) -> None:
        """On the destination: take the arrived guest over; the instance is now here."""
        with self._ops.operation(
            context,
            instance,
            "compute_post_live_migration_at_destination",
            InstanceActionName.LIVE_MIGRATION,
            call=True,
        ):
            self._driver.post_live_migration_at_destination(
                context, instance, None, block_migration, None
            )
            with self._lock:
                claim = self._incoming.pop(instance.uuid, None)
            nodes = self._driver.get_available_nodes()
            instance.host = self._view.host
            instance.node = (
                node
                if node in nodes
                else (claim.tracker.nodename if claim is not None else self._nodes.default_node())
            )
            instance.power_state = hypervisor_power_state(self._driver, instance)
            instance.task_state = None  # vm_state stays what it was (active or paused)
            instance.progress = 0
            instance.save(expected_task_state=[TaskState.MIGRATING])
            if claim is not None:
                claim.settle()

    def rollback_live_migration_at_destination(
        self, context: Any, instance: Any, migrate_data: dict[str, Any] | None = None
    ) -> None:
        """On the destination: remove what pre_live_migration prepared, release the claim."""
        with self._ops.operation(
            context,
            instance,
            "compute_rollback_live_migration_at_destination",
            InstanceActionName.LIVE_MIGRATION,
            call=True,
            lock=False,
        ):
            try:
                self._driver.rollback_live_migration_at_destination(
                    context, instance, None, None, destroy_disks=True, migrate_data=migrate_data
                )
            finally:
                with self._lock:
                    claim = self._incoming.pop(instance.uuid, None)
                if claim is not None:
                    claim.abort()
