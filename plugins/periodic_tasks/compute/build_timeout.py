"""``build_timeout``: builds on this host that never finished end in ERROR with a fault.

Nova's ``[compute] instance_build_timeout``: an instance of this host still ``building``
more than that many seconds after it was created -- a spawn that hangs, a build whose
message or records were lost -- is set to ``error`` with no task, by a compare-and-swap
on the task it was found in (so a build that finishes meanwhile wins), and gets an
InstanceFault ``InstanceBuildTimeout`` naming the task it was stuck in and for how long.
0 disables the task. Written on :class:`nubis.core.compute.host.ComputeHost` and the
core objects only.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.compute.host import compute_host_of
from nubis.core.compute.states import TaskState, VMState
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)

BUILD_TIMEOUT_SPACING = 60


def age_seconds(when: datetime.datetime | None, now: datetime.datetime | None = None) -> float:
    """Seconds since *when* (naive values are UTC); 0 when unknown."""
    if when is None:
        return 0.0
    now = now or timeutils.utcnow()
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    if now.tzinfo is not None:
        now = now.astimezone(datetime.UTC).replace(tzinfo=None)
    return (now - when).total_seconds()


def end_build(context: Any, instance: Any, host: str | None, reason: str) -> bool:
    """Set a building *instance* to ERROR (compare-and-swap on its task) and record an
    InstanceBuildTimeout fault with *reason*; return whether it was ended here."""
    previous = instance.task_state
    if previous == TaskState.DELETING:
        return False
    instance.vm_state = VMState.ERROR
    instance.task_state = None
    try:
        instance.save(expected_task_state=[previous], expected_vm_state=[VMState.BUILDING])
    except (
        exception.InstanceNotFound,
        exception.UnexpectedTaskStateError,
        exception.UnexpectedVMStateError,
    ):
        return False
    fault = exception.InstanceBuildTimeout(instance_uuid=instance.uuid, reason=reason)
    objects.InstanceFault.from_exception(context, instance.uuid, fault, host).create()
    try:
        objects.InstanceAction.action_finish(context, instance.uuid)
    except exception.InstanceActionNotFound:
        pass
    LOG.warning("instance %s ended in error: %s", instance.uuid, reason)
    return True


@periodic_task(spacing=BUILD_TIMEOUT_SPACING)
def build_timeout(manager: Any, context: Any) -> list[str]:
    """End the builds of this host older than ``[compute] instance_build_timeout``."""
    host = compute_host_of(manager, "build_timeout")
    timeout = int(host.conf.compute.instance_build_timeout)
    if timeout <= 0:
        return []
    ended = []
    now = timeutils.utcnow()
    # Only this host's building instances: a host's whole instance list every minute
    # would cost the conductors a read per host that finds nothing almost always.
    building = objects.InstanceList.get_all(
        context, filters={"host": host.host, "vm_state": VMState.BUILDING}
    )
    for instance in building:
        age = age_seconds(instance.created_at, now)
        if age <= timeout:
            continue
        reason = (
            f"still building (task {instance.task_state}) on {host.host} {age:.0f} s after "
            f"it was created; [compute] instance_build_timeout = {timeout}"
        )
        if end_build(context, instance, host.host, reason):
            ended.append(instance.uuid)
    return ended
