"""The resource tracker: one per hypervisor node of a compute host.

It knows what the node has (from the virt driver) and what its guests use (from the
instances on the node, the live migrations into or out of it that are still in progress,
and the guests the hypervisor runs that the database does not account for), keeps that
in the node's ComputeNode record, and admits new guests with claims.

Claims
    :meth:`ResourceTracker.instance_claim` checks that an instance fits (vCPUs, memory
    and disk, each against the node's total times its allocation ratio) and counts it
    at once; used as a context manager, the claim is rolled back when the block raises
    (the build failed) and settled otherwise. :meth:`ResourceTracker.incoming_claim`
    does the same for a live migration arriving on the node. :class:`~.claims.Claim`
    and the :class:`~.claims.Usage` it holds are in :mod:`.claims`.

The lock
    Claims and the audit change the tracker under one :class:`~.locks.TimedLock`, always
    taken with a timeout (``lock_timeout``): a build that cannot have it fails with a
    LockTimeout naming the holder instead of waiting for ever. The audit reads the
    database and the hypervisor *before* it takes the lock; inside the lock it only
    computes and saves the ComputeNode (one remotable call, bounded by the RPC timeout).

The audit (:meth:`ResourceTracker.update_available_resource`)
    1. asks the driver for the node's resources and rejects a result that lacks keys of
       :data:`nubis.core.virt.hardware.RESOURCE_KEYS` (InvalidDriverResources naming them);
    2. reads the host's instances, the node's in-progress migrations and, with
       ``count_orphans``, the guests the driver runs that no instance of this host is;
    3. under the lock, folds in what changed since step 2 began (claims, deletions,
       arrivals: each change carries a sequence number, so a snapshot taken before a
       change never undoes it), computes usage and the node's fields;
    4. creates the ComputeNode if this host has none for the node, and otherwise saves
       it -- through the indirection API -- only when a field actually changed.

Usage counts every instance once (by uuid): vCPUs, memory and root + ephemeral disk.
An orphan the database has never known counts as a running VM of unknown size (the
driver contract reports no per-guest size); one the database deleted counts with the
size it had. The result of an audit is the compute host contract's
:class:`~nubis.core.compute.host.AuditResult`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.host import AuditResult
from nubis.core.compute.states import VMState
from nubis.core.context import get_admin_context
from nubis.core.virt import hardware
from nubis.plugins.managers.compute.claims import (
    Claim,
    Usage,
    field_of,
    node_uuid,
    total,
)
from nubis.plugins.managers.compute.locks import TimedLock

LOG = logging.getLogger(__name__)

#: Seconds a claim or an audit waits for the tracker's lock before LockTimeout.
DEFAULT_LOCK_TIMEOUT = 30.0

#: Allocation ratios a new ComputeNode starts with (Nova's initial ratios).
DEFAULT_ALLOCATION_RATIOS: Mapping[str, float] = {
    "cpu_allocation_ratio": 16.0,
    "ram_allocation_ratio": 1.5,
    "disk_allocation_ratio": 1.0,
}


class ResourceTracker:
    """Tracks node *nodename* of compute host *host*, driven by virt driver *driver*."""

    def __init__(
        self,
        host: str,
        driver: Any,
        nodename: str,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.host = host
        self.driver = driver
        self.nodename = nodename
        self.lock_timeout = lock_timeout
        self.lock = TimedLock(f"the resource tracker of node {nodename}")
        self.compute_node: Any = None
        self._usage: dict[str, Usage] = {}  # settled guests, from the last audit on
        self._claims: dict[str, Usage] = {}  # builds in progress
        self._incoming: dict[str, Usage] = {}  # live migrations arriving
        self._incoming_since: dict[str, int] = {}  # when each incoming claim was made
        self._changes: dict[str, tuple[int, Usage | None]] = {}  # since an audit began
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._unknown_orphans: set[str] = set()
        self.audits = 0
        self.node_saves = 0

    # --- helpers -------------------------------------------------------------------------

    def _locked(self, what: str) -> Any:
        return self.lock.hold(what, self.lock_timeout)

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def _note(self, instance_uuid: str, usage: Usage | None) -> None:
        """Remember a change the database may not show to an audit already reading it."""
        self._changes[instance_uuid] = (self._next_seq(), usage)

    def _current(self) -> dict[str, Usage]:
        current = dict(self._usage)
        current.update(self._incoming)
        current.update(self._claims)
        return current

    @property
    def usage(self) -> Usage:
        """The node's usage as the tracker counts it right now."""
        return total(self._current().values())

    @property
    def in_flight(self) -> set[str]:
        """The uuids of the builds and the incoming live migrations claimed right now."""
        return set(self._claims) | set(self._incoming)

    @property
    def tracked(self) -> set[str]:
        """The uuids of the guests counted on the node."""
        return set(self._current())

    def _ratio(self, name: str) -> float:
        value = field_of(self.compute_node, name)
        return float(value) if value else DEFAULT_ALLOCATION_RATIOS[name]

    def _check_fits(self, instance_uuid: str, usage: Usage) -> None:
        node = self.compute_node
        if node is None:
            raise exception.ComputeResourcesUnavailable(
                node=self.nodename,
                host=self.host,
                instance_uuid=instance_uuid,
                reason="the node has not been audited yet",
            )
        others = self._current()
        others.pop(instance_uuid, None)
        used = total(others.values())
        problems = []
        for what, unit, have, in_use, want, ratio in (
            ("vCPUs", "", node.vcpus, used.vcpus, usage.vcpus, "cpu_allocation_ratio"),
            (
                "memory",
                " MiB",
                node.memory_mb,
                used.memory_mb,
                usage.memory_mb,
                "ram_allocation_ratio",
            ),
            ("disk", " GiB", node.local_gb, used.disk_gb, usage.disk_gb, "disk_allocation_ratio"),
        ):
            limit = int(have or 0) * self._ratio(ratio)
            free = limit - in_use
            if want > free:
                problems.append(
                    f"{want}{unit} {what} requested, {free:g}{unit} free of {limit:g}{unit}"
                )
        if problems:
            raise exception.ComputeResourcesUnavailable(
                node=self.nodename,
                host=self.host,
                instance_uuid=instance_uuid,
                reason="; ".join(problems),
            )

    # --- claims --------------------------------------------------------------------------

    def instance_claim(self, context: Any, instance: Any) -> Claim:
        """Claim what *instance* needs on this node; sets its host, node and launched_on.

        Raises ComputeResourcesUnavailable when it does not fit and LockTimeout when the
        tracker is busy for longer than ``lock_timeout``. Use the result as a context
        manager around the build: rolled back if the block raises.
        """
        usage = Usage.of(instance)
        with self._locked(f"the claim of instance {instance.uuid}"):
            self._check_fits(instance.uuid, usage)
            self._claims[instance.uuid] = usage
            try:
                self._save_usage(context)
            except Exception:
                self._claims.pop(instance.uuid, None)
                raise
        previous = {name: field_of(instance, name) for name in ("host", "node", "launched_on")}
        instance.host = self.host
        instance.node = self.nodename
        instance.launched_on = self.host
        return Claim(self, context, instance, usage, "build", previous)

    def incoming_claim(self, context: Any, instance: Any) -> Claim:
        """Claim what a live migration arriving on this node needs (see instance_claim).

        Settle it once the instance's record names this node; abort it on rollback.
        """
        usage = Usage.of(instance)
        with self._locked(f"the incoming claim of instance {instance.uuid}"):
            self._check_fits(instance.uuid, usage)
            self._incoming[instance.uuid] = usage
            self._incoming_since[instance.uuid] = self._next_seq()
            try:
                self._save_usage(context)
            except Exception:
                self._incoming.pop(instance.uuid, None)
                raise
        return Claim(self, context, instance, usage, "incoming")

    def close_claim(self, claim: Claim, keep: bool) -> None:
        """End *claim* (see :class:`~.claims.Claim`): keep counting its usage or give it back."""
        with self._locked(f"closing the {claim.kind} claim of instance {claim.instance.uuid}"):
            held = self._claims if claim.kind == "build" else self._incoming
            held.pop(claim.instance.uuid, None)
            if claim.kind == "incoming":
                self._incoming_since.pop(claim.instance.uuid, None)
            if keep:
                self._usage[claim.instance.uuid] = claim.usage
                self._note(claim.instance.uuid, claim.usage)
            else:
                self._usage.pop(claim.instance.uuid, None)
                self._note(claim.instance.uuid, None)
                self._save_usage(claim.context)

    def remove_instance(self, context: Any, instance_uuid: str) -> None:
        """Stop counting an instance that left the node (deleted, or migrated away)."""
        with self._locked(f"removing instance {instance_uuid}"):
            self._usage.pop(instance_uuid, None)
            self._claims.pop(instance_uuid, None)
            self._incoming.pop(instance_uuid, None)
            self._incoming_since.pop(instance_uuid, None)
            self._note(instance_uuid, None)
            self._save_usage(context)

    # --- the audit -----------------------------------------------------------------------

    def update_available_resource(
        self,
        context: Any,
        service_id: int | None = None,
        count_orphans: bool = True,
        host_instances: list[Any] | None = None,
        guest_uuids: list[str] | None = None,
    ) -> AuditResult:
        """Audit the node and save its ComputeNode when something changed.

        *host_instances* (every instance of this host, all nodes) and *guest_uuids* (what
        the driver runs) may be passed by a caller that audits several nodes, to read
        them once; they are read here otherwise. Orphans are counted only with
        *count_orphans* (the driver does not say which node a guest is on: a multi-node
        host counts them on one node).
        """
        began = time.perf_counter()
        with self._seq_lock:
            start_seq = self._seq
        resources = self.driver.get_available_resource(self.nodename)
        problems = hardware.resource_problems(resources)
        if problems:
            raise exception.InvalidDriverResources(
                driver=type(self.driver).__name__, node=self.nodename, problems="; ".join(problems)
            )
        host_ip = self.driver.get_host_ip_addr()
        if host_instances is None:
            host_instances = list(objects.InstanceList.get_by_host(context, self.host))
        on_node = [
            inst
            for inst in host_instances
            if inst.node == self.nodename and not inst.deleted and inst.vm_state != VMState.DELETED
        ]
        migrations = list(
            objects.MigrationList.get_in_progress_by_host_and_node(
                context, self.host, self.nodename
            )
        )
        snapshot: dict[str, Usage] = {inst.uuid: Usage.of(inst) for inst in on_node}
        elsewhere = sorted({m.instance_uuid for m in migrations} - set(snapshot))
        orphans: list[str] = []
        if count_orphans:
            if guest_uuids is None:
                guest_uuids = list(self.driver.list_instance_uuids())
            known = {inst.uuid for inst in host_instances} | {m.instance_uuid for m in migrations}
            orphans = sorted(set(guest_uuids) - known)
        lookup = sorted(set(elsewhere) | set(orphans))
        sizes: dict[str, Usage] = {}
        if lookup:
            # One call for both: a migrating instance whose record is on the other host,
            # and orphans the database knows (deleted, or recorded on another host).
            deleted_too = get_admin_context(read_deleted="yes")
            for inst in objects.InstanceList.get_all(deleted_too, filters={"uuid": lookup}):
                sizes[inst.uuid] = Usage.of(inst)
        for instance_uuid in elsewhere:
            snapshot.setdefault(instance_uuid, sizes.get(instance_uuid, Usage()))
        unknown = [u for u in orphans if u not in sizes]
        if unknown and set(unknown) != self._unknown_orphans:  # once per new set, not per audit
            LOG.warning(
                "node %s of %s: %d guest(s) the database has never known run here and are "
                "counted without a size: %s",
                self.nodename,
                self.host,
                len(unknown),
                ", ".join(unknown),
            )
        for instance_uuid in orphans:
            snapshot.setdefault(instance_uuid, sizes.get(instance_uuid, Usage()))
        self._unknown_orphans = set(unknown)

        with self._locked(f"the resource audit of node {self.nodename}"):
            for instance_uuid, (seq, usage) in self._changes.items():
                if seq <= start_seq:
                    continue
                if usage is None:
                    snapshot.pop(instance_uuid, None)
                else:
                    snapshot[instance_uuid] = usage
            self._changes = {k: v for k, v in self._changes.items() if v[0] > start_seq}
            # An incoming claim whose migration no longer runs was abandoned (the source
            # went away before post or rollback): give it back.
            migrating = {m.instance_uuid for m in migrations}
            for instance_uuid, since in list(self._incoming_since.items()):
                if since <= start_seq and instance_uuid not in migrating:
                    LOG.warning(
                        "node %s: releasing the incoming claim of %s, its live migration "
                        "is no longer in progress",
                        self.nodename,
                        instance_uuid,
                    )
                    self._incoming.pop(instance_uuid, None)
                    del self._incoming_since[instance_uuid]
            self._usage = snapshot
            stats = {
                "num_instances": str(len(on_node)),
                "num_migrations": str(len(migrations)),
                "num_orphans": str(len(orphans)),
            }
            for inst in on_node:
                key = f"num_vm_{inst.vm_state or 'none'}"
                stats[key] = str(int(stats.get(key, "0")) + 1)
            values = self._node_values(resources, host_ip, stats, service_id)
            created, changed = self._write_node(context, values)
            self.audits += 1
        result = AuditResult(
            node=self.compute_node,
            created=created,
            saved=bool(changed) and not created,
            changed=changed,
            instances=len(on_node),
            migrations=len(migrations),
            orphans=orphans,
            seconds=time.perf_counter() - began,
        )
        LOG.debug(
            "resource audit of node %s: %d instances, %d migrations, %d orphans; %s in %.1f ms",
            self.nodename,
            result.instances,
            result.migrations,
            len(orphans),
            "created" if created else (f"saved {', '.join(changed)}" if changed else "unchanged"),
            result.seconds * 1000,
        )
        return result

    def _usage_values(self) -> dict[str, Any]:
        current = self._current()
        used = total(current.values())
        node = self.compute_node
        values = {
            "vcpus_used": used.vcpus,
            "memory_mb_used": used.memory_mb,
            "local_gb_used": used.disk_gb,
            "running_vms": len(current),
        }
        if node is not None:
            values["free_ram_mb"] = int(node.memory_mb or 0) - used.memory_mb
            values["free_disk_gb"] = int(node.local_gb or 0) - used.disk_gb
        return values

    def _node_values(
        self,
        resources: Mapping[str, Any],
        host_ip: str,
        stats: dict[str, str],
        service_id: int | None,
    ) -> dict[str, Any]:
        used = total(self._current().values())
        values: dict[str, Any] = {
            "host": self.host,
            "hypervisor_hostname": self.nodename,
            "vcpus": resources["vcpus"],
            "memory_mb": resources["memory_mb"],
            "local_gb": resources["local_gb"],
            "vcpus_used": used.vcpus,
            "memory_mb_used": used.memory_mb,
            "local_gb_used": used.disk_gb,
            "free_ram_mb": resources["memory_mb"] - used.memory_mb,
            "free_disk_gb": resources["local_gb"] - used.disk_gb,
            "running_vms": len(self._current()),
            "disk_available_least": resources["disk_available_least"],
            "hypervisor_type": resources["hypervisor_type"],
            "hypervisor_version": resources["hypervisor_version"],
            "cpu_info": resources["cpu_info"],
            "supported_instances": resources["supported_instances"],
            "host_ip": host_ip or None,
            "stats": stats,
        }
        if service_id is not None:
            values["service_id"] = service_id
        for name, default in DEFAULT_ALLOCATION_RATIOS.items():
            if self.compute_node is None or field_of(self.compute_node, name) is None:
                values[name] = default
        return values

    def _write_node(self, context: Any, values: Mapping[str, Any]) -> tuple[bool, list[str]]:
        """Create the ComputeNode, or save the fields of *values* that differ; under the lock.

        Returns (created, changed field names).
        """
        node = self.compute_node
        if node is None:
            try:
                node = objects.ComputeNode.get_by_host_and_nodename(
                    context, self.host, self.nodename
                )
            except exception.ComputeHostNotFound:
                node = None
        if node is None:
            node = objects.ComputeNode(context)
            node.uuid = node_uuid(self.host, self.nodename)
            for name, value in values.items():
                setattr(node, name, value)
            node.create()
            LOG.info(
                "compute node %s of host %s created (uuid %s)", self.nodename, self.host, node.uuid
            )
            self.compute_node = node
            self.node_saves += 1
            return True, sorted(values)
        self.compute_node = node
        changed = _apply(node, values)
        if changed:
            node.save()
            self.node_saves += 1
        return False, changed

    def _save_usage(self, context: Any) -> None:
        """After a claim or release: write the usage fields when they changed (under the lock)."""
        if self.compute_node is None:
            return
        if _apply(self.compute_node, self._usage_values()):
            self.compute_node.save()
            self.node_saves += 1


def _apply(node: Any, values: Mapping[str, Any]) -> list[str]:
    """Set the fields of *values* that differ from *node*'s; return their names.

    Values are coerced by the field first, so "10.0.0.1" equals IPAddress("10.0.0.1").
    """
    changed = []
    for name, value in values.items():
        field = node.fields[name]
        coerced = value if value is None else field.coerce(node, name, value)
        if not node.obj_attr_is_set(name) or getattr(node, name) != coerced:
            setattr(node, name, coerced)
            changed.append(name)
    return changed
