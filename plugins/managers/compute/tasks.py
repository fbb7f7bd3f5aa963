"""The compute manager's periodic work: resource audit, power-state sync, orphan reaping.

:class:`ComputeTasks` is reachable as ``ComputeManager.compute_tasks``; the periodic task
plugins of ``nubis.periodic_tasks`` (``update_available_resource``, ``sync_power_states``,
``reap_orphans``) drive it, so operators choose which of them run with ``[compute]
periodic_tasks``. The lifecycle-event listener uses the same power-state rules.

Power-state sync rules (Nova's: who wins when the database and the hypervisor disagree)
    An instance with a task in progress is skipped (the task will set its state), as is
    one that is not on this host or whose lock is held. Otherwise ``power_state`` takes
    the hypervisor's value (NOSTATE when the guest is missing), and then by ``vm_state``:

    ====================== =============================== ============================
    vm_state in the DB     hypervisor says                 action
    ====================== =============================== ============================
    active                 shutdown, crashed, suspended    stop it (vm_state stopped)
    active                 paused / nostate                log; the user decides
    stopped                running, paused, suspended      power the guest off
    paused                 shutdown, crashed               stop it
    deleted, soft-delete   anything but shutdown/nostate   log
    building, error        anything                        only power_state
    ====================== =============================== ============================

    "Stop it" and "power it off" go through the manager's stop operation, recorded as a
    ``stop`` action with a ``compute_stop_instance`` event.

Orphans
    A guest the driver runs that is no instance of this host, is not moving to or from it
    in a live migration, and whose instance the database deleted or never knew. A guest
    whose (live) instance the database places on another host is not judged here.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from nubis.core import exception, objects
from nubis.core.compute.states import VMState
from nubis.core.context import get_admin_context
from nubis.core.virt import power_state

if TYPE_CHECKING:
    from nubis.plugins.managers.compute.manager import ComputeManager
    from nubis.plugins.managers.compute.resource_tracker import AuditResult

LOG = logging.getLogger(__name__)

ORPHAN_ACTIONS = ("noop", "log", "reap")

# Outcomes of one instance's power-state sync (returned for logs and tests).
IN_SYNC = "in sync"
SKIPPED_TASK = "skipped: task in progress"
SKIPPED_BUSY = "skipped: instance busy"
SKIPPED_ELSEWHERE = "skipped: not on this host"
POWER_STATE_UPDATED = "power_state updated"
STOPPED = "stopped"
POWERED_OFF = "powered off"
IGNORED = "left alone"  # logged; only power_state is updated

_OFF = (power_state.SHUTDOWN, power_state.CRASHED)


@dataclasses.dataclass
class GuestRef:
    """The attributes the virt driver contract reads, for a guest with no instance."""

    uuid: str
    name: str
    memory_mb: int = 0
    vcpus: int = 0
    root_gb: int = 0
    image_ref: str = ""
    host: str | None = None
    node: str | None = None
    power_state: int = power_state.NOSTATE


class ComputeTasks:
    """Periodic work of one :class:`~.manager.ComputeManager`."""

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager
        self.audits = 0

    # --- the resource audit ------------------------------------------------------------

    def update_available_resource(self, context: Any) -> dict[str, AuditResult]:
        """Audit every node the driver reports; delete this host's nodes it no longer does.

        Skipped (with a warning) while the hypervisor is unavailable: its silence must not
        read as "no nodes". A node whose audit fails is logged and the others go on.
        """
        manager = self.manager
        driver = manager.driver
        if not driver.is_hypervisor_available():
            LOG.warning("resource audit of %s skipped: the hypervisor is unavailable", manager.host)
            return {}
        nodes = list(driver.get_available_nodes(refresh=True))
        host_instances = list(objects.InstanceList.get_by_host(context, manager.host))
        guests = list(driver.list_instance_uuids())
        results: dict[str, AuditResult] = {}
        for index, nodename in enumerate(sorted(nodes)):
            try:
                results[nodename] = manager._tracker(nodename).update_available_resource(
                    context,
                    service_id=manager.service_id,
                    count_orphans=index == 0,
                    host_instances=host_instances,
                    guest_uuids=guests,
                )
            except Exception:
                LOG.exception("resource audit of node %s of %s failed", nodename, manager.host)
        if nodes:
            self._delete_unreported_nodes(context, set(nodes))
        else:
            LOG.warning(
                "the virt driver of %s reports no nodes; its compute nodes are kept", manager.host
            )
        first = self.audits == 0
        self.audits += 1
        changed = any(r.created or r.saved for r in results.values())
        LOG.log(
            logging.INFO if first or changed else logging.DEBUG,
            "resource audit of %s completed%s: %s",
            manager.host,
            " (first)" if first else "",
            "; ".join(
                f"{name}: {r.instances} instances, {r.migrations} migrations, "
                f"{len(r.orphans)} orphans, "
                + ("created" if r.created else ("saved" if r.saved else "unchanged"))
                for name, r in sorted(results.items())
            )
            or "no nodes",
        )
        return results

    def _delete_unreported_nodes(self, context: Any, reported: set[str]) -> None:
        manager = self.manager
        try:
            known = objects.ComputeNodeList.get_all_by_host(context, manager.host)
        except exception.ComputeHostNotFound:
            return
        for node in known:
            if node.hypervisor_hostname in reported:
                continue
            LOG.info(
                "deleting compute node %s of %s (id %s): the virt driver no longer reports it",
                node.hypervisor_hostname,
                manager.host,
                node.id,
            )
            try:
                node.destroy()
            except exception.ComputeNodeNotFound:
                pass
            manager._drop_tracker(node.hypervisor_hostname)

    # --- power-state sync ----------------------------------------------------------------

    def sync_power_states(self, context: Any) -> dict[str, str]:
        """Apply the power-state rules to every instance of this host; return the outcomes."""
        manager = self.manager
        if not manager.driver.is_hypervisor_available():
            LOG.warning(
                "power-state sync of %s skipped: the hypervisor is unavailable", manager.host
            )
            return {}
        instances = list(objects.InstanceList.get_by_host(context, manager.host))
        outcomes: dict[str, str] = {}
        for instance in instances:
            if instance.task_state is not None:
                outcomes[instance.uuid] = SKIPPED_TASK
                continue
            try:
                outcomes[instance.uuid] = self.sync_instance(context, instance)
            except Exception as exc:
                LOG.exception("power-state sync of instance %s failed", instance.uuid)
                outcomes[instance.uuid] = f"failed: {exception.one_line(exc)}"
        changed = {u: o for u, o in outcomes.items() if o not in (IN_SYNC, SKIPPED_TASK)}
        if changed:
            LOG.info("power-state sync of %s: %s", manager.host, changed)
        return outcomes

    def sync_instance(self, context: Any, instance: Any) -> str:
        """Sync one instance with what the hypervisor says now; return the outcome."""
        manager = self.manager
        try:
            with manager.instance_locks.hold(instance.uuid, "the power-state sync", timeout=0):
                vm_power = manager._driver_power_state(instance)
                if self._rule(instance, vm_power) == IN_SYNC:
                    return IN_SYNC
                # Something to do: act on the record as it is now, not as listed.
                instance.refresh()
                return self._apply(context, instance, vm_power)
        except exception.LockTimeout:
            return SKIPPED_BUSY
        except exception.InstanceNotFound:
            return SKIPPED_ELSEWHERE

    def _rule(self, instance: Any, vm_power: int) -> str:
        """What the rules would do (without doing it)."""
        if instance.host != self.manager.host:
            return SKIPPED_ELSEWHERE
        if instance.task_state is not None:
            return SKIPPED_TASK
        action = _vm_state_action(instance.vm_state, vm_power)
        if action in (STOPPED, POWERED_OFF):
            return action
        if instance.power_state != vm_power:
            return POWER_STATE_UPDATED
        return IN_SYNC

    def _apply(self, context: Any, instance: Any, vm_power: int) -> str:
        outcome = self._rule(instance, vm_power)
        if outcome in (IN_SYNC, SKIPPED_ELSEWHERE, SKIPPED_TASK):
            return outcome
        if instance.power_state != vm_power:
            LOG.info(
                "instance %s: power_state %s in the database, %s on the hypervisor; updating",
                instance.uuid,
                power_state.name(instance.power_state or 0),
                power_state.name(vm_power),
            )
            instance.power_state = vm_power
            try:
                instance.save(expected_task_state=[None])
            except exception.UnexpectedTaskStateError:
                return SKIPPED_TASK
        action = _vm_state_action(instance.vm_state, vm_power)
        if action in (STOPPED, POWERED_OFF):
            LOG.warning(
                "instance %s is %s in the database but %s on the hypervisor: %s",
                instance.uuid,
                instance.vm_state,
                power_state.name(vm_power),
                "stopping it" if action == STOPPED else "powering the guest off",
            )
            self.manager._stop_for_sync(context, instance)
            return action
        if action == IGNORED:
            LOG.warning(
                "instance %s is %s in the database but %s on the hypervisor; left alone",
                instance.uuid,
                instance.vm_state,
                power_state.name(vm_power),
            )
        return POWER_STATE_UPDATED

    # --- orphans -------------------------------------------------------------------------

    def reap_orphans(self, context: Any, action: str) -> list[tuple[str, str]]:
        """Find orphan guests; log or destroy them as *action* says. Returns (uuid, why)."""
        if action not in ORPHAN_ACTIONS:
            raise exception.ConfigurationError(
                option="[compute] orphan_action",
                reason=f"{action!r} is not one of {', '.join(ORPHAN_ACTIONS)}",
            )
        if action == "noop":
            return []
        manager = self.manager
        driver = manager.driver
        if not driver.is_hypervisor_available():
            return []
        guests = list(driver.list_instance_uuids())
        names = dict(zip(guests, driver.list_instances(), strict=False))
        known = {i.uuid for i in objects.InstanceList.get_by_host(context, manager.host)}
        candidates = set(guests) - known - manager._in_flight_instances()
        if candidates:
            for nodename in driver.get_available_nodes():
                for migration in objects.MigrationList.get_in_progress_by_host_and_node(
                    context, manager.host, nodename
                ):
                    candidates.discard(migration.instance_uuid)
        if not candidates:
            return []
        deleted_too = get_admin_context(read_deleted="yes")
        rows = {
            row.uuid: row
            for row in objects.InstanceList.get_all(
                deleted_too, filters={"uuid": sorted(candidates)}
            )
        }
        found = []
        for uuid in sorted(candidates):
            row = rows.get(uuid)
            if row is not None and not row.deleted:
                LOG.debug(
                    "guest %s runs here but its instance is on %s; not judged", uuid, row.host
                )
                continue
            why = "deleted in the database" if row is not None else "unknown to the database"
            found.append((uuid, why))
            name = names.get(uuid, uuid)
            if action == "log":
                LOG.warning(
                    "orphan guest %s (%s) runs on %s: %s; [compute] orphan_action = log",
                    uuid,
                    name,
                    manager.host,
                    why,
                )
                continue
            LOG.warning("reaping orphan guest %s (%s) on %s: %s", uuid, name, manager.host, why)
            target = row if row is not None else GuestRef(uuid=uuid, name=name, host=manager.host)
            try:
                with manager.instance_locks.hold(uuid, "orphan reaping", timeout=0):
                    driver.destroy(context, target, destroy_disks=True)
            except exception.LockTimeout:
                continue
            except Exception:
                LOG.exception("reaping orphan guest %s failed", uuid)
                continue
            manager._forget_instance(context, uuid)
        return found


def _vm_state_action(vm_state: str | None, vm_power: int) -> str:
    """The rule table of the module docstring: what the vm_state/power pair calls for."""
    if vm_state == VMState.ACTIVE:
        if vm_power in _OFF or vm_power == power_state.SUSPENDED:
            return STOPPED
        if vm_power in (power_state.PAUSED, power_state.NOSTATE):
            return IGNORED
    elif vm_state == VMState.STOPPED:
        if vm_power not in (*_OFF, power_state.NOSTATE):
            return POWERED_OFF
    elif vm_state == VMState.PAUSED:
        if vm_power in _OFF:
            return STOPPED
    elif vm_state in (VMState.DELETED, VMState.SOFT_DELETED):
        if vm_power not in (power_state.SHUTDOWN, power_state.NOSTATE):
            return IGNORED
    return IN_SYNC
