"""The conductor's ``compute_task`` endpoint: builds, rebuilds and live migrations.

It serves :class:`nubis.core.conductor.rpcapi.ComputeTaskAPI` (docs/architecture.md, flows 2 and 3).

Build (``build_instances``, a cast)
    Asks the scheduler for one destination per instance, records the choice on each
    instance (``host``, ``node``, ``scheduled_at``; a compare-and-swap from
    ``scheduling``, so an instance deleted or changed meanwhile is skipped) and casts
    the build to that host with a one-instance RequestSpec. A compute host whose build
    fails sends the instance back with its host added to ``ignore_hosts``; each pass
    here counts one attempt, and past ``[scheduler] max_attempts`` -- or when the
    scheduler finds no host -- the instance goes to ERROR with a fault and its create
    action ends.

Rebuild (``rebuild_instance``, a cast; 1.1)
    The instance stays on its host (nubis's scheduler has no image-dependent filter
    that a new image could fail, so unlike Nova's there is no scheduling pass): the
    rebuild is cast to the instance's host if the instance is still in task
    ``rebuilding`` (a redelivered or resent request is dropped otherwise). When it
    cannot be sent (no host, a compute RPC too old) the task is ended with a fault,
    the instance keeps its state, and the ``rebuild`` action ends. The instance action
    event is ``rebuild_server``, as Nova's conductor names it.

Unshelve (``unshelve_instance``, a cast; 1.2)
    See :mod:`.unshelve`: a shelved instance is powered on at its host, an offloaded one
    scheduled and spawned from its shelved image on the chosen host.

Live migration (``live_migrate_instance``, a call)
    Runs :class:`~.live_migrate.LiveMigrationTask`: every check, then the cast to the
    source compute; returns the Migration. A failed check rolls back (instance active
    on its source with no task, migration ``error``) and raises to the caller.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import oslo_messaging as messaging
from oslo_utils import timeutils

from nubis.core import exception, metrics, objects
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import TaskState, VMState
from nubis.core.scheduler.rpcapi import SchedulerAPI
from nubis.core.servicegroup import api as servicegroup
from nubis.plugins.managers.conductor.live_migrate import LiveMigrationTask
from nubis.plugins.managers.conductor.unshelve import Unshelves

LOG = logging.getLogger(__name__)

EVENT_BUILD = "conductor_schedule_and_build_instances"
EVENT_LIVE_MIGRATION = "conductor_live_migrate_instance"
EVENT_REBUILD = "rebuild_server"


class ComputeTaskManager:
    """The ``compute_task`` RPC endpoint of a conductor (*manager*)."""

    target = messaging.Target(namespace="compute_task", version="1.2")

    def __init__(self, manager: Any) -> None:
        self.manager = manager
        self.conf = manager.conf
        self._servicegroup: Any = None
        self._unshelves = Unshelves(self)

    # --- clients, made on first use (the conductor may start before anything else) ---

    @functools.cached_property
    def scheduler_rpcapi(self) -> SchedulerAPI:
        return SchedulerAPI(conf=self.conf)

    @functools.cached_property
    def compute_rpcapi(self) -> ComputeAPI:
        return ComputeAPI(conf=self.conf)

    @property
    def servicegroup_api(self) -> Any:
        if self._servicegroup is None:
            service = self.manager.service
            own = getattr(service, "servicegroup_api", None)
            self._servicegroup = own if own is not None else servicegroup.API(self.conf)
        return self._servicegroup

    @property
    def host(self) -> str:
        return str(self.manager.host)

    # --- build ---------------------------------------------------------------------

    def build_instances(self, context: Any, instances: list[Any], spec: Any) -> None:
        """Schedule *instances* and cast each build to its host (see the module doc)."""
        instances = self._still_waiting(instances)
        if not instances:
            return
        spec.num_attempts = (spec.num_attempts or 0) + 1
        spec.num_instances = len(instances)
        for instance in instances:
            self._event_start(context, instance.uuid, EVENT_BUILD)
        max_attempts = int(self.conf.scheduler.max_attempts)
        if spec.num_attempts > max_attempts:
            tried = ", ".join(spec.ignore_hosts) or "none"
            failure = exception.MaxRetriesExceeded(
                reason=f"{spec.num_attempts - 1} builds failed (hosts tried: {tried}); "
                f"[scheduler] max_attempts = {max_attempts}"
            )
            for instance in instances:
                self._build_failed(context, instance, failure)
            return
        try:
            destinations = self.scheduler_rpcapi.select_destinations(
                context, spec, ignore_hosts=list(spec.ignore_hosts), num=len(instances)
            )
        except Exception as exc:
            if not isinstance(exc, exception.NubisException):
                reason = f"the scheduler failed: {exception.one_line(exc)}"
                exc = exception.NoValidHost(reason=reason)
            for instance in instances:
                self._build_failed(context, instance, exc)
            return
        for instance, destination in zip(instances, destinations, strict=True):
            self._send_build(context, instance, destination, spec)

    def _still_waiting(self, instances: list[Any]) -> list[Any]:
        """The instances of a build request that still wait to be scheduled, read afresh:
        a request delivered twice (redelivered, or resent by the reconciler while the
        first was only late) schedules nothing the first one scheduled."""
        waiting = []
        for instance in instances:
            try:
                current = objects.Instance.get_by_uuid(instance._context, instance.uuid)
            except exception.InstanceNotFound:
                LOG.info("not building instance %s: deleted", instance.uuid)
                continue
            if current.vm_state != VMState.BUILDING or current.task_state != TaskState.SCHEDULING:
                LOG.info(
                    "not building instance %s again: it is %s/%s",
                    instance.uuid,
                    current.vm_state,
                    current.task_state,
                )
                continue
            if current.host:
                LOG.info(
                    "not scheduling instance %s again: already sent to %s",
                    instance.uuid,
                    current.host,
                )
                continue
            waiting.append(current)
        return waiting

    def _send_build(
        self, context: Any, instance: Any, destination: dict[str, str], spec: Any
    ) -> None:
        instance.host = destination["host"]
        instance.node = destination["nodename"]
        instance.scheduled_at = timeutils.utcnow()
        try:
            instance.save(expected_task_state=[TaskState.SCHEDULING])
        except (exception.InstanceNotFound, exception.UnexpectedTaskStateError) as exc:
            LOG.info("not building instance %s: %s", instance.uuid, exception.one_line(exc))
            self._event_finish(context, instance.uuid, EVENT_BUILD, exc)
            return
        one = spec.obj_clone()
        one.instance_uuid = instance.uuid
        one.num_instances = 1
        self._event_finish(context, instance.uuid, EVENT_BUILD)
        LOG.info(
            "instance %s scheduled to %s (node %s), attempt %d",
            instance.uuid,
            destination["host"],
            destination["nodename"],
            spec.num_attempts,
        )
        self.compute_rpcapi.build_and_run_instance(
            context,
            instance,
            destination["host"],
            node=destination["nodename"],
            request_spec=one,
        )

    def _build_failed(self, context: Any, instance: Any, exc: BaseException) -> None:
        """ERROR *instance* with a fault; end its build event and create action."""
        LOG.warning("build of instance %s failed: %s", instance.uuid, exception.one_line(exc))
        metrics.conductor_build_failed(exc)
        try:
            objects.InstanceFault.from_exception(context, instance.uuid, exc, self.host).create()
            instance.vm_state = VMState.ERROR
            instance.task_state = None
            instance.save()
        except exception.InstanceNotFound:
            return
        try:
            objects.InstanceActionEvent.event_and_action_end(
                context, instance.uuid, EVENT_BUILD, exc
            )
        except exception.InstanceActionNotFound:
            LOG.debug("no action to record the end of %s of %s on", EVENT_BUILD, instance.uuid)

    # --- rebuild -------------------------------------------------------------------

    def rebuild_instance(
        self,
        context: Any,
        instance: Any,
        image_ref: str | None = None,
        orig_image_ref: str | None = None,
        preserve_ephemeral: bool = False,
    ) -> None:
        """Cast the rebuild of *instance* to its host (see the module doc)."""
        current = self._current_in_task(context, instance, TaskState.REBUILDING)
        if current is None:
            return
        self._event_start(context, current.uuid, EVENT_REBUILD)
        try:
            if not current.host:
                raise exception.InstanceNotReady(
                    instance_id=current.uuid, reason="it has no compute host"
                )
            self._require_compute_version(ComputeAPI.REBUILD_VERSION, "rebuild")
            self.compute_rpcapi.rebuild_instance(
                context,
                current,
                image_ref=image_ref,
                orig_image_ref=orig_image_ref,
                preserve_ephemeral=bool(preserve_ephemeral),
            )
        except Exception as exc:
            self._not_sent("rebuild", context, current, TaskState.REBUILDING, EVENT_REBUILD, exc)
            return
        self._event_finish(context, current.uuid, EVENT_REBUILD)
        LOG.info("rebuild of instance %s sent to %s", current.uuid, current.host)

    def _not_sent(
        self, what: str, context: Any, instance: Any, task: str, event: str, exc: BaseException
    ) -> None:
        """End *task* of *instance* whose request (*what*, e.g. ``rebuild``) reached no
        host, so the guest was not touched: a fault, the task cleared, then *event* and
        the action ended with *exc*, in that order, so that whoever sees the task end
        finds the fault. When the task is no longer *task* (the instance was deleted or
        another request took it over) only the event is ended; the fault, written
        first, stays: this request did fail."""
        LOG.warning("%s of instance %s not sent: %s", what, instance.uuid, exception.one_line(exc))
        try:
            objects.InstanceFault.from_exception(context, instance.uuid, exc, self.host).create()
            instance.task_state = None
            instance.save(expected_task_state=[task])
        except (exception.InstanceNotFound, exception.UnexpectedTaskStateError) as lost:
            LOG.info("instance %s: task %s not ended here: %s", instance.uuid, task, lost)
            self._event_finish(context, instance.uuid, event, exc)
            return
        try:
            objects.InstanceActionEvent.event_and_action_end(context, instance.uuid, event, exc)
        except exception.InstanceActionNotFound:
            LOG.debug("no action to record the end of %s of %s on", event, instance.uuid)

    # --- unshelve ------------------------------------------------------------------

    def unshelve_instance(self, context: Any, instance: Any, spec: Any) -> None:
        """Unshelve *instance* (see :mod:`.unshelve`)."""
        self._unshelves.unshelve_instance(context, instance, spec)

    # --- live migration ------------------------------------------------------------

    def live_migrate_instance(
        self, context: Any, instance: Any, host: str | None = None, block_migration: bool = False
    ) -> Any:
        """Check and start the live migration of *instance*; return its Migration."""
        self._event_start(context, instance.uuid, EVENT_LIVE_MIGRATION)
        task = LiveMigrationTask(
            context,
            instance,
            destination=host,
            block_migration=bool(block_migration),
            compute_rpcapi=self.compute_rpcapi,
            scheduler_rpcapi=self.scheduler_rpcapi,
            servicegroup_api=self.servicegroup_api,
            conf=self.conf,
        )
        try:
            migration = task.execute()
        except Exception as exc:
            self._event_finish(context, instance.uuid, EVENT_LIVE_MIGRATION, exc)
            if isinstance(exc, exception.NubisException):
                raise messaging.ExpectedException() from exc
            raise
        self._event_finish(context, instance.uuid, EVENT_LIVE_MIGRATION)
        return migration

    # --- helpers of the instance tasks ---------------------------------------------

    def _current_in_task(self, context: Any, instance: Any, task: str) -> Any | None:
        """*instance* as the database has it now, or None (logged) when it was deleted or
        its task is no longer *task* (a request delivered twice, or one that was
        overtaken): the conductor then drops the request."""
        try:
            current = objects.Instance.get_by_uuid(context, instance.uuid)
        except exception.InstanceNotFound:
            LOG.info("not %s instance %s: deleted", task, instance.uuid)
            return None
        if current.task_state != task:
            LOG.info(
                "not %s instance %s: its task is %s, not %s",
                task,
                instance.uuid,
                current.task_state,
                task,
            )
            return None
        return current

    def _require_compute_version(self, version: str, what: str) -> None:
        """Raise ServiceTooOld unless the compute RPC API may send *version* (the
        version *what*, e.g. ``rebuild``, needs) under its version cap."""
        compute = self.compute_rpcapi
        if not compute.can_send_version(version):
            raise exception.ServiceTooOld(
                what=what, rpc_api="compute", version=version, cap=compute.version_cap
            )

    # --- instance action events ----------------------------------------------------

    def _event_start(self, context: Any, instance_uuid: str, event: str) -> None:
        try:
            objects.InstanceActionEvent.event_start(context, instance_uuid, event, host=self.host)
        except exception.InstanceActionNotFound:
            LOG.debug("no action to record %s of %s on", event, instance_uuid)

    def _event_finish(
        self, context: Any, instance_uuid: str, event: str, exc: BaseException | None = None
    ) -> None:
        try:
            objects.InstanceActionEvent.event_end(context, instance_uuid, event, exc)
        except (exception.InstanceActionNotFound, exception.InstanceActionEventNotFound):
            LOG.debug("no action to record the end of %s of %s on", event, instance_uuid)
