"""``scheduler``: chooses compute nodes for instances (nubis-scheduler).

It serves :class:`nubis.core.scheduler.rpcapi.SchedulerAPI`. A request keeps the nodes
of the scheduler's view that pass the filter plugins of ``[scheduler] enabled_filters``,
ranks them with the weigher plugins of ``[scheduler] weighers`` and returns the best
(:mod:`.host_index`, which keeps those verdicts between requests and re-asks only about
nodes that changed); then it subtracts the placed instance from that node's view
(:meth:`HostState.consume`), so the next request -- from any thread -- sees the node
fuller, until the node's next report replaces the view. Claims on the compute host stay
the final word: a scheduler that was wrong costs a reschedule, not an overcommit.

The view is a cache. A request that finds it older than ``[scheduler]
host_state_refresh_interval`` seconds starts a refresh in a background thread and
schedules on the current view meanwhile, so no request pays for a read (idle schedulers
read nothing). A refresh reads:

* compute nodes incrementally: only the rows created, updated or deleted since the
  previous read began (``ComputeNodeList.get_updated_since``, through the indirection
  API like every object call); a node whose row changed gets a fresh view (forgetting
  what the scheduler consumed from it), a deleted node is dropped. The first read loads
  every node; the service makes it before it takes requests, and a request that finds
  no view waits for it.
* liveness: one snapshot of the compute topic's up hosts from the servicegroup API
  (which counts forced-down services as down) and of the disabled compute services.

The one read an idle scheduler makes is the compute topic's membership, once every
``report_interval`` (:meth:`SchedulerManager.keep_membership_fresh`): during an outage
of the membership backend the servicegroup API answers the last state it saw, for
``service_down_time`` after seeing it, so that state must be recent when an outage
begins. Without it a scheduler idle for longer than ``service_down_time`` minus the
outage would count every host down once its first request came; with it an outage
shorter than ``service_down_time`` minus ``report_interval`` changes no decision.

One lock, always taken with a timeout, guards the cache; a request holds it while it
filters, weighs and consumes (pure CPU work over the cache), never across a database or
RPC call. Requests are thereby serialised, which under the GIL costs no throughput and
is what makes "concurrent requests do not all land on the same node" hold.

Server groups: a request for a group (``spec.instance_group``) comes with the hosts of
the group's members as the API saw them; before taking the lock the scheduler reads
them again (``InstanceGroup.get_placement``, leaving out the instance being scheduled,
which a reschedule or a move places anew), keeping the request's own when the read
fails. The conductor records an instance's host only once the scheduler has answered,
so a read can miss an instance of the group placed a moment before. The scheduler
therefore remembers what it chose for each group in the last
:data:`GROUP_MEMORY_SECONDS` and adds those hosts the read does not show -- but only as
many of its latest choices as the read counts members still waiting for a host besides
the request's own (a choice whose instance was recorded, or deleted, since is no longer
waiting), never a choice for the instance being scheduled, and never a host the request
ignores. Two requests for one group therefore never both take the last free host of an
anti-affinity group from the same scheduler, and a member deleted a moment ago does not
keep its host; several schedulers running at once can still race, as in Nova.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import oslo_messaging as messaging
from oslo_utils import timeutils

from nubis.core import exception, plugins
from nubis.core.compute.rpcapi import ComputeAPI
from nubis.core.context import get_admin_context
from nubis.core.manager import Manager
from nubis.core.objects.compute_node import ComputeNodeList
from nubis.core.objects.request_spec import RequestSpec
from nubis.core.objects.service import ServiceList
from nubis.core.periodic import periodic_task
from nubis.core.scheduler.host_state import HostState
from nubis.plugins.managers.scheduler import host_index

LOG = logging.getLogger(__name__)

LOCK_TIMEOUT = 30.0
"""Seconds a request waits for the host-state lock before failing with LockTimeout; the
lock is only ever held for CPU work over the cache."""

CLOCK_SLACK = datetime.timedelta(seconds=2)
"""An incremental read asks for the rows changed since the previous read began, minus
this: it covers clock skew between the scheduler and the processes that stamp compute
nodes (the conductors; clocks must agree anyway for service_down_time to work) and
transactions that commit a little after they stamped their rows. Rows read again with
an unchanged timestamp are skipped; each one still costs an object, so it is small."""

FOREGROUND_AFTER = 10
"""A request that finds the view older than this many refresh intervals (an idle
scheduler) reads in the foreground instead of scheduling on the old view."""

FIRST_READ_TIMEOUT = 60.0
"""Seconds a request waits for a read of the compute nodes another request is making
when there is no view yet (the first read loads every node)."""

GROUP_MEMORY_SECONDS = 5.0
"""Seconds the scheduler adds its own choices for a server group to the hosts the
database shows for the group: longer than the conductor takes to record a choice. (A
member deleted within this time still counts for its host until it ends.)"""

GROUP_MEMORY_SIZE = 256
"""Server groups whose recent choices are kept before the expired ones are swept."""

MEMBERSHIP_CHECK_SPACING = 1.0
"""Seconds between two checks of whether the compute topic's membership was read within
``report_interval`` (read when it was not)."""


class SchedulerManager(Manager):
    """The scheduler's RPC endpoint and its cache of host states."""

    target = messaging.Target(version="1.0")
    service_name = "scheduler"

    def __init__(self, host: str, conf: Any = None) -> None:
        super().__init__(host, conf)
        self._lock = threading.Lock()
        self._holder: str | None = None
        self._generation = 0
        self._refresh_done = threading.Event()
        self._servicegroup: Any = None
        self._servicegroup_lock = threading.Lock()
        self._membership_read_at = 0.0  # time.monotonic() of the last membership read
        #: Refreshes of the host states completed so far (diagnostics).
        self.refreshes = 0
        self._load_plugins()
        self._reset_cache()

    # --- lifecycle ---------------------------------------------------------------------

    def reset(self) -> None:
        """Reload the filters and weighers (their options are mutable) and read every
        compute node again at the next request. An unknown plugin name raises
        PluginNotFound and leaves the scheduler as it was."""
        with self._locked("reset"):
            self._load_plugins()
            self._reset_cache()

    def pre_start_hook(self) -> None:
        """Read every compute node before taking requests; a failure is logged and the
        first request reads again."""
        try:
            self.refresh_host_states()
        except Exception as exc:
            LOG.warning(
                "cannot read the compute nodes yet, the first request will: %s",
                exception.one_line(exc),
            )

    def cleanup_host(self) -> None:
        with self._servicegroup_lock:
            membership, self._servicegroup = self._servicegroup, None
        if membership is not None:
            membership.cleanup()

    def _load_plugins(self) -> None:
        """Load the configured filters and weighers; on a bad name keep the old ones."""
        conf = self.conf.scheduler
        filters = [
            cls(self.conf)
            for cls in plugins.load_many(
                "nubis.scheduler.filters", conf.enabled_filters, "[scheduler] enabled_filters"
            )
        ]
        weighers = [
            cls(self.conf)
            for cls in plugins.load_many(
                "nubis.scheduler.weighers", conf.weighers, "[scheduler] weighers"
            )
        ]
        self.filters: list[Any] = filters
        self.weighers: list[Any] = weighers
        self._shape_fields = host_index.shape_fields([*filters, *weighers])

    def _reset_cache(self) -> None:
        self._generation += 1
        self._refresh_done.set()  # nobody waits for a read whose result will be dropped
        self._refresh_done = threading.Event()
        self._states: dict[int, HostState] = {}  # by compute node id
        self._stamps: dict[int, datetime.datetime | None] = {}
        # When this scheduler last placed an instance on a node (by node uuid).
        self._consumed_at: dict[str | None, datetime.datetime] = {}
        self._slot_of_node: dict[int, int] = {}
        self._index = host_index.HostIndex()
        # What this scheduler chose for each server group lately (by group uuid):
        # [(time.monotonic(), host, instance uuid or None), ...].
        self._group_choices: dict[str, list[tuple[float, str, str | None]]] = {}
        self._up: frozenset[str] = frozenset()
        self._disabled: dict[str, str | None] = {}
        self._watermark: datetime.datetime | None = None
        self._refreshed_at = 0.0
        self._refreshing = False
        self._loaded = False
        self._refresh_failing = False

    # --- the RPC API -------------------------------------------------------------------

    @messaging.expected_exceptions(exception.NoValidHost, exception.Invalid)
    def select_destinations(
        self, context: Any, spec: Any, ignore_hosts: list[str] | None = None, num: int = 1
    ) -> list[dict[str, str]]:
        """Return *num* destinations for RequestSpec *spec*, best first, each
        ``{"host": ..., "nodename": ...}``, and account for them in the cache.

        Hosts in *ignore_hosts* or ``spec.ignore_hosts`` are never chosen; a non-empty
        ``spec.force_hosts`` limits the choice to those hosts. When nothing fits, what
        changed since the view was read is read at once and the request tried once
        more (a compute host that just started, an instance that just left). Instances
        are placed one at a time, each consuming its node before the next is placed;
        when one does not fit, nothing of the request stays consumed and NoValidHost
        names the filter that eliminated the last candidates.
        """
        return self.schedule(context, spec, ignore_hosts, num)

    def schedule(
        self, context: Any, spec: Any, ignore_hosts: list[str] | None = None, num: int = 1
    ) -> list[dict[str, str]]:
        """:meth:`select_destinations` without the RPC wrapping of its exceptions
        (NoValidHost and Invalid are raised as themselves)."""
        _check_request(spec, ignore_hosts, num)
        spec.obj_set_defaults()
        ignore = set(spec.ignore_hosts)
        ignore.update(ignore_hosts or ())
        forced = set(spec.force_hosts)
        room = self._read_group_hosts(spec, num)
        self._refresh_if_due()
        try:
            chosen = self._place(spec, ignore, forced, num, room)
        except exception.NoValidHost as no_host:
            # The view may miss a node that reported since it was read (a host that
            # just started, or freed room): read what changed and try once more.
            try:
                self.refresh_host_states()
            except Exception:
                raise no_host from None  # the read failed; the answer stands
            chosen = self._place(spec, ignore, forced, num, room)
        destinations = [{"host": h.host, "nodename": h.nodename} for h in chosen]
        if LOG.isEnabledFor(logging.DEBUG):
            instance = spec.instance_uuid if spec.obj_attr_is_set("instance_uuid") else None
            LOG.debug("instance %s: chose %s", instance, [d["host"] for d in destinations])
        return destinations

    def _place(
        self, spec: Any, ignore: set[str], forced: set[str], num: int, room: int | None = None
    ) -> list[HostState]:
        subset_size = self.conf.scheduler.host_subset_size
        group = host_index.group_of(spec)
        with self._locked("select_destinations"):
            if forced:  # only the requested hosts may be chosen
                ignore = ignore | (set(self._index.slots_by_host) - forced)
            instance = spec.instance_uuid if spec.obj_attr_is_set("instance_uuid") else None
            if group is not None:
                read = list(group.hosts)
                group.hosts = self._with_recent_choices(group, ignore, instance, room)
            chooser = host_index.Chooser(
                self._index, self.filters, self.weighers, self._shape_fields, subset_size
            )
            try:
                chosen = chooser.place(spec, ignore, num)
            finally:
                if group is not None:
                    group.hosts = read  # as read: a retry adds the choices again
            now = _utc(timeutils.utcnow())
            for state in chosen:
                self._consumed_at[state.uuid] = now
            if group is not None:
                self._remember_choices(group.uuid, [state.host for state in chosen], instance)
            return chosen

    # --- server groups -------------------------------------------------------------------

    def _read_group_hosts(self, spec: Any, num: int) -> int | None:
        """Replace the hosts of the request's server group by those the database shows
        now, without the instance being scheduled, and return how many of the group's
        other members wait for a host besides the *num* of this request (None: no group,
        or the read failed and the request's hosts are kept)."""
        group = host_index.group_of(spec)
        if group is None:
            return None
        instance = spec.instance_uuid if spec.obj_attr_is_set("instance_uuid") else None
        exclude = [instance] if instance else []
        try:
            group._context = get_admin_context()
            placement = group.get_placement(exclude=exclude)
            group.hosts = placement["hosts"]
            # A multi-create's own instances wait too; a named instance is excluded.
            return max(int(placement["unplaced"]) - (0 if instance else num), 0)
        except exception.InstanceGroupNotFound:
            LOG.info(
                "server group %s is gone; placing by the hosts the request names", group.uuid
            )
        except Exception as exc:
            LOG.warning(
                "cannot read the hosts of server group %s, placing by those the request "
                "names: %s",
                group.uuid,
                exception.one_line(exc),
            )
        return None

    def _recent(self, group_uuid: str, now: float) -> list[tuple[float, str, str | None]]:
        """The group's choices younger than the memory; the rest forgotten (lock held)."""
        recent = [
            choice
            for choice in self._group_choices.get(group_uuid, ())
            if now - choice[0] < GROUP_MEMORY_SECONDS
        ]
        if recent:
            self._group_choices[group_uuid] = recent
        else:
            self._group_choices.pop(group_uuid, None)
        return recent

    def _with_recent_choices(
        self, group: Any, ignore: set[str], instance: str | None, room: int | None
    ) -> list[str]:
        """The group's hosts plus those of its *room* latest choices (all when None) --
        not for *instance*, the one being scheduled -- that they lack and the request
        does not ignore (lock held)."""
        choices = [
            host
            for _at, host, chosen_for in self._recent(group.uuid, time.monotonic())
            if instance is None or chosen_for != instance
        ]
        if room is not None:
            choices = choices[len(choices) - room :] if room else []
        known = set(group.hosts)
        extra = {host for host in choices if host not in known and host not in ignore}
        return sorted([*group.hosts, *extra])

    def _remember_choices(self, group_uuid: str, hosts: list[str], instance: str | None) -> None:
        """Note that *hosts* were just chosen for the group, for *instance* when the
        request names one (its earlier choices are forgotten); lock held."""
        now = time.monotonic()
        choices = self._group_choices.setdefault(group_uuid, [])
        if instance is not None:
            choices[:] = [choice for choice in choices if choice[2] != instance]
        choices.extend((now, host, instance) for host in hosts)
        if len(self._group_choices) > GROUP_MEMORY_SIZE:
            for uuid in list(self._group_choices):
                self._recent(uuid, now)

    # --- the cache -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, wanted_by: str) -> Iterator[None]:
        if not self._lock.acquire(timeout=LOCK_TIMEOUT):
            raise exception.LockTimeout(
                lock="scheduler host states",
                wanted_by=wanted_by,
                timeout=LOCK_TIMEOUT,
                holder=self._holder or "nobody",
            )
        self._holder = wanted_by
        try:
            yield
        finally:
            self._holder = None
            self._lock.release()

    @periodic_task(spacing=MEMBERSHIP_CHECK_SPACING)
    def keep_membership_fresh(self, context: Any) -> None:
        """Ask the servicegroup API which compute hosts are up unless a refresh did
        within ``report_interval``, so that the last state it keeps for an outage of its
        backend is never much older than that. The answer is not folded into the host
        states (a refresh does that)."""
        if time.monotonic() - self._membership_read_at >= self.conf.report_interval:
            self._read_membership()

    def _read_membership(self) -> frozenset[str]:
        up = frozenset(self._membership().get_all(self.conf.compute.topic))
        self._membership_read_at = time.monotonic()
        return up

    def _membership(self) -> Any:
        from nubis.core.servicegroup import api as servicegroup

        with self._servicegroup_lock:  # the periodic task and a refresh may both ask
            if self._servicegroup is None:
                self._servicegroup = servicegroup.acquire(self.conf)
            return self._servicegroup

    def refresh_host_states(self) -> None:
        """Read what changed since the last read now, in this thread, whatever the
        interval says (after a refresh already running, if any, has finished). Raises
        what the read raised."""
        self._refresh(wait=True, force=True)

    def _refresh_if_due(self) -> None:
        """Make sure a request has a view to schedule on: the first time, read it (or
        wait for the request already reading it); afterwards, when the view is older
        than the interval, start a refresh in the background and use the current one."""
        self._refresh(wait=False, force=False)

    def _refresh(self, wait: bool, force: bool) -> None:
        interval = self.conf.scheduler.host_state_refresh_interval
        deadline = time.monotonic() + FIRST_READ_TIMEOUT
        while True:
            with self._locked("refresh check"):
                began = time.monotonic()
                fresh = self._loaded and began - self._refreshed_at < interval
                if not self._refreshing:
                    if fresh and not force:
                        return
                    self._refreshing = True
                    self._refresh_done.clear()
                    job = (self._generation, self._watermark, began)
                    # A view much older than the interval (an idle scheduler) is not
                    # worth scheduling on: read in the foreground then.
                    in_background = (
                        self._loaded
                        and not wait
                        and began - self._refreshed_at < interval * FOREGROUND_AFTER
                    )
                    # A request with a view to fall back on never fails for a read.
                    raise_errors = wait or not self._loaded
                    break
                if self._loaded and not wait:
                    return  # a refresh is running: use the current view meanwhile
                done = self._refresh_done
            if not done.wait(max(0.0, deadline - time.monotonic())):
                raise exception.ServiceTimeout(
                    what="the scheduler's read of the compute nodes", timeout=FIRST_READ_TIMEOUT
                )
        if in_background:
            threading.Thread(
                target=self._run_refresh, args=job, name="nubis-scheduler-refresh", daemon=True
            ).start()
        else:
            self._run_refresh(*job, raise_errors=raise_errors)

    def _run_refresh(
        self,
        generation: int,
        since: datetime.datetime | None,
        began: float,
        raise_errors: bool = False,
    ) -> None:
        """Read and fold in one refresh that :meth:`_refresh` registered."""
        try:
            read_began, nodes, up, disabled = self._read(since)
        except Exception as exc:
            with self._locked("refresh failed"):
                if generation != self._generation:
                    return
                self._refreshing = False
                self._refreshed_at = began  # retry after the interval, not at once
                self._refresh_done.set()
                first_failure = not self._refresh_failing
                self._refresh_failing = True
            if raise_errors:
                raise
            if first_failure:
                LOG.error(
                    "cannot refresh the scheduler's host states, scheduling on the last "
                    "ones read: %s",
                    exception.one_line(exc),
                )
            return
        with self._locked("refresh apply"):
            if generation != self._generation:
                return  # reset() dropped the cache this read was meant to update
            self._apply(read_began, nodes, up, disabled)
            self.refreshes += 1
            self._refreshing = False
            self._refreshed_at = began
            self._loaded = True
            self._refresh_done.set()
            recovered = self._refresh_failing
            self._refresh_failing = False
        if recovered:
            LOG.info("the scheduler's host states are refreshed again")

    def _read(
        self, since: datetime.datetime | None
    ) -> tuple[datetime.datetime, list[Any], frozenset[str], dict[str, str | None]]:
        """Read the compute nodes changed since *since* (all when None) and one
        liveness snapshot, without the lock; return when the read began with them."""
        began = timeutils.utcnow()
        context = get_admin_context()
        start = None
        if since is not None:
            start = (since - CLOCK_SLACK).isoformat()
        nodes = list(ComputeNodeList.get_updated_since(context, start))
        up = self._read_membership()
        disabled = {
            service.host: service.disabled_reason
            for service in ServiceList.get_all(context, disabled=True)
            if service.binary == ComputeAPI.BINARY
        }
        return began, nodes, up, disabled

    def _apply(
        self,
        read_began: datetime.datetime,
        nodes: list[Any],
        up: frozenset[str],
        disabled: dict[str, str | None],
    ) -> None:
        """Fold a read into the cache (lock held)."""
        states = self._states
        stamps = self._stamps
        index = self._index
        updated: list[int] = []
        membership_changed = False
        for node in nodes:
            key = node.id
            if node.deleted:
                self._consumed_at.pop(node.uuid, None)
                if states.pop(key, None) is not None:
                    membership_changed = True
                stamps.pop(key, None)
                continue
            stamp = node.updated_at or node.created_at
            state = states.get(key)
            if state is not None and stamps.get(key) == stamp:
                continue  # read again inside the slack window; keep what was consumed
            consumed_at = self._consumed_at.get(node.uuid) if state is not None else None
            if consumed_at is not None and stamp is not None and _utc(stamp) < consumed_at:
                # Written before this scheduler placed an instance there: the row does
                # not know of that placement yet, the view does. Keep the view.
                continue
            if state is None or (state.host, state.nodename) != (
                node.host,
                node.hypervisor_hostname,
            ):
                state = HostState.from_compute_node(node)
                states[key] = state
                membership_changed = True
            else:
                state.update_from_compute_node(node)
            stamps[key] = stamp
            updated.append(key)
        self._watermark = read_began
        liveness_changed = up != self._up or disabled != self._disabled
        self._up = up
        self._disabled = disabled
        if membership_changed:
            keys = sorted(states)
            self._slot_of_node = {key: slot for slot, key in enumerate(keys)}
            ordered = [states[key] for key in keys]
            for state in ordered:
                _set_liveness(state, up, disabled)
            index.reset(ordered)
            return
        for key in updated:
            index.changed(self._slot_of_node[key])
        if liveness_changed:
            for slot, state in enumerate(index.hosts):
                if _set_liveness(state, up, disabled):
                    index.changed(slot)

    def host_states(self) -> list[HostState]:
        """Return the cached host states in node id order (for tests and diagnostics;
        read them, do not change them)."""
        with self._locked("host_states"):
            return list(self._index.hosts)


