"""The [scheduler] options and the start-up check of the plugin names they list."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nubis.core import exception
from nubis.core.conf import CONF, check


def test_defaults() -> None:
    group = CONF.scheduler
    assert group.enabled_filters == [
        "compute",
        "ram",
        "vcpu",
        "disk",
        "hypervisor_type",
        "server_group_affinity",
        "server_group_anti_affinity",
    ]
    assert group.weighers == [
        "ram",
        "server_group_soft_affinity",
        "server_group_soft_anti_affinity",
    ]
    assert group.ram_weight_multiplier == 1.0
    assert group.soft_affinity_weight_multiplier == 1.0
    assert group.soft_anti_affinity_weight_multiplier == 1.0
    assert group.host_state_refresh_interval == 1.0
    assert group.host_subset_size == 1
    assert group.max_attempts == 3


def test_the_check_accepts_the_defaults(flags: Callable[..., None]) -> None:
    flags(transport_url="inproc://")
    check.check(CONF, ["scheduler"])


@pytest.mark.parametrize(
    "option, value, namespace",
    [
        ("enabled_filters", ["compute", "numa"], "nubis.scheduler.filters"),
        ("weighers", ["ram", "io"], "nubis.scheduler.weighers"),
    ],
)
def test_the_check_names_an_unknown_plugin_and_its_option(
    flags: Callable[..., None], option: str, value: list[str], namespace: str
) -> None:
    flags(transport_url="inproc://")
    flags(group="scheduler", **{option: value})
    with pytest.raises(exception.PluginNotFound) as err:
        check.check(CONF, ["scheduler"])
    assert f"in {namespace} (chosen by [scheduler] {option}); available: " in str(err.value)
    check.check(CONF, ["conductor"])  # only a scheduler loads them


@pytest.mark.parametrize("option", ["host_subset_size", "max_attempts"])
def test_counts_below_one_are_refused(flags: Callable[..., None], option: str) -> None:
    with pytest.raises(ValueError):
        flags(group="scheduler", **{option: 0})
