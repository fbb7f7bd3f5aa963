"""The weigher contract (nubis.core.scheduler.weighers.BaseHostWeigher)."""

from __future__ import annotations

import concurrent.futures
import math
import numbers
import time
from typing import Any

from nubis.core.conformance.suites.scheduler_common import (
    changes,
    describe,
    describe_spec,
    first_difference,
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
                f"weigh: expected a real number, observed {weight!r} "
                f"({type(weight).__name__}) for {describe(host, spec)}"
            )
            assert math.isfinite(weight), (
                f"weigh: expected a finite number, observed {weight} for {describe(host, spec)}"
            )
            assert took < CALL_BOUND, f"weigh blocked {took:.2f}s on {describe(host, spec)}"


def test_weigher_changes_neither_host_nor_spec(nubis_weigher: Any) -> None:
    population, requests = hosts(), specs()
    before_hosts = [snapshot_host(h) for h in population]
    before_specs = [snapshot_spec(s) for s in requests]
    _weights(nubis_weigher, population, requests)
    changed = changes(
        before_hosts, [snapshot_host(h) for h in population], [h.host for h in population]
    )
    assert not changed, f"the weigher changed the host states it was given: {changed}"
    changed = changes(
        before_specs, [snapshot_spec(s) for s in requests], [describe_spec(s) for s in requests]
    )
    assert not changed, f"the weigher changed the request specs it was given: {changed}"


def test_weigher_weights_repeat(nubis_weigher: Any, nubis_target: Any, nubis_conf: Any) -> None:
    population, requests = hosts(), specs()
    first = _weights(nubis_weigher, population, requests)
    again = _weights(nubis_weigher, hosts(), specs())
    assert again == first, (
        f"asked twice, the weigher weighs differently: "
        f"{first_difference(first, again, population, requests)}"
    )
    fresh = nubis_target.plugin(nubis_conf)
    other = _weights(fresh, hosts(), specs())
    assert other == first, (
        f"a second instance weighs differently: "
        f"{first_difference(first, other, population, requests)}"
    )


def test_weigh_all_agrees_with_weigh(nubis_weigher: Any) -> None:
    for spec in specs():
        population = hosts()
        expected = [nubis_weigher.weigh(h, spec) for h in population]
        got = list(nubis_weigher.weigh_all(population, spec))
        assert got == expected, (
            f"weigh_all weighs {got}, weigh {expected} for {describe_spec(spec)}"
        )
        empty = list(nubis_weigher.weigh_all([], spec))
        assert empty == [], f"weigh_all of no hosts: expected [], observed {empty}"


def test_weigher_is_safe_from_several_threads(nubis_weigher: Any) -> None:
    population, requests = hosts(), specs()
    expected = _weights(nubis_weigher, population, requests)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_weights, nubis_weigher, population, requests) for _ in range(16)]
        results = [f.result(timeout=30) for f in futures]
    differ = [r for r in results if r != expected]
    assert not differ, (
        f"{len(differ)} of {len(results)} threads got other weights than one thread alone: "
        f"{first_difference(expected, differ[0], population, requests)}"
    )


def test_weigher_multiplier_and_name(nubis_weigher: Any) -> None:
    multiplier = nubis_weigher.multiplier
    assert isinstance(multiplier, numbers.Real) and not isinstance(multiplier, bool), (
        f"multiplier: expected a real number, observed {multiplier!r}"
    )
    assert math.isfinite(multiplier), f"multiplier: expected a finite number, observed {multiplier}"
    name = nubis_weigher.name
    assert isinstance(name, str) and name, f"name: expected a non-empty str, observed {name!r}"


def test_weigher_weights_normalise(nubis_weigher: Any) -> None:
    for spec in specs():
        raw = [nubis_weigher.weigh(h, spec) for h in hosts()]
        scaled = normalize(raw)
        assert all(0.0 <= w <= 1.0 for w in scaled), (
            f"normalised weights: expected each in 0..1, observed {scaled} (raw {raw}) for "
            f"{describe_spec(spec)}"
        )
