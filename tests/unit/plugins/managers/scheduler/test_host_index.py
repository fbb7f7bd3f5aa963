"""The scheduler's choice with kept verdicts must be the choice of a full pass.

Two HostIndex/Chooser pairs over identical host states see the same random sequence
of requests (several shapes, ignore lists, multi-instance), node reports and liveness
changes: one keeps verdicts per request shape (the default plugins declare their
spec_fields), the other filters every node on every request. Their choices, their
NoValidHost messages and the resulting host states must be identical.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from nubis.core import exception, objects, plugins
from nubis.core.conf import CONF
from nubis.core.scheduler.host_state import HostState
from nubis.plugins.managers.scheduler import host_index

objects.register_all()

FILTERS = ["compute", "ram", "vcpu", "disk", "hypervisor_type"]


def load(namespace: str, names: list[str]) -> list[Any]:
    return [cls(CONF) for cls in plugins.load_many(namespace, names)]


def make_hosts(rng: random.Random, count: int) -> list[HostState]:
    hosts = []
    for i in range(count):
        state = HostState(f"h{i % (count - 3)}", f"n{i}")  # a few hosts have two nodes
        state.memory_mb = rng.choice((4096, 8192, 16384))
        state.free_ram_mb = rng.randrange(-1024, state.memory_mb + 1, 512)
        state.memory_mb_used = state.memory_mb - state.free_ram_mb
        state.vcpus = rng.choice((4, 8))
        state.vcpus_used = rng.randrange(0, 10)
        state.local_gb = 100
        state.free_disk_gb = rng.randrange(0, 101, 10)
        state.disk_available_least = rng.choice((None, state.free_disk_gb - 10))
        state.ram_allocation_ratio = rng.choice((1.0, 1.5))
        state.hypervisor_type = rng.choice(("QEMU", "fake"))
        state.hypervisor_version = rng.choice((6000000, 7002000))
        state.service_up = rng.random() > 0.1
        state.service_disabled = rng.random() < 0.1
        hosts.append(state)
    return hosts


def request(rng: random.Random) -> Any:
    shapes = [
        dict(memory_mb=512, vcpus=1, root_gb=10),
        dict(memory_mb=2048, vcpus=2, root_gb=20),
        dict(memory_mb=4096, vcpus=4, root_gb=40, ephemeral_gb=10),
        dict(
            memory_mb=1024,
            vcpus=1,
            root_gb=10,
            hypervisor_type="qemu",
            min_hypervisor_version=7000000,
        ),
    ]
    spec = objects.RequestSpec(**rng.choice(shapes))
    spec.obj_set_defaults()
    return spec


def outcome(chooser: host_index.Chooser, spec: Any, ignore: set[str], num: int) -> Any:
    try:
        return [(h.host, h.nodename) for h in chooser.place(spec, ignore, num)]
    except exception.NoValidHost as err:
        return str(err)


def snapshot(hosts: list[HostState]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(h, name) for name in HostState.__slots__) for h in hosts]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "weighers, multiplier, subset",
    [
        (["ram"], 1.0, 1),
        (["ram"], -1.0, 1),
        ([], 1.0, 1),
        (["ram", "ram"], 1.0, 1),
    ],
)
def test_kept_verdicts_choose_as_a_full_pass_does(
    seed: int, weighers: list[str], multiplier: float, subset: int, flags: Any
) -> None:
    flags(group="scheduler", ram_weight_multiplier=multiplier)
    rng = random.Random(seed)
    hosts = make_hosts(rng, 40)
    filters = load("nubis.scheduler.filters", FILTERS)
    weigher_objs = load("nubis.scheduler.weighers", weighers)
    fields = host_index.shape_fields([*filters, *weigher_objs])
    assert fields is not None
    kept, full = host_index.HostIndex(), host_index.HostIndex()
    kept.reset(hosts)
    full.reset(copy.deepcopy(hosts))
    kept_chooser = host_index.Chooser(kept, filters, weigher_objs, fields, subset)
    full_chooser = host_index.Chooser(full, filters, weigher_objs, None, subset)
    reuse = 0
    for step in range(800):
        action = rng.random()
        if action < 0.75:
            spec = request(rng)
            ignore = set(rng.sample([h.host for h in hosts], rng.choice((0, 0, 1, 3))))
            num = rng.choice((1, 1, 1, 2, 4))
            shape = kept_chooser._shape(spec)
            reuse += shape in kept.shapes and kept.shapes[shape].epoch == kept.epoch
            assert outcome(kept_chooser, spec, ignore, num) == outcome(
                full_chooser, spec, ignore, num
            ), f"step {step}"
        elif action < 0.95:  # a node reports, or its liveness changes
            slot = rng.randrange(len(hosts))
            report = make_hosts(rng, 4)[0]
            resources = rng.random() < 0.5
            for index in (kept, full):
                state = index.hosts[slot]
                if resources:
                    for name in ("memory_mb", "free_ram_mb", "vcpus_used", "free_disk_gb"):
                        setattr(state, name, getattr(report, name))
                else:
                    state.service_disabled = not state.service_disabled
                index.changed(slot)
        else:  # membership changes: everything is rebuilt
            kept.reset(list(kept.hosts))
            full.reset(list(full.hosts))
        assert snapshot(kept.hosts) == snapshot(full.hosts), f"step {step}"
    assert reuse > 150  # the kept verdicts were really used


def test_a_plugin_that_declares_nothing_turns_keeping_off() -> None:
    filters = load("nubis.scheduler.filters", FILTERS)
    weighers = load("nubis.scheduler.weighers", ["ram"])
    assert host_index.shape_fields([*filters, *weighers]) == (
        "ephemeral_gb",
        "hypervisor_type",
        "memory_mb",
        "min_hypervisor_version",
        "root_gb",
        "vcpus",
    )

    class Undeclared(type(filters[0])):  # type: ignore[misc]
        spec_fields = None

    assert host_index.shape_fields([*filters, Undeclared(CONF), *weighers]) is None


def test_list_fields_make_hashable_shapes() -> None:
    assert host_index._hashable(["b", "a"]) == ("b", "a")
    assert host_index._hashable({"b", "a"}) == ("a", "b")
    assert host_index._hashable({"k": [1]}) == (("k", (1,)),)


def test_the_change_log_is_bounded() -> None:
    index = host_index.HostIndex()
    index.reset([HostState(f"h{i}", f"n{i}") for i in range(10)])
    index.shapes["shape"] = host_index.Verdicts(index.epoch, 0)
    epoch = index.epoch
    for _ in range(1024):
        index.changed(3)
    assert (index.epoch, len(index.log), len(index.shapes)) == (epoch, 1024, 1)
    index.changed(3)
    assert (index.epoch, index.log, len(index.shapes)) == (epoch + 1, [], 0)


def test_a_filter_all_that_reorders_does_not_change_the_choice() -> None:
    rng = random.Random(7)
    hosts = make_hosts(rng, 30)
    filters = load("nubis.scheduler.filters", FILTERS)
    weighers = load("nubis.scheduler.weighers", ["ram"])

    class Reversing(type(filters[1])):  # type: ignore[misc]
        def filter_all(self, hosts: Any, spec: Any) -> Any:
            return reversed(list(super().filter_all(hosts, spec)))

    spec = objects.RequestSpec(memory_mb=512, vcpus=1, root_gb=10)
    spec.obj_set_defaults()
    choices = []
    for chosen_filters in (filters, [filters[0], Reversing(CONF), *filters[2:]]):
        index = host_index.HostIndex()
        index.reset(copy.deepcopy(hosts))
        chooser = host_index.Chooser(index, chosen_filters, weighers, ("memory_mb",), 1)
        choices.append(outcome(chooser, spec, set(), 3))
        [verdicts] = index.shapes.values()
        assert verdicts.slots == sorted(verdicts.slots)
    assert choices[0] == choices[1] and isinstance(choices[0], list)


# --- server groups -----------------------------------------------------------------


GROUP_FILTERS = [*FILTERS, "server_group_affinity", "server_group_anti_affinity"]
GROUP_WEIGHERS = ["ram", "server_group_soft_affinity", "server_group_soft_anti_affinity"]


def group_chooser(hosts: list[HostState]) -> host_index.Chooser:
    filters = load("nubis.scheduler.filters", GROUP_FILTERS)
    weighers = load("nubis.scheduler.weighers", GROUP_WEIGHERS)
    index = host_index.HostIndex()
    index.reset(hosts)
    return host_index.Chooser(index, filters, weighers, host_index.shape_fields(filters), 1)


def even_hosts(*names: str) -> list[HostState]:
    hosts = []
    for name in names:
        state = HostState(name, name)
        state.memory_mb = state.free_ram_mb = 8192
        state.vcpus, state.local_gb, state.free_disk_gb = 8, 100, 100
        hosts.append(state)
    return hosts


def group_spec(policy: str, placed: list[str] | None = None) -> Any:
    spec = objects.RequestSpec(memory_mb=512, vcpus=1, root_gb=1)
    spec.instance_group = objects.InstanceGroup(
        uuid="5a4f8f43-2c8e-4d52-8f57-0a7a3e2b9c01",
        policy=policy,
        rules={},
        members=[],
        hosts=list(placed or []),
    )
    spec.obj_set_defaults()
    return spec


def test_anti_affinity_spreads_the_instances_of_one_request() -> None:
    chooser = group_chooser(even_hosts("a", "b", "c"))
    spec = group_spec("anti-affinity", ["c"])
    assert [h.host for h in chooser.place(spec, set(), 2)] == ["a", "b"]
    assert spec.instance_group.hosts == ["a", "b", "c"]  # the next instances see them
    assert chooser.index.shapes == {}  # a group request keeps no verdicts


def test_anti_affinity_with_no_host_left_undoes_the_request() -> None:
    hosts = even_hosts("a", "b")
    chooser = group_chooser(hosts)
    before = snapshot(hosts)
    spec = group_spec("anti-affinity")
    with pytest.raises(exception.NoValidHost) as err:
        chooser.place(spec, set(), 3)
    assert "ServerGroupAntiAffinityFilter eliminated the last 2 hosts for instance 3 of 3" in str(
        err.value
    )
    assert "server group 5a4f8f43-2c8e-4d52-8f57-0a7a3e2b9c01 (anti-affinity; its hosts: a, b)" in (
        str(err.value)
    )
    assert snapshot(hosts) == before and spec.instance_group.hosts == []


def test_affinity_keeps_the_instances_of_one_request_together() -> None:
    chooser = group_chooser(even_hosts("a", "b", "c"))
    # the first goes where the weighers say, the others follow it
    assert [h.host for h in chooser.place(group_spec("affinity"), set(), 3)] == ["a"] * 3
    assert [h.host for h in chooser.place(group_spec("affinity", ["c"]), set(), 2)] == ["c"] * 2
    with pytest.raises(exception.NoValidHost, match="ServerGroupAffinityFilter eliminated"):
        chooser.place(group_spec("affinity", ["c"]), {"c"}, 1)


def test_soft_policies_weigh_against_the_ram_weigher(flags: Any) -> None:
    chooser = group_chooser(even_hosts("a", "b", "c"))
    # soft-anti-affinity and the ram weigher agree: one instance per host
    chosen = chooser.place(group_spec("soft-anti-affinity"), set(), 3)
    assert sorted(h.host for h in chosen) == ["a", "b", "c"]
    # soft-affinity weighs as much as spreading by RAM (Nova's 1.0); above it, it wins
    flags(group="scheduler", soft_affinity_weight_multiplier=2.0)
    chosen = chooser.place(group_spec("soft-affinity", ["b"]), set(), 3)
    assert [h.host for h in chosen] == ["b"] * 3
    # and it yields where a host cannot take more
    chooser.index.hosts[1].free_ram_mb = 256
    assert [h.host for h in chooser.place(group_spec("soft-affinity", ["b"]), set(), 1)] == ["a"]


@pytest.mark.parametrize("seed", range(3))
def test_weighers_that_weigh_every_node_alike_change_no_choice(seed: int) -> None:
    """Without a group the server group weighers weigh 0 everywhere: the scheduler
    leaves them out, and chooses exactly as with the ram weigher alone."""
    rng = random.Random(seed)
    hosts = make_hosts(rng, 30)
    filters = load("nubis.scheduler.filters", FILTERS)
    choosers = []
    for names in (["ram"], GROUP_WEIGHERS):
        index = host_index.HostIndex()
        index.reset(copy.deepcopy(hosts))
        weighers = load("nubis.scheduler.weighers", names)
        fields = host_index.shape_fields([*filters, *weighers])
        choosers.append(host_index.Chooser(index, filters, weighers, fields, 1))
    for step in range(300):
        spec = request(rng)
        ignore = set(rng.sample([h.host for h in hosts], rng.choice((0, 1, 3))))
        num = rng.choice((1, 2, 4))
        first, second = (outcome(chooser, spec, ignore, num) for chooser in choosers)
        assert first == second, f"step {step}"
