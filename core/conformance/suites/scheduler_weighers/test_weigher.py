"""The weigher contract (nubis.core.scheduler.weighers.BaseHostWeigher)."""

from __future__ import annotations

import concurrent.futures
import math
import numbers
import time
from typing import Any

from nubis.core.conformance.suites.scheduler_common import (
    describe,
    hosts,
    snapshot_host,
    snapshot_spec,
    specs,
)
from nubis.core.scheduler.weighers import normalize

CALL_BOUND = 1.0  # "must not block" (see the filter suite)


def _weights(weigher: Any, population: list[Any], requests: list[Any]) -> list[float]:
    return [weigher.weigh(h, s) for s in requests for h in population]


def test_weigher_gives_every_host_a_finite_number(nubis_weigher: Any) -> None:
    for spec in specs():
        for host in hosts():
            began = time.monotonic()
            weight = nubis_weigher.weigh(host, spec)
            took = time.monotonic() - began
            assert isinstance(weight, numbers.Real) and not isinstance(weight, bool), (
                f"weigh returned {weight!r} ({type(weight).__name__}) for {describe(host, spec)}"
            )
            assert math.isfinite(weight), f"weigh returned {weight} for {describe(host, spec)}"
            assert took < CALL_BOUND, f"weigh blocked {took:.2f}s on {describe(host, spec)}"


def test_weigher_changes_neither_host_nor_spec(nubis_weigher: Any) -> None:
    population, requests = hosts(), specs()
    before_hosts = [snapshot_host(h) for h in population]
    before_specs = [snapshot_spec(s) for s in requests]
    _weights(nubis_weigher, population, requests)
    assert [snapshot_host(h) for h in population] == before_hosts
    assert [snapshot_spec(s) for s in requests] == before_specs


def test_weigher_weights_repeat(nubis_weigher: Any, nubis_target: Any, nubis_conf: Any) -> None:
    first = _weights(nubis_weigher, hosts(), specs())
    assert _weights(nubis_weigher, hosts(), specs()) == first
    fresh = nubis_target.plugin(nubis_conf)
    assert _weights(fresh, hosts(), specs()) == first, "a second instance weighs differently"


def test_weigher_is_safe_from_several_threads(nubis_weigher: Any) -> None:
    population, requests = hosts(), specs()
    expected = _weights(nubis_weigher, population, requests)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_weights, nubis_weigher, population, requests) for _ in range(16)]
        results = [f.result(timeout=30) for f in futures]
    assert all(r == expected for r in results), "weights differ between threads"


def test_weigher_multiplier_and_name(nubis_weigher: Any) -> None:
    multiplier = nubis_weigher.multiplier
    assert isinstance(multiplier, numbers.Real) and not isinstance(multiplier, bool)
    assert math.isfinite(multiplier)
    assert isinstance(nubis_weigher.name, str) and nubis_weigher.name


def test_weigher_weights_normalise(nubis_weigher: Any) -> None:
    for spec in specs():
        scaled = normalize([nubis_weigher.weigh(h, spec) for h in hosts()])
        assert all(0.0 <= w <= 1.0 for w in scaled), scaled
