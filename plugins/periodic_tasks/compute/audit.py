"""``update_available_resource``: the resource audit of a compute host.

Every node the driver reports is audited (:meth:`ComputeHost.audit_node
<nubis.core.compute.host.ComputeHost.audit_node>`), reading the host's instances and
the driver's guests once for all of them; the orphans are counted on the first node
only (the driver does not say where a guest runs). Then the compute nodes of this host
the driver no longer reports are deleted: the host's compute nodes are listed at its
first audit in this process (records a previous process left) and whenever the set of
reported nodes differs from the one the previous listing confirmed -- not at every
audit, since only this host creates its nodes and an unchanged set leaves nothing to
delete (a read per host per minute that a large fleet's conductors would otherwise pay).

Skipped (with a warning) while the hypervisor is unavailable: its silence must not read
as "no nodes", and neither does a driver that reports none. A node whose audit fails is
logged and the others go on. The summary line is INFO for the first audit of a host and
whenever a ComputeNode was created or saved, DEBUG otherwise.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.host import AuditResult, ComputeHost, compute_host_of
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)

AUDIT_SPACING = 60

# How many audits of each host (manager object) completed in this process.
_audits: weakref.WeakKeyDictionary[ComputeHost, int] = weakref.WeakKeyDictionary()
# The nodes each host's last listing of its compute nodes found to be all it has.
_confirmed_nodes: weakref.WeakKeyDictionary[ComputeHost, frozenset[str]] = (
    weakref.WeakKeyDictionary()
)
_audits_lock = threading.Lock()


@periodic_task(spacing=AUDIT_SPACING)
def update_available_resource(manager: Any, context: Any) -> dict[str, AuditResult]:
    """Audit the host's resources and save each ComputeNode that changed."""
    host = compute_host_of(manager, "update_available_resource")
    driver = host.driver
    if not driver.is_hypervisor_available():
        LOG.warning("resource audit of %s skipped: the hypervisor is unavailable", host.host)
        return {}
    nodes = list(driver.get_available_nodes(refresh=True))
    host_instances = list(objects.InstanceList.get_by_host(context, host.host))
    guests = list(driver.list_instance_uuids())
    results: dict[str, AuditResult] = {}
    for index, nodename in enumerate(sorted(nodes)):
        try:
            results[nodename] = host.audit_node(
                context,
                nodename,
                count_orphans=index == 0,
                host_instances=host_instances,
                guest_uuids=guests,
            )
        except Exception:
            LOG.exception("resource audit of node %s of %s failed", nodename, host.host)
    if nodes:
        _delete_unreported_nodes(host, context, set(nodes))
    else:
        LOG.warning("the virt driver of %s reports no nodes; its compute nodes are kept", host.host)
    first = _count_audit(host)
    changed = any(r.created or r.saved for r in results.values())
    LOG.log(
        logging.INFO if first or changed else logging.DEBUG,
        "resource audit of %s completed%s: %s",
        host.host,
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


def _delete_unreported_nodes(host: ComputeHost, context: Any, reported: set[str]) -> None:
    nodes = frozenset(reported)
    with _audits_lock:
        if _confirmed_nodes.get(host) == nodes:
            return
    try:
        known = objects.ComputeNodeList.get_all_by_host(context, host.host)
    except exception.ComputeHostNotFound:
        known = []
    for node in known:
        if node.hypervisor_hostname in reported:
            continue
        LOG.info(
            "deleting compute node %s of %s (id %s): the virt driver no longer reports it",
            node.hypervisor_hostname,
            host.host,
            node.id,
        )
        host.delete_compute_node(context, node)  # raises if it fails: listed again next time
    with _audits_lock:
        _confirmed_nodes[host] = nodes


def _count_audit(host: ComputeHost) -> bool:
    """Count a completed audit of *host*; return whether it was its first."""
    with _audits_lock:
        done = _audits.get(host, 0)
        _audits[host] = done + 1
    return done == 0
