"""Capabilities and waivers: skipped with the reason, failed, waived, waiver not needed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conformance.kit import plugins as cf
from tests.conformance.kit.conftest import load_report, outcomes, target_of


@pytest.fixture
def installed(plugin_dist: Callable[..., Path], pytester: pytest.Pytester) -> None:
    plugin_dist(cf.MODULES, cf.ENTRY_POINTS)
    pytester.makeconftest(cf.CONFTEST)


def test_undeclared_capability_is_skipped_with_the_reason(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfnoevents",
        "--nubis-report-json=r.json",
        "-rs",
        "-k",
        "contract or lifecycle_events_arrive or guest_lifecycle or clean_shutdown",
    )
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*cfnoevents does not declare supports_lifecycle_events"])
    doc = load_report(pytester.path / "r.json")
    target = target_of(doc, "cfnoevents")
    assert target["verdicts"]["supports_lifecycle_events"] == "not-declared"
    assert target["verdicts"]["supports_clean_shutdown"] == "passed"
    skipped = next(t for t in target["tests"] if t["outcome"] == "skipped")
    assert skipped == {
        "id": "nubis.virt::test_lifecycle_events_arrive",
        "capability": "supports_lifecycle_events",
        "outcome": "skipped",
        "skip_kind": "not-declared",
        "message": "cfnoevents does not declare supports_lifecycle_events",
        "duration": skipped["duration"],
    }
    # -k left declared capabilities without a test: the report does not call them passed,
    # says why, and the run does not pass.
    assert target["verdicts"]["supports_live_migration"] == "incomplete"
    assert doc["verdict"] == "incomplete"
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*INCOMPLETE supports_live_migration: test_aborted_live_migration_leaves_the_guest_"
            "on_the_source, test_live_migration_moves_a_running_guest, test_source_check_"
            "refuses_its_own_host: did not run in this session (deselected, e.g. by -k)",
            "verdict: incomplete -- not everything the plugins declare was exercised*",
        ]
    )
    gaps = [g for g in target["gaps"] if g["capability"] == "supports_live_migration"]
    assert [g["test"] for g in gaps] == [
        "nubis.virt::test_aborted_live_migration_leaves_the_guest_on_the_source",
        "nubis.virt::test_live_migration_moves_a_running_guest",
        "nubis.virt::test_source_check_refuses_its_own_host",
    ]


def test_not_implemented_error_fails_the_test(installed: None, pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cflazy", "-k", "contract or guest_lifecycle"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*cflazy.list_instances() raised NotImplementedError (later); the contract forbids it*"]
    )
    assert result.ret == 1


def test_waivers_show_in_every_report_and_a_needless_one_is_flagged(
    installed: None, pytester: pytest.Pytester
) -> None:
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfwaiving",
        "--nubis-report-json=r.json",
        "--junitxml=junit.xml",
    )
    counts = result.parseoutcomes()
    assert (counts.get("xfailed"), counts.get("xpassed"), counts.get("failed")) == (1, 1, None)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*WAIVER NO LONGER NEEDED nubis.virt::test_hard_reboot_starts_a_stopped_guest: "
            "waiver no longer needed: once failed on a slow machine",
            "*WAIVED nubis.virt::test_host_ip_is_an_address: waived: reports its host name, "
            "not an address (issue 12)",
        ]
    )
    doc = load_report(pytester.path / "r.json")
    waived = {k: v for k, v in outcomes(doc, "cfwaiving").items() if "waive" in v}
    assert waived == {
        "nubis.virt::test_hard_reboot_starts_a_stopped_guest": "waiver-unneeded",
        "nubis.virt::test_host_ip_is_an_address": "waived",
    }
    (entry,) = doc["plugins"]
    assert {w["test"]: (w["reason"], w["outcomes"]) for w in entry["waivers"]} == {
        "nubis.virt::test_hard_reboot_starts_a_stopped_guest": (
            "once failed on a slow machine",
            {"cfwaiving": "waiver-unneeded"},
        ),
        "nubis.virt::test_host_ip_is_an_address": (
            "reports its host name, not an address (issue 12)",
            {"cfwaiving": "waived"},
        ),
    }
    assert entry["targets"][0]["verdicts"]["core"] == "waived"
    cases = {
        case.get("name"): case for case in ET.parse(pytester.path / "junit.xml").iter("testcase")
    }
    ip_case = next(c for n, c in cases.items() if n and "host_ip" in n)
    props = {p.get("name"): p.get("value") for p in ip_case.iter("property")}
    assert props["nubis_test_id"] == "nubis.virt::test_host_ip_is_an_address"
    assert props["nubis_waiver"] == "reports its host name, not an address (issue 12)"
    assert props["nubis_capability"] == "core"
    assert ip_case.find("skipped") is not None  # xfail: JUnit's way of saying "known"


def test_a_missing_environment_skips_or_fails_when_required(
    plugin_dist: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    plugin_dist(cf.MODULES, cf.ENTRY_POINTS)  # no conftest: no live-migration peer
    args = ["--nubis-conformance=nubis.virt:cfnoevents", "-k", "moves_a_running_guest", "-rs"]
    result = pytester.runpytest(*args, "--nubis-report-json=r.json")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*cfnoevents declares supports_live_migration but its target gives no peer_options*"]
    )
    doc = load_report(pytester.path / "r.json")
    assert target_of(doc, "cfnoevents")["verdicts"]["supports_live_migration"] == "incomplete"
    result = pytester.runpytest(*args, "--nubis-require-environment")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*environment missing (and required): cfnoevents declares*"])


def test_a_plugin_package_ships_its_environment_by_entry_point(
    plugin_dist: Callable[..., Path], pytester: pytest.Pytester
) -> None:
    plugin_dist(
        {**cf.MODULES, "cf_env": cf.CONFTEST},
        {**cf.ENTRY_POINTS, "nubis.conformance.environments": {"cf": "cf_env"}},
    )
    result = pytester.runpytest(
        "--nubis-conformance=nubis.virt:cfnoevents", "-k", "moves_a_running_guest"
    )
    result.assert_outcomes(passed=1)
