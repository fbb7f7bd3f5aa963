"""Choosing nodes: which cached nodes pass the filters, how they weigh, which wins.

:class:`HostIndex` holds the scheduler's host states in a fixed order (by compute node
id; a node's position is its *slot*) and a log of the slots whose state changed. For
each request "shape" -- the values of the RequestSpec fields the enabled filters and
weighers declare they read (``spec_fields``) -- it keeps a :class:`Verdicts` entry: the
slots that passed every filter and their raw weights. A later request of the same
shape re-asks the filters and weighers only about the slots logged since, so its cost
follows what changed, not the number of nodes. When a plugin declares nothing, every
request builds its entry afresh (a full pass, as Nova does).

A request for a server group (``spec.instance_group`` set) changes as it is placed:
each host chosen joins the group's ``hosts``, which the server group filters and
weighers read, so the next instance of the request sees the earlier ones (Nova does
the same). Such a request keeps no verdicts: each of its instances is filtered and
weighed afresh, and on NoValidHost the group's hosts are restored with the nodes.

Everything here runs under the scheduler manager's lock and never blocks.
"""

from __future__ import annotations

import bisect
import collections
import heapq
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

from nubis.core import exception
from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import normalize

MAX_SHAPES = 64
"""Request shapes whose verdicts are kept (least recently used dropped first)."""

_STATE_SLOTS = HostState.__slots__


class Verdicts:
    """The slots that passed every filter for one request shape, in slot order, with
    one list of raw weights per weigher aligned with them."""

    __slots__ = ("epoch", "synced", "slots", "states", "raw", "alike")

    def __init__(self, epoch: int, synced: int) -> None:
        self.epoch = epoch
        self.synced = synced  # log position up to which these verdicts are current
        self.slots: list[int] = []
        self.states: list[HostState] = []
        self.raw: list[list[float]] = []
        # Per weigher, whether it weighs every slot alike (then it decides nothing):
        # set when built, cleared for good once a synced weight differs.
        self.alike: list[bool] = []


class HostIndex:
    """The host states in slot order, the change log, and the verdicts per shape."""

    def __init__(self) -> None:
        self.epoch = 0
        self.hosts: list[HostState] = []
        self.slot_of: dict[int, int] = {}  # id(state) -> slot
        self.slots_by_host: dict[str, list[int]] = {}
        self.log: list[int] = []
        self.shapes: collections.OrderedDict[Any, Verdicts] = collections.OrderedDict()

    def reset(self, hosts: list[HostState]) -> None:
        """Take *hosts* as the new slot order; every kept verdict is dropped."""
        self.hosts = hosts
        self.slot_of = {id(state): slot for slot, state in enumerate(hosts)}
        by_host: dict[str, list[int]] = {}
        for slot, state in enumerate(hosts):
            by_host.setdefault(state.host, []).append(slot)
        self.slots_by_host = by_host
        self.invalidate()

    def invalidate(self) -> None:
        """Drop every kept verdict (they are rebuilt at the next request)."""
        self.epoch += 1
        self.log = []
        self.shapes.clear()

    def changed(self, slot: int) -> None:
        """Note that the state in *slot* changed; its verdicts must be asked again."""
        self.log.append(slot)
        if len(self.log) > max(1024, len(self.hosts)):
            self.invalidate()  # cheaper to rebuild than to replay


