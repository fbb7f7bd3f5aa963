"""The default weigher plugin and the weigher contract's normalisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nubis.core import objects, plugins
from nubis.core.conf import CONF
from nubis.core.scheduler.host_state import HostState
from nubis.core.scheduler.weighers import BaseHostWeigher, normalize

objects.register_all()


def ram_weigher() -> BaseHostWeigher:
    [cls] = plugins.load_many("nubis.scheduler.weighers", ["ram"])
    weigher: BaseHostWeigher = cls(CONF)
    return weigher


def test_ram_weigher_weighs_free_ram() -> None:
    weigher = ram_weigher()
    assert weigher.name == "RamWeigher"
    spec = objects.RequestSpec(memory_mb=512)
    hosts = []
    for free in (1024, 4096, -256):
        state = HostState("h", "n")
        state.memory_mb, state.free_ram_mb = 4096, free
        hosts.append(state)
    assert [weigher.weigh(h, spec) for h in hosts] == [1024.0, 4096.0, -256.0]


def test_ram_weigher_multiplier_comes_from_configuration(flags: Callable[..., None]) -> None:
    weigher = ram_weigher()
    assert weigher.multiplier == 1.0
    flags(group="scheduler", ram_weight_multiplier=-2.5)
    assert weigher.multiplier == -2.5  # read at every request: SIGHUP applies it


def test_normalize_scales_min_max() -> None:
    assert normalize([]) == []
    assert normalize([5.0, 5.0]) == [0.0, 0.0]
    assert normalize([10.0, 20.0, 15.0]) == [0.0, 1.0, 0.5]
    assert normalize([-4.0, 0.0]) == [0.0, 1.0]


def test_weigher_contract_is_checked_at_load() -> None:
    from nubis.core import exception

    class NoWeigh(BaseHostWeigher):
        pass

    class Fine(BaseHostWeigher):
        def weigh(self, host_state: HostState, spec: Any) -> float:
            return 0.0

    problems = plugins.contract_problems(plugins.namespace("nubis.scheduler.weighers"), NoWeigh)
    assert problems == ["weigh() is still abstract"]
    assert plugins.contract_problems(plugins.namespace("nubis.scheduler.weighers"), Fine) == []
    try:
        plugins.check("nubis.scheduler.weighers", "noweigh", NoWeigh)
    except exception.PluginContractViolation as err:
        assert "weigh() is still abstract" in str(err)
    else:
        raise AssertionError("a weigher without weigh() passed the contract check")
