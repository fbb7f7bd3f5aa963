"""LiveMigrationTask: the conductor's checks before a live migration starts (flow 3).

In order: the instance is active (or paused) and is being migrated by this request
(``task_state`` migrating, set by the compute API); its source host's compute service
is up; then the destination is either

* requested (*destination* given): not the source, its compute service up and enabled,
  enough free memory on its node, the same hypervisor type and a version no older than
  the source's; or
* found by the scheduler, excluding the source and every host already tried, with the
  same hypervisor type and minimum version and by the policy of the instance's server
  group, if any -- retried on another host when the chosen one's checks refuse, at most
  ``[conductor] live_migration_max_retries`` times. (A requested destination is not
  checked against the group's policy, as Nova does not check a forced one.)

Either way the destination's compute then runs its own checks (which ask the source's),
over RPC calls bounded by ``rpc_response_timeout``; a destination that does not answer
in time is refused like one that said no. Then a Migration record (created ``accepted``
at the start) gets the destination, and the version-negotiated ``live_migration`` cast
goes to the source compute, which does the rest.

Any failure rolls back: the migration ends ``error``, the instance keeps its host and
node with no task state (so it stays ACTIVE on its source), and the error is raised to
the caller.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from typing import Any

import oslo_messaging as messaging

from nubis.core import binaries, exception, objects
from nubis.core.compute.states import LIVE_MIGRATION, MigrationStatus, TaskState, VMState
from nubis.core.objects.request_spec import RequestSpec

LOG = logging.getLogger(__name__)

_MIGRATABLE_VM_STATES = (VMState.ACTIVE, VMState.PAUSED)
# What a destination's pre-checks raise when it cannot take the instance: try another.
_REFUSALS = (
    exception.MigrationPreCheckError,
    exception.LiveMigrationNotSupported,
    exception.ComputeServiceUnavailable,
    messaging.MessagingTimeout,
)


class LiveMigrationTask:
    """One live migration request, from the checks to the cast (see the module doc)."""

    def __init__(
        self,
        context: Any,
        instance: Any,
        destination: str | None,
        block_migration: bool,
        compute_rpcapi: Any,
        scheduler_rpcapi: Any,
        servicegroup_api: Any,
        conf: Any,
    ) -> None:
        self.context = context
        self.instance = instance
        self.destination = destination
        self.block_migration = block_migration
        self.compute_rpcapi = compute_rpcapi
        self.scheduler_rpcapi = scheduler_rpcapi
        self.servicegroup_api = servicegroup_api
        self.conf = conf
        self.source = instance.host
        self.migration: Any = None

    @property
    def _timeout(self) -> float:
        return float(self.conf.rpc_response_timeout)

    def execute(self) -> Any:
        """Check, record and cast; return the Migration. Rolls back and raises on failure."""
        self._check_instance()
        self.migration = self._create_migration()
        try:
            self._check_host_is_up(self.source)
            source_node = objects.ComputeNode.get_by_host_and_nodename(
                self.context, self.source, self.instance.node
            )
            if self.destination is None:
                dest, dest_node, migrate_data = self._find_destination(source_node)
            else:
                dest_node = self._check_requested_destination(source_node)
                dest = self.destination
                migrate_data = self._compute_checks(dest)
            self.migration.dest_compute = dest
            self.migration.dest_node = dest_node.hypervisor_hostname
            self.migration.dest_host = str(dest_node.host_ip) if dest_node.host_ip else None
            self.migration.save()
            self.compute_rpcapi.live_migration(
                self.context,
                self.instance,
                dest,
                self.block_migration,
                migrate_data,
                self.migration,
            )
        except BaseException as exc:
            self._rollback(exc)
            raise
        LOG.info(
            "live migration %s of %s from %s to %s sent to the source",
            self.migration.uuid,
            self.instance.uuid,
            self.source,
            dest,
        )
        return self.migration

    # --- checks --------------------------------------------------------------------

    def _check_instance(self) -> None:
        instance = self.instance
        if instance.vm_state not in _MIGRATABLE_VM_STATES or not instance.host:
            raise exception.InstanceInvalidState(
                action="live-migrate",
                instance_uuid=instance.uuid,
                state=f"vm_state {instance.vm_state}",
                expected="active or paused on a host",
            )
        if instance.task_state not in (None, TaskState.MIGRATING):
            raise exception.InstanceInvalidState(
                action="live-migrate",
                instance_uuid=instance.uuid,
                state=f"task_state {instance.task_state}",
                expected="free of other tasks",
            )

    def _check_host_is_up(self, host: str) -> Any:
        service = objects.Service.get_by_host_and_binary(self.context, host, binaries.COMPUTE)
        if service is None or not self.servicegroup_api.is_up(service):
            raise exception.ComputeServiceUnavailable(host=host)
        return service

    def _check_requested_destination(self, source_node: Any) -> Any:
        dest = self.destination
        assert dest is not None
        uuid = self.instance.uuid
        if dest == self.source:
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid, reason=f"the destination {dest} is the instance's own host"
            )
        service = self._check_host_is_up(dest)
        if service.disabled:
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid,
                reason=f"the compute service of {dest} is disabled "
                f"({service.disabled_reason or 'no reason given'})",
            )
        nodes = objects.ComputeNodeList.get_all_by_host(self.context, dest)
        if not nodes:
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid, reason=f"{dest} reports no compute node"
            )
        node = nodes[0]
        needed = int(self.instance.memory_mb or 0)
        free = int(node.free_ram_mb if node.free_ram_mb is not None else 0)
        if free < needed:
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid,
                reason=f"{dest} has {free} MB of free memory; the instance needs {needed} MB",
            )
        if node.hypervisor_type != source_node.hypervisor_type:
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid,
                reason=f"{dest} runs hypervisor type {node.hypervisor_type}; the source "
                f"runs {source_node.hypervisor_type}",
            )
        if (node.hypervisor_version or 0) < (source_node.hypervisor_version or 0):
            raise exception.MigrationPreCheckError(
                instance_uuid=uuid,
                reason=f"{dest} runs hypervisor version {node.hypervisor_version}, older "
                f"than the source's {source_node.hypervisor_version}",
            )
        return node

    def _find_destination(self, source_node: Any) -> tuple[str, Any, dict[str, Any]]:
        """Ask the scheduler, then the chosen host; retry on refusals, boundedly."""
        tried: list[str] = []
        refusals: list[str] = []
        retries = int(self.conf.conductor.live_migration_max_retries)
        try:
            group = objects.InstanceGroup.get_by_instance_uuid(self.context, self.instance.uuid)
        except exception.InstanceGroupNotFound:
            group = None
        for _attempt in range(retries + 1):
            spec = RequestSpec.from_instance(
                self.instance,
                ignore_hosts=[self.source, *tried],
                hypervisor_type=source_node.hypervisor_type,
                min_hypervisor_version=source_node.hypervisor_version,
                instance_group=group.obj_clone() if group is not None else None,
            )
            try:
                chosen = self.scheduler_rpcapi.select_destinations(
                    self.context, spec, ignore_hosts=[self.source, *tried], num=1
                )[0]
            except exception.NoValidHost as exc:
                if not refusals:
                    raise
                raise exception.NoValidHost(
                    reason=f"{_reason(exc)}; the destinations tried refused: " + "; ".join(refusals)
                ) from exc
            host = chosen["host"]
            try:
                migrate_data = self._compute_checks(host)
            except _REFUSALS as exc:
                LOG.info(
                    "live migration of %s: %s refused (%s); trying another host",
                    self.instance.uuid,
                    host,
                    exception.one_line(exc),
                )
                tried.append(host)
                refusals.append(f"{host}: {exception.one_line(exc)}")
                continue
            node = objects.ComputeNode.get_by_host_and_nodename(
                self.context, host, chosen["nodename"]
            )
            return host, node, migrate_data
        raise exception.MaxRetriesExceeded(
            reason=f"live migration of {self.instance.uuid}: {len(tried)} destinations "
            f"refused ([conductor] live_migration_max_retries = {retries}): " + "; ".join(refusals)
        )

    def _compute_checks(self, dest: str) -> dict[str, Any]:
        try:
            result: dict[str, Any] = self.compute_rpcapi.check_can_live_migrate_destination(
                self.context,
                self.instance,
                dest,
                self.block_migration,
                timeout=self._timeout,
            )
        except messaging.MessagingTimeout:
            raise exception.MigrationPreCheckError(
                instance_uuid=self.instance.uuid,
                reason=f"{dest} did not answer the pre-checks within {self._timeout:g} s "
                "(rpc_response_timeout)",
            ) from None
        return result

    # --- record and rollback -------------------------------------------------------

    def _create_migration(self) -> Any:
        migration = objects.Migration(self.context)
        migration.uuid = str(uuid_module.uuid4())
        migration.instance_uuid = self.instance.uuid
        migration.migration_type = LIVE_MIGRATION
        migration.source_compute = self.source
        migration.source_node = self.instance.node
        migration.dest_compute = self.destination
        migration.status = MigrationStatus.ACCEPTED
        migration.project_id = self.instance.project_id
        migration.user_id = self.instance.user_id
        migration.create()
        return migration

    def _rollback(self, exc: BaseException) -> None:
        LOG.warning(
            "live migration of %s from %s failed before it started: %s",
            self.instance.uuid,
            self.source,
            exception.one_line(exc),
        )
        try:
            if self.migration is not None:
                self.migration.status = MigrationStatus.ERROR
                self.migration.save()
            self.instance.task_state = None
            self.instance.save(expected_task_state=[TaskState.MIGRATING, None])
        except Exception:
            LOG.exception("rolling back the live migration of %s failed", self.instance.uuid)


def _reason(exc: BaseException) -> str:
    """The message of *exc* without its class's prefix and any remote traceback."""
    text = exception.one_line(exc)
    prefix = "no valid host was found: "
    return text[len(prefix) :] if text.startswith(prefix) else text
