"""``reap_orphans``: guests running here that the database deleted or never knew.

An orphan is a guest the driver runs that is no instance of this host, is not moving to
or from it (:meth:`ComputeHost.in_flight_instances
<nubis.core.compute.host.ComputeHost.in_flight_instances>`, and the in-progress
migrations of its nodes), and whose instance the database deleted or never knew. A
guest whose (live) instance the database places on another host is not judged here.
``[compute] orphan_action`` says what happens to orphans: ``noop``, ``log`` (a warning
each) or ``reap`` (destroyed with their disks, under their instance's lock if it is free,
and no longer counted by the resource tracking).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.host import ComputeHost, compute_host_of
from nubis.core.context import get_admin_context
from nubis.core.periodic import periodic_task
from nubis.core.virt import power_state

LOG = logging.getLogger(__name__)

REAP_ORPHANS_SPACING = 1800

ORPHAN_ACTIONS = ("noop", "log", "reap")


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


@periodic_task(spacing=REAP_ORPHANS_SPACING)
def reap_orphans(manager: Any, context: Any) -> list[tuple[str, str]]:
    """Log or destroy guests the database deleted or never knew ([compute] orphan_action)."""
    host = compute_host_of(manager, "reap_orphans")
    return reap(host, context, host.conf.compute.orphan_action)


def reap(host: ComputeHost, context: Any, action: str) -> list[tuple[str, str]]:
    """Find the orphan guests of *host*; log or destroy them as *action* says.

    Returns (uuid, why) of each orphan found. Raises ConfigurationError for an *action*
    not in :data:`ORPHAN_ACTIONS`.
    """
    if action not in ORPHAN_ACTIONS:
        raise exception.ConfigurationError(
            option="[compute] orphan_action",
            reason=f"{action!r} is not one of {', '.join(ORPHAN_ACTIONS)}",
        )
    if action == "noop":
        return []
    driver = host.driver
    if not driver.is_hypervisor_available():
        return []
    guests = list(driver.list_instance_uuids())
    names = dict(zip(guests, driver.list_instances(), strict=False))
    known = {i.uuid for i in objects.InstanceList.get_by_host(context, host.host)}
    candidates = set(guests) - known - host.in_flight_instances()
    if candidates:
        for nodename in driver.get_available_nodes():
            for migration in objects.MigrationList.get_in_progress_by_host_and_node(
                context, host.host, nodename
            ):
                candidates.discard(migration.instance_uuid)
    if not candidates:
        return []
    deleted_too = get_admin_context(read_deleted="yes")
    rows = {
        row.uuid: row
        for row in objects.InstanceList.get_all(deleted_too, filters={"uuid": sorted(candidates)})
    }
    found = []
    for uuid in sorted(candidates):
        row = rows.get(uuid)
        if row is not None and not row.deleted:
            LOG.debug("guest %s runs here but its instance is on %s; not judged", uuid, row.host)
            continue
        why = "deleted in the database" if row is not None else "unknown to the database"
        found.append((uuid, why))
        name = names.get(uuid, uuid)
        if action == "log":
            LOG.warning(
                "orphan guest %s (%s) runs on %s: %s; [compute] orphan_action = log",
                uuid,
                name,
                host.host,
                why,
            )
            continue
        LOG.warning("reaping orphan guest %s (%s) on %s: %s", uuid, name, host.host, why)
        target = row if row is not None else GuestRef(uuid=uuid, name=name, host=host.host)
        try:
            with host.instance_lock(uuid, "orphan reaping", timeout=0):
                driver.destroy(context, target, destroy_disks=True)
        except exception.LockTimeout:
            continue
        except Exception:
            LOG.exception("reaping orphan guest %s failed", uuid)
            continue
        host.forget_instance(context, uuid)
    return found
