"""Locking an instance against changes by its users (Nova's ``os-lock-server``).

A locked instance refuses the operations that change it -- delete, start, stop, reboot,
rebuild, live migration and its abort, changes of its metadata, and whatever operation
a module adds that changes an instance (pause, suspend, rescue, shelve, ...) -- with
InstanceIsLocked (HTTP 409) unless the caller is an administrator: each such operation
calls :func:`check_unlocked` before it claims the instance. Reading it, and locking or
unlocking it, are never refused for the lock.

``locked_by`` says who locked it: ``owner`` when the caller belonged to the instance's
project, ``admin`` otherwise (an administrator of another project). A caller of the
other party may unlock it only with ``os_compute_api:os-lock-server:unlock:unlock_override``
(the REST layer asks :func:`is_expected_locked_by`). The optional reason (2.73) is kept
in ``system_metadata["locked_reason"]``, as Nova keeps it, and dropped on unlock.

Lock and unlock are recorded as the instance actions ``lock`` / ``unlock`` (started and
finished at once); nothing is sent to the compute host.
"""

from __future__ import annotations

import logging
from typing import Any

from nubis.core import exception, objects
from nubis.core.compute.states import InstanceActionName

LOG = logging.getLogger(__name__)

#: The ``system_metadata`` key of the reason a lock was taken with.
LOCKED_REASON = "locked_reason"

OWNER = "owner"
ADMIN = "admin"


def check_unlocked(context: Any, instance: Any) -> None:
    """Raise InstanceIsLocked (409) when *instance* is locked and the caller of
    *context* is not an administrator. Call it before an operation that changes the
    instance claims it."""
    if instance.locked and not context.is_admin:
        raise exception.InstanceIsLocked(instance_uuid=instance.uuid)


def _locker(context: Any, instance: Any) -> str:
    return OWNER if context.project_id == instance.project_id else ADMIN


def is_expected_locked_by(context: Any, instance: Any) -> bool:
    """Whether the caller of *context* is of the party that locked *instance* (true
    when it is not locked, or was locked without a ``locked_by``)."""
    return not instance.locked_by or instance.locked_by == _locker(context, instance)


def locked_reason(instance: Any) -> str | None:
    """The reason *instance* was locked with, or None."""
    return (instance.system_metadata or {}).get(LOCKED_REASON)


def lock(context: Any, instance: Any, reason: str | None = None) -> None:
    """Lock *instance*, with *reason* when given.

    An instance its owner locked already is left as it is (reason included); one locked
    already and locked again by an administrator of another project becomes theirs
    (``locked_by`` ``admin``; the reason replaced when one is given).
    """
    locker = _locker(context, instance)
    if instance.locked and locker == OWNER:
        return
    objects.InstanceAction.action_start(context, instance.uuid, InstanceActionName.LOCK)
    instance.locked = True
    instance.locked_by = locker
    if reason:
        instance.system_metadata = {**(instance.system_metadata or {}), LOCKED_REASON: reason}
    instance.save()
    objects.InstanceAction.action_finish(context, instance.uuid)
    LOG.info("instance %s locked by its %s", instance.uuid, locker)


def unlock(context: Any, instance: Any) -> None:
    """Unlock *instance* and drop its lock reason (whoever locked it: the policy of
    who may is the caller's business)."""
    objects.InstanceAction.action_start(context, instance.uuid, InstanceActionName.UNLOCK)
    instance.locked = False
    instance.locked_by = None
    metadata = dict(instance.system_metadata or {})
    if metadata.pop(LOCKED_REASON, None) is not None:
        instance.system_metadata = metadata
    instance.save()
    objects.InstanceAction.action_finish(context, instance.uuid)
    LOG.info("instance %s unlocked", instance.uuid)
