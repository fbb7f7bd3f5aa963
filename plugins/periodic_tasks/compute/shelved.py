"""``offload_shelved_instances``: shelved instances of this host are offloaded once they
have been shelved ``[DEFAULT] shelved_offload_time`` seconds (Nova's
``_poll_shelved_instances``).

With the time 0 the shelve itself offloads (nothing is left for this task) and with -1
nothing is offloaded by itself: the task does nothing. Otherwise every run reads this
host's instances in vm_state ``shelved`` with no task and offloads, through the compute
service (:meth:`~nubis.core.compute.host.ComputeHost.offload_shelved_instance`), each
whose ``system_metadata["shelved_at"]`` (set by the shelve) is more than the time ago
-- or unknown, as Nova decides. A busy instance waits for the next run; a failure with
one does not stop the others. Written on the ComputeHost contract and the core objects
only.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.compute.host import ComputeHost, compute_host_of
from nubis.core.compute.states import VMState
from nubis.core.periodic import periodic_task
from nubis.plugins.periodic_tasks.compute.waiting import waited_more_than

LOG = logging.getLogger(__name__)

SHELVED_POLL_SPACING = 60
SHELVED_AT = "shelved_at"


def shelved_long_enough(shelved_at: str | None, wait: float, now: datetime.datetime) -> bool:
    """Whether an instance shelved at *shelved_at* (an ISO 8601 time, UTC when it names
    no zone; None or unreadable: unknown, so yes) has waited more than *wait* seconds by
    *now* (naive: UTC)."""
    if not shelved_at:
        return True
    try:
        when = datetime.datetime.fromisoformat(shelved_at)
    except ValueError:
        return True
    return waited_more_than(when, wait, now)


@periodic_task(spacing=SHELVED_POLL_SPACING)
def offload_shelved_instances(manager: Any, context: Any) -> list[str]:
    """Offload this host's instances shelved more than ``[DEFAULT]
    shelved_offload_time`` seconds ago; return their uuids."""
    host = compute_host_of(manager, "offload_shelved_instances")
    wait = int(host.conf.shelved_offload_time)
    if wait <= 0:
        return []
    return offload(host, context, wait)


def offload(host: ComputeHost, context: Any, wait: float) -> list[str]:
    """Offload the instances of *host* shelved more than *wait* seconds ago (see the
    module docstring); return the uuids of those the service was asked to offload."""
    now = timeutils.utcnow()
    shelved = objects.InstanceList.get_all(
        context, filters={"host": host.host, "vm_state": VMState.SHELVED, "task_state": None}
    )
    offloaded = []
    for instance in shelved:
        if not shelved_long_enough((instance.system_metadata or {}).get(SHELVED_AT), wait, now):
            continue
        try:
            host.offload_shelved_instance(context, instance)
        except exception.LockTimeout:
            continue
        except Exception as exc:
            LOG.warning(
                "offloading shelved instance %s failed: %s", instance.uuid, exception.one_line(exc)
            )
            continue
        offloaded.append(instance.uuid)
    return offloaded
