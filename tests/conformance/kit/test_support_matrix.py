"""docs/support-matrix.md and the reports it is made of are up to date.

The matrix is generated from the JSON reports committed in docs/conformance/ (one per
plugin, written by a full run of tests/conformance; see the matrix's header). This
test does not run any suite again: CI's own run of tests/conformance already fails
when a declared capability fails. What it checks is that the committed reports still
describe the code: the matrix regenerates to the same bytes; every plugin the kit runs
in tests/conformance has exactly one report, none other has; each report names the
installed distribution and version, the same entry point, capabilities (known and
declared), waivers, contract verdict, targets, and exactly the suite's tests; and each
report passed, so the matrix never shows a result nobody achieved.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import matrix, report, subjects, suites
from nubis.core.conformance.pytest_plugin import KIT
from tests.conformance import test_installed_plugins

DOCS = Path(__file__).resolve().parents[3] / "docs"
REPORTS = DOCS / "conformance"
MATRIX = DOCS / "support-matrix.md"
HEADER = REPORTS / "header.md"
REGENERATE = "regenerate the reports and the matrix as docs/support-matrix.md's header says"


def _reports() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(REPORTS.glob("*.json")):
        doc = report.load(path)
        for plugin in doc["plugins"]:
            found[f"{plugin['namespace']}:{plugin['plugin']}"] = plugin
            assert doc["verdict"] == "passed", f"{path.name}: verdict {doc['verdict']}"
    return found


def test_matrix_regenerates_to_the_committed_file() -> None:
    paths = sorted(REPORTS.glob("*.json"))
    assert paths, f"no reports in {REPORTS}; {REGENERATE}"
    expected = matrix.render_files(paths, HEADER.read_text())
    assert MATRIX.read_text() == expected, f"{MATRIX} is stale; {REGENERATE}"


def test_reports_describe_the_installed_plugins(request: pytest.FixtureRequest) -> None:
    reports = _reports()
    wanted = subjects.expand(test_installed_plugins.NUBIS_CONFORMANCE)
    keys = {f"{ns}:{name}" for ns, name in wanted}
    assert set(reports) == keys, (
        f"reports for plugins no longer run: {sorted(set(reports) - keys)}; plugins without "
        f"a report: {sorted(keys - set(reports))}; {REGENERATE}"
    )
    stale = []
    for namespace, name in wanted:
        key = f"{namespace}:{name}"
        entry = reports[key]
        subject = subjects.load(namespace, name)
        expected = {
            "entry_point": subject.entry_point,
            "distribution": subject.distribution,
            "version": subject.version,
            "contract": {"ok": subject.ok, "problems": subject.problems},
            "capabilities": {
                "known": dict(sorted(subject.known.items())),
                "declared": dict(sorted(subject.declared.items())),
            },
            "waivers": {f"{namespace}::{t}": r for t, r in subject.waivers.items()},
        }
        actual = {k: entry[k] for k in expected if k != "waivers"}
        actual["waivers"] = {w["test"]: w["reason"] for w in entry["waivers"]}
        for field, value in expected.items():
            if actual[field] != value:
                stale.append(f"{key} {field}: report {actual[field]!r}, code {value!r}")
        suite = suites.get(namespace)
        if suite is None:
            continue
        # The installed plugins' environment modules answer for their targets; the kit
        # loads them at its first collection, which this test must not depend on.
        request.config.stash[KIT].load_environments()
        targets = request.config.hook.pytest_nubis_conformance_targets(
            config=request.config, namespace=namespace, plugin=name
        )
        target_ids = [t.id for t in targets]
        if [t["id"] for t in entry["targets"]] != target_ids:
            stale.append(
                f"{key} targets: report {[t['id'] for t in entry['targets']]}, now {target_ids}"
            )
        tests = {suite.test_id(n) for n in suite.test_names()}
        for target in entry["targets"]:
            ran = {t["id"] for t in target["tests"]}
            if ran != tests:
                stale.append(
                    f"{key} [{target['id']}] tests: missing {sorted(tests - ran)}, "
                    f"gone {sorted(ran - tests)}"
                )
    assert not stale, f"{len(stale)} stale: " + "; ".join(stale[:8]) + f"; {REGENERATE}"
