"""tests/tempest/results.py: the expectations file and how a run is judged by it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tempest import results
from tests.tempest.results import Expectation, Result

A = "tempest.api.compute.test_a.A.test_one"
B = "tempest.api.compute.test_b.B.test_two"
C = "tempest.api.compute.test_c.C.test_three"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.txt"
    path.write_text(text)
    return path


def test_reads_failures_and_skips_with_their_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"# a heading\n\nfail {A} | not built\nskip {B} | needs the network service\n",
    )
    assert results.read_expectations(path) == {
        A: Expectation("fail", "not built"),
        B: Expectation("skip", "needs the network service"),
    }


@pytest.mark.parametrize(
    "line",
    [f"{A} | no kind", f"pass {A} | unknown kind", f"fail {A}", f"fail {A} |", "fail | why"],
)
def test_a_malformed_line_is_refused_with_its_number(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, f"# heading\n{line}\n")
    with pytest.raises(results.ExpectationsError, match=r"expectations.txt:2: expected 'fail"):
        results.read_expectations(path)


def test_a_test_listed_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"fail {A} | x\nskip {A} | y\n")
    with pytest.raises(results.ExpectationsError, match="listed twice"):
        results.read_expectations(path)


def test_unlisted_failures_and_skips_spoil_the_run() -> None:
    expected = {A: Expectation("fail", "not built"), B: Expectation("skip", "no network")}
    run = [Result(A, "fail", ""), Result(B, "skip", "Neutron"), Result(C, "success", "")]
    assert results.compare(run, expected).ok

    unlisted_skip = results.compare([Result(C, "skip", "Neutron is not available")], expected)
    assert [r.id for r in unlisted_skip.unlisted_skips] == [C] and not unlisted_skip.ok

    skip_now_fails = results.compare([Result(B, "fail", "boom")], expected)
    assert [r.id for r in skip_now_fails.regressions] == [B] and not skip_now_fails.ok


def test_listed_tests_that_pass_or_were_not_reached_are_reported_without_failing() -> None:
    expected = {A: Expectation("fail", "not built"), B: Expectation("skip", "no network")}
    comparison = results.compare([Result(A, "success", ""), Result(B, "success", "")], expected)
    assert comparison.fixed == [A, B] and comparison.ok

    comparison = results.compare([Result(A, "skip", "Cinder"), Result(B, "missing", "")], expected)
    assert comparison.not_reached == [A, B] and comparison.ok


def test_the_draft_keeps_reviewed_reasons_and_marks_new_ones() -> None:
    expected = {A: Expectation("fail", "not built")}
    run = [
        Result(A, "fail", "Details: 404"),
        Result(B, "skip", "setUpClass: Neutron is not available\nmore"),
        Result(C, "success", ""),
    ]
    assert results.draft(run, expected).splitlines() == [
        f"fail {A} | not built",
        f"skip {B} | REVIEW: setUpClass: Neutron is not available",
    ]


def test_the_committed_file_is_well_formed() -> None:
    path = Path(results.__file__).with_name("expectations.txt")
    expected = results.read_expectations(path)
    assert expected and all(e.kind in results.KINDS for e in expected.values())