def _check_request(spec: Any, ignore_hosts: Any, num: Any) -> None:
    if not isinstance(spec, RequestSpec):
        raise exception.Invalid(
            f"select_destinations: spec must be a RequestSpec object, got {type(spec).__name__}"
        )
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise exception.Invalid(
            f"select_destinations: num must be an integer of at least 1, got {num!r}"
        )
    if ignore_hosts is not None and (
        not isinstance(ignore_hosts, list | tuple | set)
        or not all(isinstance(h, str) for h in ignore_hosts)
    ):
        raise exception.Invalid(
            f"select_destinations: ignore_hosts must be a list of host names, got {ignore_hosts!r}"
        )


def _set_liveness(state: HostState, up: frozenset[str], disabled: dict[str, str | None]) -> bool:
    """Set *state*'s liveness from a snapshot; return whether it changed."""
    service_up = state.host in up
    service_disabled = state.host in disabled
    reason = disabled.get(state.host)
    if (state.service_up, state.service_disabled, state.disabled_reason) == (
        service_up,
        service_disabled,
        reason,
    ):
        return False
    state.service_up = service_up
    state.service_disabled = service_disabled
    state.disabled_reason = reason
    return True


def _utc(when: datetime.datetime) -> datetime.datetime:
    """*when* as an aware UTC datetime (objects give aware ones, utcnow naive ones)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC)
