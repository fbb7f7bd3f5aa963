"""The filter contract (nubis.core.scheduler.filters.BaseHostFilter)."""

from __future__ import annotations

import concurrent.futures
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

#: "Must not block": far above any honest in-memory check, far below any network wait.
CALL_BOUND = 1.0


def _answers(flt: Any, population: list[Any], requests: list[Any]) -> list[bool]:
    return [flt.host_passes(h, s) for s in requests for h in population]


def test_filter_answers_every_host_with_a_bool(nubis_filter: Any) -> None:
    for spec in specs():
        for host in hosts():
            began = time.monotonic()
            answer = nubis_filter.host_passes(host, spec)
            took = time.monotonic() - began
            assert type(answer) is bool, (
                f"host_passes returned {answer!r} ({type(answer).__name__}), not a bool, "
                f"for {describe(host, spec)}"
            )
            assert took < CALL_BOUND, f"host_passes blocked {took:.2f}s on {describe(host, spec)}"


def test_filter_changes_neither_host_nor_spec(nubis_filter: Any) -> None:
    population, requests = hosts(), specs()
    before_hosts = [snapshot_host(h) for h in population]
    before_specs = [snapshot_spec(s) for s in requests]
    _answers(nubis_filter, population, requests)
    for spec in requests:
        list(nubis_filter.filter_all(population, spec))
    changed = changes(
        before_hosts, [snapshot_host(h) for h in population], [h.host for h in population]
    )
    assert not changed, f"the filter changed the host states it was given: {changed}"
    changed = changes(
        before_specs, [snapshot_spec(s) for s in requests], [describe_spec(s) for s in requests]
    )
    assert not changed, f"the filter changed the request specs it was given: {changed}"


def test_filter_answers_repeat(nubis_filter: Any, nubis_target: Any, nubis_conf: Any) -> None:
    population, requests = hosts(), specs()
    first = _answers(nubis_filter, population, requests)
    again = _answers(nubis_filter, population, requests)
    assert again == first, (
        f"asked twice, the filter answers differently: "
        f"{first_difference(first, again, population, requests)}"
    )
    fresh = nubis_target.plugin(nubis_conf)
    other = _answers(fresh, hosts(), specs())
    assert other == first, (
        f"a second instance answers differently: "
        f"{first_difference(first, other, population, requests)}"
    )


def test_filter_all_agrees_with_host_passes(nubis_filter: Any) -> None:
    for spec in specs():
        population = hosts()
        expected = [h for h in population if nubis_filter.host_passes(h, spec)]
        got = list(nubis_filter.filter_all(population, spec))
        assert [id(h) for h in got] == [id(h) for h in expected], (
            f"filter_all kept {[h.host for h in got]}, host_passes passes "
            f"{[h.host for h in expected]} for {describe_spec(spec)}"
        )
        # Any iterable of hosts, consumed once.
        once = [h.host for h in nubis_filter.filter_all(iter(population), spec)]
        assert once == [h.host for h in expected], (
            f"filter_all over an iterator: expected {[h.host for h in expected]}, observed "
            f"{once} for {describe_spec(spec)}"
        )
        empty = list(nubis_filter.filter_all([], spec))
        assert empty == [], f"filter_all of no hosts: expected [], observed {empty}"


def test_filter_is_safe_from_several_threads(nubis_filter: Any) -> None:
    population, requests = hosts(), specs()
    expected = _answers(nubis_filter, population, requests)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_answers, nubis_filter, population, requests) for _ in range(16)]
        results = [f.result(timeout=30) for f in futures]
    differ = [r for r in results if r != expected]
    assert not differ, (
        f"{len(differ)} of {len(results)} threads got other answers than one thread alone: "
        f"{first_difference(expected, differ[0], population, requests)}"
    )


def test_filter_describes_itself(nubis_filter: Any) -> None:
    name, once = nubis_filter.name, nubis_filter.run_filter_once_per_request
    assert isinstance(name, str) and name, f"name: expected a non-empty str, observed {name!r}"
    assert type(once) is bool, f"run_filter_once_per_request: expected a bool, observed {once!r}"
