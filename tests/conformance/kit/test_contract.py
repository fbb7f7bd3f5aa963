"""Contract checks at load: reported before any test runs, with what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nubis.core import exception, plugins
from nubis.core.conformance import suites
from tests.conformance.kit import plugins as cf
from tests.conformance.kit.conftest import load_report


@pytest.fixture
def installed(plugin_dist: Callable[..., Path], pytester: pytest.Pytester) -> None:
    plugin_dist(cf.MODULES, cf.ENTRY_POINTS)
    pytester.makeconftest(cf.CONFTEST)


def test_broken_plugin_fails_with_every_problem_before_any_test_runs(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfbroken", "--nubis-report-json=report.json", "-rs"
    )
    suite_size = len(suites.SUITES["nubis.virt"].test_names())
    result.assert_outcomes(failed=1, skipped=suite_size)
    assert result.ret == 1
    lines = result.outlines
    contract = next(i for i, line in enumerate(lines) if "CONTRACT nubis.virt:cfbroken" in line)
    first_test = next(i for i, line in enumerate(lines) if "nubis-conformance/" in line)
    assert contract < first_test, "the contract problems were not reported before the tests"
    text = lines[contract]
    for problem in (
        "destroy() is still abstract",
        "spawn() lacks parameter 'network_info'",
        "waiver for unknown test 'test_no_such_test' (no such test in its suite)",
        "waiver for 'test_guest_lifecycle' has no written reason",
    ):
        assert problem in text, f"{problem!r} not in {text!r}"
    result.stdout.fnmatch_lines(["*not run: nubis.virt:cfbroken fails its contract check*"])
    doc = load_report(pytester.path / "report.json")
    (entry,) = doc["plugins"]
    assert entry["contract"]["ok"] is False and entry["verdict"] == "failed"
    assert "power_off() is still abstract" in entry["contract"]["problems"]
    assert set(entry["targets"][0]["verdicts"].values()) <= {"not-run", "not-declared"}


def test_unknown_capability_is_rejected_at_load(installed: None, pytester: pytest.Pytester) -> None:
    with pytest.raises(exception.PluginContractViolation) as info:
        plugins.load_one("nubis.virt", "cfteleport")
    assert "unknown capabilities supports_teleport; known: supports_clean_shutdown" in str(
        info.value
    )
    with pytest.raises(exception.PluginContractViolation) as info:
        plugins.load_one("nubis.servicegroup", "cftypo")
    assert "unknown capabilities reports_thru_conductor; known: reports_through_conductor" in str(
        info.value
    )
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfteleport",
        "--nubis-conformance=nubis.servicegroup:cftypo",
        "-k",
        "contract",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*nubis.servicegroup:cftypo (cf_servicegroup:TypoDriver) fails its contract check: "
            "unknown capabilities reports_thru_conductor*",
            "*nubis.virt:cfteleport (cf_virt:TeleportDriver) fails its contract check: "
            "unknown capabilities supports_teleport*",
        ]
    )


def test_a_plugin_that_does_not_import_is_reported(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest("--nubis-conformance=nubis.virt:cfnoimport", "-k", "contract")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CONTRACT nubis.virt:cfnoimport: plugin 'cfnoimport' in nubis.virt failed to load: "
            "ImportError: the hypervisor library is not installed*"
        ]
    )


def test_unknown_selections_are_usage_errors(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--nubis-conformance=nubis.xen:foo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown namespace 'nubis.xen'*; known: nubis.managers*"])
    result = pytester.runpytest("--nubis-conformance=nubis.virt:nope", "-k", "contract")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no plugin 'nope' in nubis.virt*available:*fake*"])