class Chooser:
    """Places the instances of one request (lock held)."""

    def __init__(
        self,
        index: HostIndex,
        filters: Sequence[Any],
        weighers: Sequence[Any],
        shape_fields: tuple[str, ...] | None,
        subset_size: int,
    ) -> None:
        self.index = index
        self.filters = filters
        self.weighers = weighers
        self.shape_fields = shape_fields
        self.subset_size = subset_size

    def place(self, spec: Any, ignore: set[str], num: int) -> list[HostState]:
        """Choose and consume a node for each of *num* instances of *spec*; on
        NoValidHost, undo what this request consumed."""
        index = self.index
        if not index.hosts:
            raise exception.NoValidHost(reason="there are no compute nodes")
        multipliers = [weigher.multiplier for weigher in self.weighers]
        group = group_of(spec)
        shape = None if group is not None else self._shape(spec)
        group_hosts = list(group.hosts) if group is not None else []
        chosen: list[HostState] = []
        saved: list[tuple[int, tuple[Any, ...]]] = []
        verdicts: Verdicts | None = None
        try:
            for number in range(num):
                verdicts = self._verdicts(shape, spec, None if group is not None else verdicts)
                position = self._pick(verdicts, ignore, multipliers)
                if position is None:
                    suffix = f" for instance {number + 1} of {num}" if num > 1 else ""
                    raise self._no_valid_host(spec, ignore, suffix)
                slot, state = verdicts.slots[position], verdicts.states[position]
                saved.append((slot, tuple(getattr(state, name) for name in _STATE_SLOTS)))
                state.consume(spec)
                index.changed(slot)
                chosen.append(state)
                if group is not None:
                    group.hosts = sorted([*group.hosts, state.host])
        except BaseException:
            for slot, values in reversed(saved):
                state = index.hosts[slot]
                for name, value in zip(_STATE_SLOTS, values, strict=True):
                    setattr(state, name, value)
                index.changed(slot)
            if group is not None:
                group.hosts = group_hosts
            raise
        return chosen

    # --- verdicts ------------------------------------------------------------------

    def _shape(self, spec: Any) -> Any:
        if self.shape_fields is None:
            return None
        return tuple(_hashable(getattr(spec, name)) for name in self.shape_fields)

    def _verdicts(self, shape: Any, spec: Any, previous: Verdicts | None) -> Verdicts:
        """The verdicts for *shape* (for this request alone when *shape* is None, then
        *previous* are this request's verdicts so far), current with the change log."""
        index = self.index
        if shape is None:
            verdicts = previous
        else:
            verdicts = index.shapes.get(shape)
            if verdicts is not None:
                index.shapes.move_to_end(shape)
        behind = len(index.log) - verdicts.synced if verdicts is not None else 0
        if (
            verdicts is None
            or verdicts.epoch != index.epoch
            or behind > max(64, len(index.hosts) // 8)  # a full pass is cheaper
        ):
            verdicts = self._build(spec)
            if shape is not None:
                index.shapes[shape] = verdicts
                if len(index.shapes) > MAX_SHAPES:
                    index.shapes.popitem(last=False)
        elif behind:
            self._sync(verdicts, spec, set(index.log[verdicts.synced :]))
            verdicts.synced = len(index.log)
        return verdicts

    def _build(self, spec: Any) -> Verdicts:
        index = self.index
        verdicts = Verdicts(index.epoch, len(index.log))
        passed: list[HostState] = index.hosts
        for host_filter in self.filters:
            passed = list(host_filter.filter_all(passed, spec))
            if not passed:
                break
        slot_of = index.slot_of
        slots = [slot_of[id(state)] for state in passed]
        if slots != sorted(slots):  # a filter_all that did not keep the order
            passed = [index.hosts[slot] for slot in sorted(slots)]
            slots.sort()
        verdicts.slots = slots
        verdicts.states = list(passed)
        verdicts.raw = [list(w.weigh_all(passed, spec)) for w in self.weighers]
        verdicts.alike = [not raw or min(raw) == max(raw) for raw in verdicts.raw]
        return verdicts

    def _sync(self, verdicts: Verdicts, spec: Any, slots: Iterable[int]) -> None:
        hosts = self.index.hosts
        for slot in slots:
            state = hosts[slot]
            passes = all(f.host_passes(state, spec) for f in self.filters)
            position = bisect.bisect_left(verdicts.slots, slot)
            present = position < len(verdicts.slots) and verdicts.slots[position] == slot
            if passes:
                weights = [w.weigh(state, spec) for w in self.weighers]
                _note_alike(verdicts, weights, position, present)
                if present:
                    for raw, weight in zip(verdicts.raw, weights, strict=True):
                        raw[position] = weight
                else:
                    verdicts.slots.insert(position, slot)
                    verdicts.states.insert(position, state)
                    for raw, weight in zip(verdicts.raw, weights, strict=True):
                        raw.insert(position, weight)
            elif present:
                del verdicts.slots[position]
                del verdicts.states[position]
                for raw in verdicts.raw:
                    del raw[position]

    # --- choosing ------------------------------------------------------------------

    def _pick(self, verdicts: Verdicts, ignore: set[str], multipliers: list[float]) -> int | None:
        """Position (in *verdicts*) of the chosen node, None when none is eligible.

        The best total weight wins, the lowest slot among equals; with
        ``host_subset_size`` above 1, one of that many best at random.
        """
        count = len(verdicts.slots)
        excluded = self._ignored_positions(verdicts, ignore)
        if count - len(excluded) <= 0:
            return None
        raw = verdicts.raw
        if len(raw) > 1:
            # A weigher that weighs every node alike adds nothing after normalising
            # (the server group weighers, for requests without a group): leave it out,
            # so one weigher that remains takes the quick way below.
            varying = [
                (weights, multiplier)
                for weights, multiplier, alike in zip(raw, multipliers, verdicts.alike, strict=True)
                if multiplier and not alike
            ]
            raw = [weights for weights, _multiplier in varying]
            multipliers = [multiplier for _weights, multiplier in varying]
        if self.subset_size <= 1 and len(raw) <= 1:
            multiplier = multipliers[0] if raw else 0.0
            if multiplier == 0:
                return next(p for p in range(count) if p not in excluded)
            # One weigher: normalising is monotonic, so its raw weights rank the same.
            weights = raw[0]
            if excluded:
                weights = list(weights)
                for position in excluded:
                    weights[position] = -math.inf if multiplier > 0 else math.inf
            best = max(weights) if multiplier > 0 else min(weights)
            return weights.index(best)
        eligible = [p for p in range(count) if p not in excluded]
        totals = [0.0] * len(eligible)
        for weights, multiplier in zip(raw, multipliers, strict=True):
            if multiplier:
                values = normalize([weights[p] for p in eligible])
                for i, value in enumerate(values):
                    totals[i] += multiplier * value
        if self.subset_size <= 1:
            return eligible[max(range(len(eligible)), key=totals.__getitem__)]
        top = heapq.nlargest(
            min(self.subset_size, len(eligible)), range(len(eligible)), key=totals.__getitem__
        )
        return eligible[random.choice(top)]

    def _ignored_positions(self, verdicts: Verdicts, ignore: set[str]) -> set[int]:
        positions: set[int] = set()
        for host in ignore:
            for slot in self.index.slots_by_host.get(host, ()):
                position = bisect.bisect_left(verdicts.slots, slot)
                if position < len(verdicts.slots) and verdicts.slots[position] == slot:
                    positions.add(position)
        return positions

    # --- explaining ----------------------------------------------------------------

    def _no_valid_host(self, spec: Any, ignore: set[str], suffix: str) -> Exception:
        """The NoValidHost for a request nothing is left for: a full pass over the
        candidates to name the filter that eliminated the last of them."""
        hosts = self.index.hosts
        candidates = [h for h in hosts if h.host not in ignore]
        if not candidates:
            return exception.NoValidHost(
                reason=f"every compute node ({_count(len(hosts))}) is on a host the request "
                f"ignores ({', '.join(sorted(ignore))})"
            )
        for host_filter in self.filters:
            passed = list(host_filter.filter_all(candidates, spec))
            if not passed:
                return exception.NoValidHost(
                    reason=f"{host_filter.name} eliminated the last {_count(len(candidates))}"
                    f"{suffix} (request: {describe(spec)})"
                )
            candidates = passed
        # The kept verdicts and a fresh pass disagree: a filter or weigher declared
        # spec_fields but reads something else.
        return exception.NoValidHost(
            reason=f"the filters' kept verdicts disagree with a fresh pass{suffix} "
            f"(request: {describe(spec)}); a filter's spec_fields are wrong"
        )


def _note_alike(verdicts: Verdicts, weights: list[float], position: int, present: bool) -> None:
    """Clear ``alike`` of each weigher whose new weight (at *position*, replacing the
    one there when *present*) differs from the others' (all equal while it is set)."""
    for number, (raw, weight) in enumerate(zip(verdicts.raw, weights, strict=True)):
        if not verdicts.alike[number]:
            continue
        other = 1 if present and position == 0 else 0  # a weight that stays
        if other < len(raw) and raw[other] != weight:
            verdicts.alike[number] = False


def describe(spec: Any) -> str:
    """The request as NoValidHost states it: '2048 MB RAM, 2 vCPUs, 20 GB disk'."""
    text = (
        f"{spec.memory_mb} MB RAM, {spec.vcpus} vCPU{'' if spec.vcpus == 1 else 's'}, "
        f"{spec.root_gb + spec.ephemeral_gb} GB disk"
    )
    if spec.hypervisor_type is not None:
        text += f", hypervisor {spec.hypervisor_type}"
        if spec.min_hypervisor_version is not None:
            text += f" version {spec.min_hypervisor_version} or newer"
    group = group_of(spec)
    if group is not None:
        placed = ", ".join(group.hosts) or "none yet"
        text += f", server group {group.uuid} ({group.policy}; its hosts: {placed})"
    return text


def group_of(spec: Any) -> Any:
    """The request's server group (None: none, or a spec older than 1.1)."""
    if not spec.obj_attr_is_set("instance_group"):
        return None
    return spec.instance_group


def shape_fields(plugins: Iterable[Any]) -> tuple[str, ...] | None:
    """The union of the plugins' ``spec_fields``, None when one of them declares none."""
    fields: set[str] = set()
    for plugin in plugins:
        declared = getattr(plugin, "spec_fields", None)
        if declared is None:
            return None
        fields.update(declared)
    return tuple(sorted(fields))


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(map(_hashable, value))
    if isinstance(value, set | frozenset):
        return tuple(sorted(map(_hashable, value), key=repr))
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _count(hosts: int) -> str:
    return f"{hosts} host" if hosts == 1 else f"{hosts} hosts"
