"""The server group filters and weighers, loaded through their entry points as the
scheduler does: each enforces its own policy only, from the group's hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nubis.core import objects, plugins
from nubis.core.conf import CONF
from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import BaseHostWeigher
from tests.unit.plugins.scheduler.test_filters import verdicts

objects.register_all()

GROUP_UUID = "0c8a53a4-4d5b-4f7e-9a51-8f3a2d6c1b10"
POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


def load_filter(name: str) -> BaseHostFilter:
    [cls] = plugins.load_many("nubis.scheduler.filters", [name])
    host_filter: BaseHostFilter = cls(CONF)
    return host_filter


def load_weigher(name: str) -> BaseHostWeigher:
    [cls] = plugins.load_many("nubis.scheduler.weighers", [name])
    weigher: BaseHostWeigher = cls(CONF)
    return weigher


def hosts(*names: str) -> list[HostState]:
    return [HostState(name, name) for name in names]


def spec(policy: str | None, placed: tuple[str, ...] = (), **rules: int) -> Any:
    request = objects.RequestSpec(memory_mb=512, vcpus=1)
    if policy is not None:
        request.instance_group = objects.InstanceGroup(
            uuid=GROUP_UUID, policy=policy, rules=rules, members=[], hosts=list(placed)
        )
    request.obj_set_defaults()
    return request


def test_installed_under_their_names_and_declare_what_they_read() -> None:
    filters = {
        "server_group_affinity": "ServerGroupAffinityFilter",
        "server_group_anti_affinity": "ServerGroupAntiAffinityFilter",
    }
    weighers = {
        "server_group_soft_affinity": "ServerGroupSoftAffinityWeigher",
        "server_group_soft_anti_affinity": "ServerGroupSoftAntiAffinityWeigher",
    }
    for name, class_name in filters.items():
        assert load_filter(name).name == class_name
        assert load_filter(name).spec_fields == ("instance_group",)
    for name, class_name in weighers.items():
        assert load_weigher(name).name == class_name
        assert load_weigher(name).spec_fields == ("instance_group",)


def test_affinity_keeps_the_hosts_of_the_members() -> None:
    affinity = load_filter("server_group_affinity")
    nodes = hosts("a", "b", "c")
    assert verdicts(affinity, nodes, spec("affinity")) == [True, True, True]  # none placed
    assert verdicts(affinity, nodes, spec("affinity", ("b",))) == [False, True, False]
    assert verdicts(affinity, nodes, spec("affinity", ("b", "b"))) == [False, True, False]


def test_anti_affinity_keeps_the_hosts_without_members() -> None:
    anti = load_filter("server_group_anti_affinity")
    nodes = hosts("a", "b", "c")
    assert verdicts(anti, nodes, spec("anti-affinity")) == [True, True, True]
    assert verdicts(anti, nodes, spec("anti-affinity", ("a", "c"))) == [False, True, False]


def test_anti_affinity_honours_max_server_per_host() -> None:
    anti = load_filter("server_group_anti_affinity")
    nodes = hosts("a", "b")
    placed = ("a", "a", "b")
    assert verdicts(anti, nodes, spec("anti-affinity", placed, max_server_per_host=2)) == [
        False,
        True,
    ]
    assert verdicts(anti, nodes, spec("anti-affinity", placed, max_server_per_host=3)) == [
        True,
        True,
    ]


@pytest.mark.parametrize("name", ["server_group_affinity", "server_group_anti_affinity"])
def test_a_filter_passes_requests_without_its_policy(name: str) -> None:
    host_filter = load_filter(name)
    nodes = hosts("a", "b")
    assert verdicts(host_filter, nodes, spec(None)) == [True, True]
    for policy in POLICIES:
        if policy != name.removeprefix("server_group_").replace("_", "-"):
            assert verdicts(host_filter, nodes, spec(policy, ("a",))) == [True, True]
    old = objects.RequestSpec(memory_mb=512)  # a 1.0 spec has no instance_group at all
    assert verdicts(host_filter, nodes, old) == [True, True]


def test_soft_weighers_count_the_members_on_each_host() -> None:
    soft = load_weigher("server_group_soft_affinity")
    soft_anti = load_weigher("server_group_soft_anti_affinity")
    nodes = hosts("a", "b", "c")
    placed = ("a", "a", "b")
    assert [soft.weigh(h, spec("soft-affinity", placed)) for h in nodes] == [2.0, 1.0, 0.0]
    assert [soft_anti.weigh(h, spec("soft-anti-affinity", placed)) for h in nodes] == [
        -2.0,
        -1.0,
        -0.0,
    ]
    for request in (spec(None), spec("soft-anti-affinity", placed), spec("affinity", placed)):
        assert [soft.weigh(h, request) for h in nodes] == [0.0, 0.0, 0.0]
    assert [soft_anti.weigh(h, spec("soft-affinity", placed)) for h in nodes] == [0.0] * 3


def test_weigher_multipliers_come_from_configuration(flags: Callable[..., None]) -> None:
    soft = load_weigher("server_group_soft_affinity")
    soft_anti = load_weigher("server_group_soft_anti_affinity")
    assert (soft.multiplier, soft_anti.multiplier) == (1.0, 1.0)
    flags(group="scheduler", soft_affinity_weight_multiplier=3.0)
    flags(group="scheduler", soft_anti_affinity_weight_multiplier=0.5)
    assert (soft.multiplier, soft_anti.multiplier) == (3.0, 0.5)
    with pytest.raises(ValueError):
        flags(group="scheduler", soft_affinity_weight_multiplier=-1.0)
