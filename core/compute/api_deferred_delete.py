"""The compute API's deferred delete: soft delete and restore (:class:`~.api.API` hands
them over).

With ``[DEFAULT] reclaim_instance_interval`` > 0 (Nova's option; 0, the default, keeps
every delete immediate) the REST API's ``DELETE /servers/{id}`` soft-deletes, as Nova's
does. :func:`soft_delete` claims the instance in task ``soft-deleting`` (recording the
``delete`` action, as Nova does), sets ``deleted_at`` with the same compare-and-swap and
casts to its host, which powers the guest off and marks the instance ``soft-delete``
(status SOFT_DELETED). The guest, its disks and its host's resources stay; the
instance stays visible to ``GET /servers/{id}`` (the list leaves it out unless an
administrator asks for ``deleted``, as Nova's does). The host's
``reclaim_queued_deletes`` periodic task deletes it once ``deleted_at`` is more than
the interval ago; ``forceDelete`` deletes it at once (an ordinary delete, allowed in
any state as Nova allows it); :func:`restore` brings it back.

Where Nova deletes at once instead, so does :func:`soft_delete`: an instance never
launched, one with no host or whose host's compute service is down (deleted here),
one being deleted already, and one whose host predates soft deletes (RPC 1.6).

A soft-deleted instance counts in no quota (Nova counts its instances, cores and RAM
out): :func:`restore` checks the instance quota for it again (TooManyInstances, 403),
then claims it in task ``restoring`` (action ``restore``), clears ``deleted_at`` and
casts to its host, which powers the guest on and makes it ``active``. Restore is
refused with InstanceIsLocked (409) on a locked instance unless the caller is an
administrator, InstanceInvalidState (409) unless it is soft-deleted with no task,
ServiceTooOld (409) for a host that predates it and ServiceUnavailable (503) when its
compute service is down or the bus does not take the cast (nothing is changed then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.compute import instance_lock
from nubis.core.compute.api_actions import _require, _require_host_up
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    DELETABLE_TASK_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)

if TYPE_CHECKING:
    from nubis.core.compute.api import API

LOG = logging.getLogger("nubis.core.compute.api")

#: The task states a soft delete may interrupt: a delete's, but not a delete itself.
SOFT_DELETABLE_TASK_STATES = tuple(s for s in DELETABLE_TASK_STATES if s != TaskState.DELETING)


def _immediate_delete_reason(api: API, context: Any, instance: Any) -> str | None:
    """Why *instance* is deleted at once rather than soft-deleted (None: it is not)."""
    if not instance.launched_at:
        return "it was never launched"
    if instance.task_state == TaskState.DELETING:
        return "a delete is in progress"
    if not instance.host or not api._host_is_up(context, instance.host):
        return "its compute host is down" if instance.host else "it has no compute host"
    if not api.compute_rpcapi.can_send_version(ComputeAPI.DEFERRED_DELETE_VERSION):
        return "its compute host's RPC API predates soft deletes (compute 1.6)"
    return None


def _send_or_put_back(
    api: API,
    context: Any,
    instance: Any,
    claimed: str,
    previous: str | None,
    deleted_at: Any,
    cast: Callable[[], Any],
) -> None:
    """Send *cast*; when the bus does not take it, release the claim (task *claimed*
    -> *previous*) and put ``deleted_at`` back as it was: nothing of the request stays."""
    try:
        api._cast_or_release(context, instance, claimed, previous, cast)
    except exception.ServiceUnavailable:
        instance.deleted_at = deleted_at
        try:
            instance.save(expected_task_state=[previous])
        except Exception as exc:
            LOG.warning(
                "could not put deleted_at of instance %s back after a failed %s request: %s",
                instance.uuid,
                claimed,
                exception.one_line(exc),
            )
        raise


def soft_delete(api: API, context: Any, instance: Any) -> None:
    """Soft-delete *instance*, or delete it at once where Nova would; see the module
    docstring. Raises what :meth:`.api.API.delete` raises."""
    instance_lock.check_unlocked(context, instance)
    reason = _immediate_delete_reason(api, context, instance)
    if reason is not None:
        LOG.info("instance %s is deleted at once, not soft-deleted: %s", instance.uuid, reason)
        api.delete(context, instance)
        return
    previous, deleted_at = instance.task_state, instance.deleted_at
    instance.deleted_at = timeutils.utcnow()
    api._claim(
        context,
        instance,
        "delete",
        InstanceActionName.DELETE,
        TaskState.SOFT_DELETING,
        task_states=SOFT_DELETABLE_TASK_STATES,
    )
    _send_or_put_back(
        api,
        context,
        instance,
        TaskState.SOFT_DELETING,
        previous,
        deleted_at,
        lambda: api.compute_rpcapi.soft_delete_instance(context, instance),
    )


def _flavor_of(instance: Any) -> Any:
    """What the quota check counts of *instance*: its own vCPUs and RAM (its flavor
    may have been deleted or changed since)."""
    return objects.Flavor(vcpus=int(instance.vcpus or 0), memory_mb=int(instance.memory_mb or 0))


def restore(api: API, context: Any, instance: Any) -> None:
    """Restore a soft-deleted *instance*; see the module docstring."""
    instance_lock.check_unlocked(context, instance)
    api._check_state(instance, "restore", (VMState.SOFT_DELETED,), (None,))
    _require(api.compute_rpcapi, ComputeAPI.DEFERRED_DELETE_VERSION, "restore")
    _require_host_up(api, context, instance)
    if instance.project_id is not None:
        objects.Quotas.instances_allowed(
            context, instance.project_id, instance.user_id, _flavor_of(instance), 1, 1
        )
    deleted_at = instance.deleted_at
    instance.deleted_at = None
    api._claim(
        context,
        instance,
        "restore",
        InstanceActionName.RESTORE,
        TaskState.RESTORING,
        vm_states=(VMState.SOFT_DELETED,),
    )
    _send_or_put_back(
        api,
        context,
        instance,
        TaskState.RESTORING,
        None,
        deleted_at,
        lambda: api.compute_rpcapi.restore_instance(context, instance),
    )
