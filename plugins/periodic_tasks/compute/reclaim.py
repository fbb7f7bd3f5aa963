"""``reclaim_queued_deletes``: soft-deleted instances of this host are deleted for good
once they have waited ``[DEFAULT] reclaim_instance_interval`` seconds (Nova's
``_reclaim_queued_deletes``).

With the interval 0 or less -- the default: deletes are immediate, nothing is ever
soft-deleted -- the task does nothing. Otherwise every run reads this host's instances
in vm_state ``soft-delete`` with no task and, for each whose ``deleted_at`` (set by the
soft delete) is more than the interval ago, under the instance's lock if it is free
(a busy one waits for the next run):

* claims it in task ``deleting`` with a compare-and-swap from (``soft-delete``, no
  task), so that a restore or a delete that took it first wins;
* destroys its guest with its disks; when that fails, gives the task back (the next
  run tries again) and logs the failure, as Nova logs it;
* records it deleted, stops counting its resources and deletes the instance.

A failure with one instance does not stop the others. Written on
:class:`nubis.core.compute.host.ComputeHost` and the core objects only.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.compute.host import ComputeHost, compute_host_of
from nubis.core.compute.states import TaskState, VMState
from nubis.core.periodic import periodic_task
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.compute.waiting import waited_more_than

LOG = logging.getLogger(__name__)

RECLAIM_SPACING = 60

_REFUSED = (
    exception.InstanceNotFound,
    exception.UnexpectedTaskStateError,
    exception.UnexpectedVMStateError,
)


@periodic_task(spacing=RECLAIM_SPACING)
def reclaim_queued_deletes(manager: Any, context: Any) -> list[str]:
    """Delete this host's instances soft-deleted more than ``[DEFAULT]
    reclaim_instance_interval`` seconds ago; return their uuids."""
    host = compute_host_of(manager, "reclaim_queued_deletes")
    interval = int(host.conf.reclaim_instance_interval)
    if interval <= 0:
        return []
    return reclaim(host, context, interval)


def reclaim(host: ComputeHost, context: Any, interval: float) -> list[str]:
    """Delete the instances of *host* soft-deleted more than *interval* seconds ago
    (see the module docstring); return the uuids of those deleted."""
    now = timeutils.utcnow()
    queued = objects.InstanceList.get_all(
        context,
        filters={"host": host.host, "vm_state": VMState.SOFT_DELETED, "task_state": None},
    )
    reclaimed = []
    for instance in queued:
        if not waited_more_than(instance.deleted_at, interval, now):
            continue
        try:
            with host.instance_lock(instance.uuid, "reclaiming soft-deleted instances", 0):
                if _delete(host, context, instance):
                    reclaimed.append(instance.uuid)
        except exception.LockTimeout:
            continue
        except Exception as exc:
            LOG.warning(
                "reclaiming soft-deleted instance %s failed: %s",
                instance.uuid,
                exception.one_line(exc),
            )
    return reclaimed


def _delete(host: ComputeHost, context: Any, instance: Any) -> bool:
    """Delete one soft-deleted *instance* for good; False when something else took it."""
    instance.task_state = TaskState.DELETING
    try:
        instance.save(expected_task_state=[None], expected_vm_state=[VMState.SOFT_DELETED])
    except _REFUSED:
        return False
    try:
        host.driver.destroy(context, instance, destroy_disks=True)
    except Exception:
        instance.task_state = None
        try:
            instance.save(expected_task_state=[TaskState.DELETING])
        except _REFUSED:
            pass
        raise
    instance.vm_state = VMState.DELETED
    instance.task_state = None
    instance.power_state = power_state.NOSTATE
    instance.terminated_at = timeutils.utcnow()
    instance.save(expected_task_state=[TaskState.DELETING])
    host.forget_instance(context, instance.uuid)
    instance.destroy()
    LOG.info("instance %s reclaimed on %s (soft-deleted)", instance.uuid, host.host)
    return True
