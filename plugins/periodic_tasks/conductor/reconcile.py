"""``reconcile_builds``: no accepted request stays in a task state for ever.

The API records a user-visible operation in the database before it casts it: a create
is the Instance row (``building``, task ``scheduling``) with its ``create`` action --
nubis' build request -- and start, stop, reboot and delete are the task state claimed
with a compare-and-swap plus their action. A cast can still be lost (a broker restart
with non-durable queues, a conductor killed between taking and acting on a message) or
its work can stall. Every ``[conductor] reconcile_interval`` seconds one conductor
worker at a time per run (any may; every step is a compare-and-swap, so two workers
reconciling at once do no harm) looks at what made no progress:

* a build in ``scheduling`` with no ``create`` action, older than ``[conductor]
  build_request_timeout``, was never acknowledged (the API failed half-way through
  recording it, and could not delete it): it is deleted, never built;
* a build in ``scheduling`` whose record has not changed for ``[conductor]
  build_request_timeout`` seconds is sent to the conductors again -- its host cleared
  and a resend counted in its system metadata (``nubis_build_resends``) with one
  compare-and-swap from ``scheduling``, so a compute host that took it meanwhile wins
  -- once; the next time it is ended in ERROR with an ``InstanceBuildTimeout`` fault
  naming the cause (no conductor or compute host took the request);
* a build older than ``[compute] instance_build_timeout`` (measured from its creation,
  as Nova does) is ended in ERROR with a fault, whatever its task and host (the host's
  own ``build_timeout`` task does the same for its builds; whichever comes first wins
  the compare-and-swap);
* another task (powering on/off, rebooting, deleting, pausing, unpausing, suspending,
  resuming, soft-deleting, restoring) unchanged for ``[conductor] task_timeout``
  seconds is cleared with a fault saying the request was not carried out (the instance
  keeps its vm_state; the user may ask again). A rebuild
  (``rebuilding``, ``rebuild_spawning``) unchanged as long ends in ERROR with an
  ``InstanceRebuildFailure`` fault instead: its old guest may be gone already (Nova
  ends an interrupted rebuild the same way); rebuilding again starts afresh. So does a
  rescue or an unrescue (``rescuing``, ``unrescuing``; ``InstanceRescueFailure`` /
  ``InstanceUnRescueFailure``): the guest may be half-way between its definitions. A
  snapshot (createImage, createBackup) or a shelve/unshelve cleared so also has its
  unfinished image (``queued`` or ``saving``, the instance's ``instance_uuid``
  property) deleted, as a failed snapshot's is. Live migrations have their own
  bookkeeping and are left alone.

Resending is idempotent: the conductor schedules only instances still in
``scheduling`` with no host, and a compute host takes an instance only from
``scheduling`` (its compare-and-swap to ``spawning``), so a request delivered twice is
built once.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

from oslo_utils import timeutils

from nubis.core import exception, objects
from nubis.core.compute.states import (
    DEFERRED_DELETE_TASK_STATES,
    POWER_TASK_STATES,
    REBUILD_TASK_STATES,
    RESCUE_TASK_STATES,
    SHELVE_TASK_STATES,
    SNAPSHOT_TASK_STATES,
    InstanceActionName,
    TaskState,
    VMState,
)
from nubis.core.conductor.rpcapi import ComputeTaskAPI
from nubis.core.context import RequestContext
from nubis.core.objects.request_spec import RequestSpec
from nubis.core.periodic import periodic_task

LOG = logging.getLogger(__name__)

#: How often the runner calls the task; it acts every [conductor] reconcile_interval.
RECONCILE_SPACING = 1
#: System metadata key counting the resends of a build request.
RESENDS_KEY = "nubis_build_resends"
#: Task states the reconciler clears after [conductor] task_timeout.
OTHER_TASKS = (
    TaskState.POWERING_ON,
    TaskState.POWERING_OFF,
    TaskState.REBOOTING,
    TaskState.REBOOTING_HARD,
    TaskState.DELETING,
    *REBUILD_TASK_STATES,
    *POWER_TASK_STATES,
    *RESCUE_TASK_STATES,
    *DEFERRED_DELETE_TASK_STATES,
    *SNAPSHOT_TASK_STATES,
    *SHELVE_TASK_STATES,
)

_last_run: dict[int, float] = {}


def age_seconds(when: datetime.datetime | None, now: datetime.datetime) -> float:
    """Seconds from *when* (naive values are UTC) to *now*; 0 when unknown."""
    if when is None:
        return 0.0
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    if now.tzinfo is not None:
        now = now.astimezone(datetime.UTC).replace(tzinfo=None)
    return (now - when).total_seconds()


@periodic_task(spacing=RECONCILE_SPACING)
def reconcile_builds(manager: Any, context: Any) -> dict[str, list[str]] | None:
    """Resend or end what made no progress (see the module docstring)."""
    service = getattr(manager, "service_name", "")
    if service != "conductor":
        # Any conductor manager plugin serves the conductor's topic; other services'
        # managers have no business ending other hosts' builds.
        raise exception.ConfigurationError(
            option=f"[{service or '?'}] periodic_tasks",
            reason=f"reconcile_builds runs only on a conductor manager; "
            f"{type(manager).__name__} serves {service or 'no service'!r}",
        )
    conf = manager.conf
    now_mono = time.monotonic()
    last = _last_run.get(id(manager))
    if last is not None and now_mono - last < float(conf.conductor.reconcile_interval):
        return None
    _last_run[id(manager)] = now_mono
    return Reconciler(conf, str(getattr(manager, "host", "conductor"))).run(context)


class Reconciler:
    """One pass of the reconciler for the conductor on *host*."""

    def __init__(self, conf: Any, host: str) -> None:
        self.conf = conf
        self.host = host
        self.done: dict[str, list[str]] = {
            "resent": [],
            "ended": [],
            "cleared": [],
            "unacknowledged": [],
        }

    def run(self, context: Any) -> dict[str, list[str]]:
        now = timeutils.utcnow()
        request_timeout = int(self.conf.conductor.build_request_timeout)
        build_timeout = int(self.conf.compute.instance_build_timeout)
        task_timeout = int(self.conf.conductor.task_timeout)
        for instance in objects.InstanceList.get_all(
            context, filters={"vm_state": VMState.BUILDING}
        ):
            age = age_seconds(instance.created_at, now)
            idle = age_seconds(instance.updated_at or instance.created_at, now)
            if build_timeout > 0 and age > build_timeout:
                self._end(
                    context,
                    instance,
                    f"still building (task {instance.task_state}, host "
                    f"{instance.host or 'none'}) {age:.0f} s after it was created; "
                    f"[compute] instance_build_timeout = {build_timeout}",
                )
            elif (
                request_timeout > 0
                and instance.task_state == TaskState.SCHEDULING
                and idle > request_timeout
            ):
                self._resend_or_end(context, instance, idle, request_timeout)
        if task_timeout > 0:
            for instance in objects.InstanceList.get_all(
                context, filters={"task_state": list(OTHER_TASKS)}
            ):
                idle = age_seconds(instance.updated_at or instance.created_at, now)
                if idle > task_timeout and instance.vm_state != VMState.BUILDING:
                    self._clear(context, instance, idle, task_timeout)
        if any(self.done.values()):
            LOG.info(
                "reconciled: %s",
                "; ".join(f"{k} {', '.join(v)}" for k, v in self.done.items() if v),
            )
        return self.done

    # --- builds ------------------------------------------------------------------------

    def _resend_or_end(self, context: Any, instance: Any, idle: float, timeout: int) -> None:
        if _create_action(context, instance.uuid) is None:
            self._delete_unacknowledged(context, instance)
            return
        resends = int((instance.system_metadata or {}).get(RESENDS_KEY) or 0)
        if resends >= 1:
            self._end(
                context,
                instance,
                f"no conductor or compute host took the build request within {idle:.0f} s "
                f"after it was sent again ([conductor] build_request_timeout = {timeout}); "
                "the message bus or the services were away for too long",
            )
            return
        previous_host = instance.host
        metadata = dict(instance.system_metadata or {})
        metadata[RESENDS_KEY] = str(resends + 1)
        instance.system_metadata = metadata
        instance.host = None
        instance.node = None
        try:
            instance.save(
                expected_task_state=[TaskState.SCHEDULING], expected_vm_state=[VMState.BUILDING]
            )
        except (
            exception.InstanceNotFound,
            exception.UnexpectedTaskStateError,
            exception.UnexpectedVMStateError,
        ):
            return  # it moved on meanwhile
        LOG.warning(
            "build request of instance %s made no progress for %.0f s (host %s); sending it again",
            instance.uuid,
            idle,
            previous_host or "none",
        )
        spec = RequestSpec.from_instance(instance, num_instances=1)
        spec.instance_uuid = None
        try:  # placed by its server group's policy again
            spec.instance_group = objects.InstanceGroup.get_by_instance_uuid(context, instance.uuid)
        except exception.InstanceGroupNotFound:
            pass
        ComputeTaskAPI(conf=self.conf).build_instances(
            _context_of_create(context, instance.uuid), [instance], spec
        )
        self.done["resent"].append(instance.uuid)

    def _delete_unacknowledged(self, context: Any, instance: Any) -> None:
        """An instance the API recorded only in part, then failed the request: the
        client never got it, so it is deleted (its record kept, soft-deleted)."""
        try:
            instance.destroy()
        except exception.InstanceNotFound:
            return
        LOG.warning(
            "instance %s was recorded by a create request that failed (no create action); deleted",
            instance.uuid,
        )
        self.done["unacknowledged"].append(instance.uuid)

    def _end(self, context: Any, instance: Any, reason: str) -> None:
        previous = instance.task_state
        if previous == TaskState.DELETING:
            return
        instance.vm_state = VMState.ERROR
        instance.task_state = None
        try:
            instance.save(expected_task_state=[previous], expected_vm_state=[VMState.BUILDING])
        except (
            exception.InstanceNotFound,
            exception.UnexpectedTaskStateError,
            exception.UnexpectedVMStateError,
        ):
            return
        fault = exception.InstanceBuildTimeout(instance_uuid=instance.uuid, reason=reason)
        objects.InstanceFault.from_exception(context, instance.uuid, fault, self.host).create()
        _finish_action(context, instance.uuid)
        LOG.warning("instance %s ended in error: %s", instance.uuid, reason)
        self.done["ended"].append(instance.uuid)

    # --- other tasks -------------------------------------------------------------------

    def _clear(self, context: Any, instance: Any, idle: float, timeout: int) -> None:
        previous = instance.task_state
        rebuild = previous in REBUILD_TASK_STATES
        rescue = previous in RESCUE_TASK_STATES
        instance.task_state = None
        if rebuild or rescue:
            instance.vm_state = VMState.ERROR
        try:
            instance.save(expected_task_state=[previous])
        except (exception.InstanceNotFound, exception.UnexpectedTaskStateError):
            return
        fault: exception.NubisException
        if rebuild:
            fault = exception.InstanceRebuildFailure(
                instance_uuid=instance.uuid,
                reason=f"task {previous} made no progress for {idle:.0f} s "
                f"([conductor] task_timeout = {timeout}); the old guest may be gone, "
                "rebuild the server again",
            )
        elif rescue:
            failure = (
                exception.InstanceRescueFailure
                if previous == TaskState.RESCUING
                else exception.InstanceUnRescueFailure
            )
            fault = failure(
                instance_uuid=instance.uuid,
                reason=f"task {previous} made no progress for {idle:.0f} s "
                f"([conductor] task_timeout = {timeout}); the guest may be half-way, rescue "
                "the server again, then unrescue it",
            )
        else:
            fault = exception.InstanceBuildTimeout(
                instance_uuid=instance.uuid,
                reason=f"task {previous} made no progress for {idle:.0f} s "
                f"([conductor] task_timeout = {timeout}); the request was not carried out, "
                "ask again",
            )
        objects.InstanceFault.from_exception(context, instance.uuid, fault, self.host).create()
        _finish_action(context, instance.uuid)
        if previous in SNAPSHOT_TASK_STATES or previous in SHELVE_TASK_STATES:
            _discard_unfinished_images(context, instance.uuid)
        LOG.warning("instance %s: task %s cleared after %.0f s", instance.uuid, previous, idle)
        self.done["cleared"].append(instance.uuid)


def _create_action(context: Any, instance_uuid: str) -> Any:
    """The instance's create action, or None."""
    for action in objects.InstanceActionList.get_by_instance_uuid(context, instance_uuid):
        if action.action == InstanceActionName.CREATE:
            return action
    return None


def _context_of_create(context: Any, instance_uuid: str) -> Any:
    """A context carrying the create action's request id, user and project, so that the
    events of the resent build land on the instance's create action."""
    try:
        action = _create_action(context, instance_uuid)
    except exception.NubisException:
        return context
    if action is None:
        return context
    return RequestContext(
        user_id=action.user_id,
        project_id=action.project_id,
        request_id=action.request_id,
        is_admin=True,
        overwrite=False,
    )


def _finish_action(context: Any, instance_uuid: str) -> None:
    try:
        objects.InstanceAction.action_finish(context, instance_uuid)
    except exception.InstanceActionNotFound:
        pass


def _discard_unfinished_images(context: Any, instance_uuid: str) -> None:
    """Delete the records of the instance's images no snapshot will finish (queued or
    saving); their file, if a host wrote one, stays for the image store's owner."""
    for image in objects.ImageList.get_all(
        context,
        filters={"status": ["queued", "saving"], "properties": {"instance_uuid": instance_uuid}},
    ):
        try:
            image.destroy()
        except exception.ImageNotFound:
            continue
        LOG.warning(
            "image %s of instance %s will never be written; deleted", image.uuid, instance_uuid
        )
