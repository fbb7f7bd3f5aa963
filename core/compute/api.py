"""The compute API: what a front end (the REST API, a script) calls to manage instances.

It validates a request against the instance's current state (and its lock: an
operation that changes a locked instance is refused to non-administrators with
InstanceIsLocked, HTTP 409; see :mod:`.instance_lock`), records the user-visible
instance action, claims the instance for the operation with a compare-and-swap on
``task_state`` (so two operations cannot both start; the loser gets
InstanceInvalidState, HTTP 409) and hands the work on: builds, rebuilds and live
migrations to the conductor's ``compute_task`` API (docs/architecture.md, flows 2 and 3),
everything else as a cast to the instance's compute host. It never talks to a hypervisor
and never waits for an operation to finish, except a live migration's pre-checks (and
the reads of a console output, diagnostics and a host's uptime).

Every operation is recorded in the database before its cast (a create's Instance rows
in ``building``/``scheduling`` with their ``create`` action are nubis' build request;
other operations claim ``task_state`` and record their action), so the conductor's
reconciler can end or resend what a lost message left behind (rebuild and console
output, a call to a compute host, are in :mod:`.api_actions`; pause, suspend,
diagnostics and a host's uptime in :mod:`.api_power`). No caller waits on
the message bus longer than ``[compute] cast_timeout``: when the bus does not take a cast
in time (the broker is away), the operation is undone -- the instances of a create are
deleted (the client never got them acknowledged, so none is left behind), a claimed
task state is released -- and ServiceUnavailable (HTTP 503) is raised.

Policy (who may do what) is the caller's business: this layer acts with the context it
is given. Objects go through the configured indirection API (quota checks too, as
:class:`~nubis.core.objects.quotas.Quotas`), so this runs in any process that may
reach the database or a conductor.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import secrets
import string
import threading
import uuid as uuid_module
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from oslo_config import cfg

from nubis.core import binaries, exception, objects
from nubis.core.compute import (
    api_actions,
    api_power,
    api_shelve,
    availability_zones,
    instance_lock,
)
from nubis.core.compute.api_image_ops import ImageOperations
from nubis.core.compute.api_recovery import RecoveryOperations
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.compute.states import (
    DELETABLE_TASK_STATES,
    HARD_REBOOT_TASK_STATES,
    HARD_REBOOT_VM_STATES,
    RESETTABLE_VM_STATES,
    InstanceActionName,
    MigrationStatus,
    TaskState,
    VMState,
)
from nubis.core.conductor.rpcapi import ComputeTaskAPI
from nubis.core.objects.request_spec import RequestSpec
from nubis.core.virt import power_state
from nubis.core.virt.driver import REBOOT_TYPES

LOG = logging.getLogger(__name__)

#: Connection retries an API cast makes before the transport gives up (each retry
#: waits rabbit_retry_interval, growing): the thread sending it ends soon after the
#: caller stopped waiting ([compute] cast_timeout).
CAST_RETRIES = 2
#: Threads that hand casts to the bus; a broker that hangs holds at most these.
CAST_WORKERS = 8


class API(RecoveryOperations, ImageOperations):
    """Instance operations for front ends; see the module docstring."""

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf or cfg.CONF
        objects.register_all()
        self._servicegroup: Any = None
        self._lock = threading.Lock()
        self._senders: concurrent.futures.ThreadPoolExecutor | None = None

    @functools.cached_property
    def compute_rpcapi(self) -> ComputeAPI:
        client = ComputeAPI(conf=self.conf)
        client.client.retry = CAST_RETRIES
        return client

    @functools.cached_property
    def compute_task_api(self) -> ComputeTaskAPI:
        client = ComputeTaskAPI(conf=self.conf)
        client.client.retry = CAST_RETRIES
        return client

    @property
    def servicegroup_api(self) -> Any:
        """The process's shared servicegroup API (one backend session, however many
        requests ask for it first at once)."""
        with self._lock:
            if self._servicegroup is None:
                from nubis.core.servicegroup import api as servicegroup

                self._servicegroup = servicegroup.acquire(self.conf)
            return self._servicegroup

    def cleanup(self) -> None:
        """Release what this API opened (the servicegroup driver's connections)."""
        with self._lock:
            held, self._servicegroup = self._servicegroup, None
            senders, self._senders = self._senders, None
        if held is not None:
            held.cleanup()
        if senders is not None:
            senders.shutdown(wait=False, cancel_futures=True)

    def _send(self, what: str, cast: Callable[[], Any]) -> None:
        """Hand *cast* to the bus, waiting at most ``[compute] cast_timeout`` seconds;
        raise ServiceUnavailable when it fails or does not return in time."""
        with self._lock:
            if self._senders is None:
                self._senders = concurrent.futures.ThreadPoolExecutor(
                    max_workers=CAST_WORKERS, thread_name_prefix="nubis-api-cast"
                )
            senders = self._senders
        timeout = float(self.conf.compute.cast_timeout)
        future = senders.submit(cast)
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise exception.ServiceUnavailable(
                what="the message bus",
                reason=f"{what} was not taken within {timeout:g} s ([compute] cast_timeout)",
            ) from None
        except exception.NubisException:
            raise
        except Exception as exc:
            raise exception.ServiceUnavailable(
                what="the message bus", reason=f"{what}: {exception.one_line(exc)}"
            ) from exc

    # --- create --------------------------------------------------------------------

    def create(
        self,
        context: Any,
        *,
        flavor: Any,
        image_ref: str | None,
        name: str,
        min_count: int = 1,
        max_count: int = 1,
        requested_host: str | None = None,
        availability_zone: str | None = None,
        metadata: Mapping[str, str] | None = None,
        description: str | None = None,
        key_pair: Any = None,
        access_ip_v4: str | None = None,
        access_ip_v6: str | None = None,
        tags: Sequence[str] = (),
        instance_group: str | None = None,
    ) -> list[Any]:
        """Create *max_count* instances of *flavor* named *name* and start building them.

        Returns the instances (``building``, task ``scheduling``) at once; the
        conductor schedules them (on *requested_host* only, when given, else on the hosts
        of *availability_zone*: Invalid when it is not available) and the chosen
        compute hosts build them. With several instances the names get ``-1``,
        ``-2``, ... suffixes. Every instance of one call shares a new
        ``reservation_id`` (``r-`` and 8 letters or digits). *metadata* is the user's
        (``user_metadata``); *key_pair* (a key pair row) gives ``key_name`` and
        ``key_data``. *tags* are each instance's tags (recorded with the instance,
        before the build is handed on). *instance_group* is the uuid of
        a server group of the caller's project (any project's for an administrator;
        InstanceGroupNotFound otherwise) the instances join, recorded with each
        instance like its tags; the scheduler places them by the group's policy. Raises
        Invalid for counts that make no sense or a disabled flavor.

        Quotas (:mod:`nubis.core.quota`, through the indirection API): as many as fit of
        *max_count* are created, TooManyInstances (HTTP 403) when fewer than
        *min_count* fit; with ``[quota] recheck_quota`` the usage is counted again once
        the instances are recorded, and a create that concurrent ones pushed past a
        limit is undone with TooManyInstances. A context without a project (a system
        script) is not charged. With a group, the ``server_group_members`` quota is
        checked the same way, for all *max_count* instances at once
        (GroupMemberLimitExceeded, HTTP 403), before and after recording.
        """
        if min_count < 1 or max_count < min_count:
            raise exception.Invalid(
                message=f"min_count {min_count} and max_count {max_count}: need "
                "1 <= min_count <= max_count"
            )
        if flavor.disabled:
            raise exception.Invalid(message=f"flavor {flavor.flavorid} is disabled")
        if not name or not name.strip():
            raise exception.Invalid(message="an instance needs a non-empty name")
        charged = context.project_id is not None
        if charged:
            max_count = objects.Quotas.instances_allowed(
                context, context.project_id, context.user_id, flavor, min_count, max_count
            )
        group = self._requested_group(context, instance_group, max_count, charged)
        zone_hosts = []
        if availability_zone and not requested_host:
            zone_hosts = availability_zones.hosts_for_create(context, availability_zone)
        instances = []
        reservation_id = "r-" + "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8)
        )
        for index in range(max_count):
            display_name = name if max_count == 1 else f"{name}-{index + 1}"
            instance = objects.Instance(context)
            instance.uuid = str(uuid_module.uuid4())
            instance.display_name = display_name
            instance.hostname = _hostname(display_name)
            instance.project_id = context.project_id
            instance.user_id = context.user_id
            instance.image_ref = image_ref
            instance.flavor_id = flavor.id
            instance.memory_mb = flavor.memory_mb
            instance.vcpus = flavor.vcpus
            instance.root_gb = flavor.root_gb or 0
            instance.ephemeral_gb = flavor.ephemeral_gb or 0
            instance.vm_state = VMState.BUILDING
            instance.task_state = TaskState.SCHEDULING
            instance.power_state = power_state.NOSTATE
            instance.system_metadata = {}
            instance.user_metadata = dict(metadata or {})
            instance.description = description
            instance.key_name = key_pair.name if key_pair is not None else None
            instance.key_data = key_pair.public_key if key_pair is not None else None
            instance.access_ip_v4 = access_ip_v4
            instance.access_ip_v6 = access_ip_v6
            instance.reservation_id = reservation_id
            instance.availability_zone = availability_zone
            try:
                instance.create()
                instances.append(instance)
                if tags:
                    instance.set_tags(list(tags))
                if group is not None:
                    objects.InstanceGroup.add_members(context, group.uuid, [instance.uuid])
            except Exception:
                # Not acknowledged (the database went away mid-request): leave nothing.
                # What cannot be deleted now has no create action yet, so the
                # conductor's reconciler deletes it instead of building it.
                self._forget_all(context, instances)
                raise
        try:
            if charged and self.conf.quota.recheck_quota:
                # Raises TooManyInstances, GroupMemberLimitExceeded, or
                # InstanceGroupNotFound when the group was deleted meanwhile.
                objects.Quotas.recheck_instances(
                    context, context.project_id, context.user_id, flavor
                )
                if group is not None:
                    objects.InstanceGroup.check_members_quota(
                        context, group.uuid, context.project_id, context.user_id, 0
                    )
            # The create actions last: an instance with one is a build request the
            # reconciler would resend, one without is a leftover it deletes.
            for instance in instances:
                objects.InstanceAction.action_start(
                    context, instance.uuid, InstanceActionName.CREATE
                )
        except Exception:
            self._forget_all(context, instances)
            raise
        spec = RequestSpec.from_instance(
            instances[0],
            num_instances=len(instances),
            force_hosts=[requested_host] if requested_host else zone_hosts,
        )
        spec.instance_uuid = None
        if group is not None:
            spec.instance_group = group
            try:  # its members and where they run now, these instances among them
                spec.instance_group = objects.InstanceGroup.get_by_uuid(context, group.uuid)
            except exception.InstanceGroupNotFound:
                pass  # deleted meanwhile: placed by the group as it was
        try:
            self._send(
                "the build request",
                lambda: self.compute_task_api.build_instances(context, instances, spec),
            )
        except exception.ServiceUnavailable as exc:
            # Not acknowledged: leave nothing behind (a late message finds no instance).
            LOG.error("create of %d instance(s) refused: %s", len(instances), exc)
            for instance in instances:
                self._forget(context, instance)
            raise
        LOG.info(
            "%d instance(s) of flavor %s requested: %s",
            len(instances),
            flavor.flavorid,
            ", ".join(i.uuid for i in instances),
        )
        return instances

    def _requested_group(
        self, context: Any, group_uuid: str | None, count: int, charged: bool
    ) -> Any:
        """The server group *group_uuid* a create's *count* instances join (None: no
        group), checked against the caller's project and, when *charged*, the
        ``server_group_members`` quota."""
        if group_uuid is None:
            return None
        group = objects.InstanceGroup.get_by_uuid(context, group_uuid)
        if group.project_id != context.project_id and not context.is_admin:
            raise exception.InstanceGroupNotFound(group_uuid=group_uuid)
        if charged:
            objects.InstanceGroup.check_members_quota(
                context, group.uuid, context.project_id, context.user_id, count
            )
        return group

    # --- read ----------------------------------------------------------------------

    def get(self, context: Any, instance_uuid: str) -> Any:
        """Return the instance (InstanceNotFound, HTTP 404, if there is none)."""
        return objects.Instance.get_by_uuid(context, instance_uuid)

    def get_all(
        self,
        context: Any,
        filters: Mapping[str, Any] | None = None,
        limit: int | None = None,
        marker: str | None = None,
        sort_keys: list[str] | None = None,
        sort_dirs: list[str] | None = None,
    ) -> Any:
        """Return an InstanceList page; see :func:`nubis.core.db.api.instance_get_all`."""
        return objects.InstanceList.get_all(
            context,
            filters=dict(filters or {}),
            limit=limit,
            marker=marker,
            sort_keys=sort_keys,
            sort_dirs=sort_dirs,
        )

    def get_migrations(self, context: Any, filters: Mapping[str, Any] | None = None) -> Any:
        """Return the migrations matching *filters*, newest first."""
        return objects.MigrationList.get_all(context, filters=dict(filters or {}))

    def get_instance_actions(self, context: Any, instance_uuid: str) -> Any:
        """Return the instance's actions, newest first (InstanceNotFound if none)."""
        objects.Instance.get_by_uuid(context, instance_uuid)
        return objects.InstanceActionList.get_by_instance_uuid(context, instance_uuid)

    # --- operations ----------------------------------------------------------------

    def delete(self, context: Any, instance: Any) -> None:
        """Delete *instance*: on its compute host, or here when it has none or that
        host's compute service is down (its guest, if any, is then an orphan the host
        reports when it returns)."""
        instance_lock.check_unlocked(context, instance)
        previous = instance.task_state
        self._claim(
            context,
            instance,
            "delete",
            InstanceActionName.DELETE,
            TaskState.DELETING,
            task_states=DELETABLE_TASK_STATES,
        )
        api_shelve.delete_shelved_image(self, context, instance)
        if instance.host and self._host_is_up(context, instance.host):
            self._cast_or_release(
                context,
                instance,
                TaskState.DELETING,
                previous,
                lambda: self.compute_rpcapi.terminate_instance(context, instance),
            )
            return
        LOG.warning(
            "deleting instance %s here: %s",
            instance.uuid,
            f"its host {instance.host} is down" if instance.host else "it has no host",
        )
        instance.destroy()
        try:
            objects.InstanceAction.action_finish(context, instance.uuid)
        except exception.InstanceActionNotFound:
            pass

    def start(self, context: Any, instance: Any) -> None:
        """Power a stopped instance on."""
        instance_lock.check_unlocked(context, instance)
        self._claim(
            context,
            instance,
            "start",
            InstanceActionName.START,
            TaskState.POWERING_ON,
            vm_states=(VMState.STOPPED,),
        )
        self._cast_or_release(
            context,
            instance,
            TaskState.POWERING_ON,
            None,
            lambda: self.compute_rpcapi.start_instance(context, instance),
        )

    def stop(self, context: Any, instance: Any) -> None:
        """Power an active (or errored) instance off, asking the guest to shut down
        first (Nova's states: a paused or suspended one is refused)."""
        instance_lock.check_unlocked(context, instance)
        self._claim(
            context,
            instance,
            "stop",
            InstanceActionName.STOP,
            TaskState.POWERING_OFF,
            vm_states=(VMState.ACTIVE, VMState.ERROR),
        )
        self._cast_or_release(
            context,
            instance,
            TaskState.POWERING_OFF,
            None,
            lambda: self.compute_rpcapi.stop_instance(context, instance, clean_shutdown=True),
        )

    def reboot(self, context: Any, instance: Any, reboot_type: str = "SOFT") -> None:
        """Reboot: ``SOFT`` asks the guest (active instances with no task); ``HARD``
        resets, from any of :data:`.states.HARD_REBOOT_VM_STATES` and even while a
        pause, unpause, suspend, resume or reboot runs (Nova's states), and ends
        active."""
        if reboot_type not in REBOOT_TYPES:
            raise exception.Invalid(
                message=f"reboot type {reboot_type!r} is not one of {', '.join(REBOOT_TYPES)}"
            )
        instance_lock.check_unlocked(context, instance)
        hard = reboot_type == "HARD"
        previous = instance.task_state
        self._claim(
            context,
            instance,
            "reboot",
            InstanceActionName.REBOOT,
            TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING,
            vm_states=HARD_REBOOT_VM_STATES if hard else (VMState.ACTIVE,),
            task_states=HARD_REBOOT_TASK_STATES if hard else (None,),
        )
        self._cast_or_release(
            context,
            instance,
            TaskState.REBOOTING_HARD if hard else TaskState.REBOOTING,
            previous,
            lambda: self.compute_rpcapi.reboot_instance(context, instance, reboot_type=reboot_type),
        )

    def rebuild(
        self,
        context: Any,
        instance: Any,
        image_ref: str | None,
        preserve_ephemeral: bool = False,
        **changes: Any,
    ) -> None:
        """Rebuild *instance* in place from *image_ref*; see :func:`.api_actions.rebuild`."""
        api_actions.rebuild(self, context, instance, image_ref, preserve_ephemeral, changes)

    def get_console_output(
        self, context: Any, instance: Any, tail_length: int | None = None
    ) -> str:
        """The last lines of the console output; see :func:`.api_actions.console_output`."""
        return api_actions.console_output(self, context, instance, tail_length)

    def pause(self, context: Any, instance: Any) -> None:
        """Pause an active instance; see :mod:`.api_power`."""
        api_power.pause(self, context, instance)

    def unpause(self, context: Any, instance: Any) -> None:
        """Unpause a paused instance; see :mod:`.api_power`."""
        api_power.unpause(self, context, instance)

    def suspend(self, context: Any, instance: Any) -> None:
        """Suspend an active instance; see :mod:`.api_power`."""
        api_power.suspend(self, context, instance)

    def resume(self, context: Any, instance: Any) -> None:
        """Resume a suspended instance; see :mod:`.api_power`."""
        api_power.resume(self, context, instance)

    def get_diagnostics(self, context: Any, instance: Any) -> Any:
        """The Diagnostics of the guest; see :func:`.api_power.get_diagnostics`."""
        return api_power.get_diagnostics(self, context, instance)

    def get_host_uptime(self, context: Any, host: str) -> str:
        """Compute host *host*'s uptime; see :func:`.api_power.get_host_uptime`."""
        return api_power.get_host_uptime(self, context, host)

    def live_migrate(
        self,
        context: Any,
        instance: Any,
        host: str | None = None,
        block_migration: bool = False,
    ) -> Any:
        """Live-migrate *instance* to *host* (or where the scheduler says); return the
        Migration once the pre-checks passed and the copy was handed to the source.

        The checks' refusals are raised here (NoValidHost, MigrationPreCheckError,
        ComputeServiceUnavailable, MaxRetriesExceeded) with the instance left as it was.
        """
        instance_lock.check_unlocked(context, instance)
        self._claim(
            context,
            instance,
            "live-migrate",
            InstanceActionName.LIVE_MIGRATION,
            TaskState.MIGRATING,
            vm_states=(VMState.ACTIVE, VMState.PAUSED),
        )
        # The conductor may wait rpc_response_timeout for each destination it checks
        # (and the destination as long for the source): give it that, and one more.
        checks = 1 if host else int(self.conf.conductor.live_migration_max_retries) + 1
        timeout = float(self.conf.rpc_response_timeout) * (checks + 1)
        try:
            return self.compute_task_api.live_migrate_instance(
                context, instance, host=host, block_migration=block_migration, timeout=timeout
            )
        except exception.NubisException:
            raise  # the conductor rolled back already
        except Exception:
            # The conductor may never have seen the request (e.g. a timeout): release it.
            instance.task_state = None
            try:
                instance.save(expected_task_state=[TaskState.MIGRATING])
            except (exception.UnexpectedTaskStateError, exception.InstanceNotFound):
                pass
            raise

    def live_migrate_abort(self, context: Any, instance: Any, migration_id: int) -> None:
        """Abort live migration *migration_id* of *instance* (queued: cancelled; running:
        the copy is stopped and the instance stays on its source)."""
        instance_lock.check_unlocked(context, instance)
        migration = objects.Migration.get_by_id(context, migration_id)
        if migration.instance_uuid != instance.uuid:
            raise exception.MigrationNotFoundForInstance(
                migration_id=migration_id, instance_uuid=instance.uuid
            )
        if migration.status not in MigrationStatus.IN_PROGRESS:
            raise exception.InvalidMigrationState(
                migration_id=migration_id,
                instance_uuid=instance.uuid,
                state=migration.status,
                method="abort live migration",
            )
        objects.InstanceAction.action_start(
            context, instance.uuid, InstanceActionName.LIVE_MIGRATION_CANCEL
        )
        self.compute_rpcapi.live_migration_abort(context, instance, migration_id)

    def reset_state(self, context: Any, instance: Any, vm_state: str) -> None:
        """Set *instance*'s vm_state to *vm_state* (``active`` or ``error``) and clear its
        task state, whatever they were: an administrator's way out of a stuck task.
        Nothing is sent to the compute host; the instance action ``resetState`` records
        it (started and finished at once)."""
        if vm_state not in RESETTABLE_VM_STATES:
            raise exception.Invalid(
                message=f"state {vm_state!r} is not one of {', '.join(RESETTABLE_VM_STATES)}"
            )
        instance.vm_state = vm_state
        instance.task_state = None
        instance.save()
        objects.InstanceAction.action_start(context, instance.uuid, InstanceActionName.RESET_STATE)
        objects.InstanceAction.action_finish(context, instance.uuid)

    # --- helpers -------------------------------------------------------------------

    @staticmethod
    def _check_state(
        instance: Any,
        verb: str,
        vm_states: tuple[str, ...] | None,
        task_states: tuple[str | None, ...],
    ) -> None:
        """InstanceInvalidState unless *instance* is in one of *vm_states* (None: any)
        with one of *task_states*."""
        if vm_states is not None and instance.vm_state not in vm_states:
            raise exception.InstanceInvalidState(
                action=verb,
                instance_uuid=instance.uuid,
                state=f"vm_state {instance.vm_state}",
                expected="vm_state " + " or ".join(vm_states),
            )
        if instance.task_state not in task_states:
            raise exception.InstanceInvalidState(
                action=verb,
                instance_uuid=instance.uuid,
                state=f"task_state {instance.task_state}",
                expected="task_state " + " or ".join(str(s) for s in task_states),
            )

    def _claim(
        self,
        context: Any,
        instance: Any,
        verb: str,
        action: str,
        task_state: str,
        vm_states: tuple[str, ...] | None = None,
        task_states: tuple[str | None, ...] = (None,),
    ) -> None:
        """Check and set *task_state* in one compare-and-swap; record *action*."""
        self._check_state(instance, verb, vm_states, task_states)
        instance.task_state = task_state
        try:
            instance.save(
                expected_task_state=list(task_states),
                expected_vm_state=list(vm_states) if vm_states is not None else None,
            )
        except (exception.UnexpectedTaskStateError, exception.UnexpectedVMStateError) as exc:
            raise exception.InstanceInvalidState(
                action=verb,
                instance_uuid=instance.uuid,
                state="changed by another request",
                expected=exception.one_line(exc),
            ) from exc
        objects.InstanceAction.action_start(context, instance.uuid, action)

    def _cast_or_release(
        self,
        context: Any,
        instance: Any,
        claimed: str,
        previous: str | None,
        cast: Callable[[], Any],
    ) -> None:
        """Send an operation's cast; when the bus does not take it, give the instance
        back (task *claimed* -> *previous*, compare-and-swap) and raise 503."""
        try:
            self._send(f"the {claimed} request of instance {instance.uuid}", cast)
        except exception.ServiceUnavailable:
            instance.task_state = previous
            try:
                instance.save(expected_task_state=[claimed])
                objects.InstanceAction.action_finish(context, instance.uuid)
            except Exception as exc:  # the reconciler clears it ([conductor] task_timeout)
                LOG.warning(
                    "could not release instance %s after a failed cast: %s",
                    instance.uuid,
                    exception.one_line(exc),
                )
            raise

    def _forget_all(self, context: Any, instances: list[Any]) -> None:
        for instance in instances:
            self._forget(context, instance)

    def _forget(self, context: Any, instance: Any) -> None:
        """Delete an instance whose create was not acknowledged."""
        try:
            instance.destroy()
            try:
                objects.InstanceAction.action_finish(context, instance.uuid)
            except exception.InstanceActionNotFound:
                pass  # undone before its create action was recorded
        except Exception as exc:  # the reconciler ends it (build_request_timeout)
            LOG.warning(
                "could not delete unacknowledged instance %s: %s",
                instance.uuid,
                exception.one_line(exc),
            )

    def _host_is_up(self, context: Any, host: str) -> bool:
        service = objects.Service.get_by_host_and_binary(context, host, binaries.COMPUTE)
        return service is not None and bool(self.servicegroup_api.is_up(service))


def _hostname(display_name: str) -> str:
    """A DNS label from *display_name* (Nova's sanitising, simplified)."""
    label = "".join(c if c.isalnum() or c == "-" else "-" for c in display_name.lower())
    return label.strip("-")[:63] or "instance"
