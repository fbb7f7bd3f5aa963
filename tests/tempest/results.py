"""A Tempest run's results against the reviewed expectations (expectations.txt).

The expectations file lists every test that fails or is skipped today, one per line as
``fail TEST_ID | REASON`` or ``skip TEST_ID | REASON`` (``#`` starts a comment; blank
lines are ignored), grouped by cause under comment headings; the reason is ours, a
reviewed one ("needs the network service"), not Tempest's message. :func:`compare`
splits a run into regressions (a failure not listed as one, or a skip not listed as
one: the run fails), fixed tests (listed but passing now: delete their lines, so the
file only shrinks) and listed tests the run did not reach (not selected, or a listed
failure that skips now).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
from collections.abc import Iterable
from pathlib import Path

ATTRIBUTES = re.compile(r"\[[^\]]*\]$")
FAILED = ("fail", "uxsuccess")
PASSED = ("success", "xfail")


@dataclasses.dataclass(frozen=True)
class Result:
    id: str
    status: str
    detail: str


def plain_id(raw: str) -> str:
    """*raw* without Tempest's ``[id-...,smoke]`` attributes."""
    return ATTRIBUTES.sub("", raw.strip())


def load(summary_lines: Iterable[str]) -> list[Result]:
    """Results from subunit_summary.py's JSON lines (the last result of a test wins)."""
    by_id: dict[str, Result] = {}
    for line in summary_lines:
        if line.strip():
            item = json.loads(line)
            by_id[plain_id(item["id"])] = Result(
                plain_id(item["id"]), item["status"], item["detail"]
            )
    return sorted(by_id.values(), key=lambda r: r.id)


CLASS_FIXTURE = re.compile(r"^(setUpClass|tearDownClass) \((?P<cls>[\w.]+)\)$")


def expand(found: list[Result], listed: Iterable[str]) -> list[Result]:
    """One result per listed test, as the earlier measurements counted them.

    When a class's ``setUpClass`` fails or skips, Tempest reports that one entry and
    none of the class's tests: each of them gets the class's status and detail here. A
    ``tearDownClass`` failure stays an entry of its own (its tests did report). A listed
    test with no result at all is ``missing``.
    """
    by_id = {r.id: r for r in found}
    fixtures = {}
    for r in found:
        match = CLASS_FIXTURE.match(r.id)
        if match and match.group(1) == "setUpClass":
            fixtures[match.group("cls")] = r
    expanded = []
    for name in sorted(set(plain_id(n) for n in listed)):
        if name in by_id:
            expanded.append(by_id[name])
        elif (fixture := fixtures.get(name.rsplit(".", 1)[0])) is not None:
            expanded.append(Result(name, fixture.status, "setUpClass: " + fixture.detail))
        else:
            expanded.append(Result(name, "missing", "no result: the test did not run"))
    listed_ids = {r.id for r in expanded}
    extra = [
        r
        for r in found
        if r.id not in listed_ids and not (CLASS_FIXTURE.match(r.id) and r.id.startswith("setUp"))
    ]
    return sorted(expanded + extra, key=lambda r: r.id)


class ExpectationsError(ValueError):
    pass


KINDS = ("fail", "skip")


@dataclasses.dataclass(frozen=True)
class Expectation:
    kind: str  # one of KINDS
    reason: str


def read_expectations(path: Path) -> dict[str, Expectation]:
    """``{test id: Expectation}`` from the expectations file; a malformed line is an
    error naming the line."""
    expected: dict[str, Expectation] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind, _, rest = text.partition(" ")
        name, sep, reason = (part.strip() for part in rest.partition("|"))
        if kind not in KINDS or not sep or not name or not reason:
            raise ExpectationsError(
                f"{path}:{number}: expected 'fail TEST_ID | REASON' or "
                f"'skip TEST_ID | REASON', got {text!r}"
            )
        if name in expected:
            raise ExpectationsError(f"{path}:{number}: {name} is listed twice")
        expected[name] = Expectation(kind, reason)
    return expected


@dataclasses.dataclass
class Comparison:
    regressions: list[Result]
    unlisted_skips: list[Result]
    fixed: list[str]
    not_reached: list[str]

    @property
    def ok(self) -> bool:
        """Whether the run matches the expectations (fixed tests do not spoil it)."""
        return not self.regressions and not self.unlisted_skips


def _listed_as(expected: dict[str, Expectation], test_id: str, kind: str) -> bool:
    found = expected.get(test_id)
    return found is not None and found.kind == kind


def compare(results: list[Result], expected: dict[str, Expectation]) -> Comparison:
    by_id = {r.id: r for r in results}
    return Comparison(
        regressions=[
            r for r in results if r.status in FAILED and not _listed_as(expected, r.id, "fail")
        ],
        unlisted_skips=[
            r
            for r in results
            if r.status == "skip"
            and not _listed_as(expected, r.id, "skip")
            and not _listed_as(expected, r.id, "fail")
        ],
        fixed=sorted(i for i in expected if i in by_id and by_id[i].status in PASSED),
        not_reached=sorted(
            i
            for i in expected
            if i not in by_id
            or by_id[i].status == "missing"
            or (by_id[i].status == "skip" and expected[i].kind == "fail")
        ),
    )


def last_line(detail: str) -> str:
    """What a failure says in one line: Tempest's ``Details:`` line (the API's answer),
    else the exception line of the traceback."""
    lines = [line for line in detail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("Details:"):
            return line.strip()[:300]
    for line in reversed(lines):
        if re.match(
            r"^[\w.]+(Error|Exception|Failure|Conflict|NotFound|Forbidden|"
            r"Unauthorized|BadRequest|Timeout)\w*:",
            line.strip(),
        ):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "(no detail)"


def counts(results: list[Result]) -> collections.Counter[str]:
    tally: collections.Counter[str] = collections.Counter()
    for r in results:
        tally[
            "passed"
            if r.status in PASSED
            else "failed"
            if r.status in FAILED
            else "skipped"
            if r.status == "skip"
            else r.status
        ] += 1
    return tally


def report(
    results: list[Result], expected: dict[str, Expectation], seconds: float | None
) -> Comparison:
    """Print the run's failures by cause, skips by reason, the comparison and a summary."""
    tally = counts(results)
    comparison = compare(results, expected)
    failed = [r for r in results if r.status in FAILED]
    skipped = [r for r in results if r.status == "skip"]

    def reason(r: Result, kind: str) -> str:
        found = expected.get(r.id)
        return found.reason if found is not None and found.kind == kind else "NOT LISTED"

    print("\n== Failures by cause (expectations.txt)")
    for cause, n in collections.Counter(reason(r, "fail") for r in failed).most_common():
        print(f"{n:5d}  {cause}")
    print("\n== Skips by reason (expectations.txt)")
    for cause, n in collections.Counter(reason(r, "skip") for r in skipped).most_common():
        print(f"{n:5d}  {cause}")

    if comparison.regressions:
        print(f"\n== {len(comparison.regressions)} failures NOT listed as failing")
        for r in comparison.regressions:
            print(f"  {r.id}\n      {last_line(r.detail)}")
    if comparison.unlisted_skips:
        print(f"\n== {len(comparison.unlisted_skips)} skips NOT listed as skipped")
        for r in comparison.unlisted_skips:
            print(f"  {r.id}\n      {skip_reason(r)}")
    if comparison.fixed:
        print(f"\n== {len(comparison.fixed)} listed tests now pass: delete their lines")
        for name in comparison.fixed:
            print(f"  {name}")
    if comparison.not_reached:
        print(
            f"\n== {len(comparison.not_reached)} listed tests were not run, or are listed "
            "as failing and skipped: update their lines"
        )
        for name in comparison.not_reached:
            print(f"  {name}")

    print("\n== Summary")
    print(
        f"listed  {len(results)} (a test of a class whose setUpClass failed or skipped "
        "counts as failed or skipped)"
    )
    print(f"passed  {tally['passed']}")
    print(
        f"failed  {tally['failed']} ({len(failed) - len(comparison.regressions)} expected, "
        f"{len(comparison.regressions)} regressions)"
    )
    print(
        f"skipped {tally['skipped']} ({len(skipped) - len(comparison.unlisted_skips)} "
        f"expected, {len(comparison.unlisted_skips)} not listed)"
    )
    for status in sorted(set(tally) - {"passed", "failed", "skipped"}):
        print(f"{status:<7} {tally[status]}")
    if seconds is not None:
        print(f"wall    {seconds:.0f} s")
    return comparison


def skip_reason(r: Result) -> str:
    """Tempest's reason for skipping *r*, in one line."""
    return (r.detail.splitlines() or ["(no reason)"])[0][:300]


def draft(results: list[Result], expected: dict[str, Expectation]) -> str:
    """Every failure and skip as an expectations line: the listed reason if it is listed
    as such, else Tempest's own message marked for review."""
    lines = []
    for r in results:
        kind = "fail" if r.status in FAILED else "skip" if r.status == "skip" else None
        if kind is None:
            continue
        found = expected.get(r.id)
        if found is not None and found.kind == kind:
            why = found.reason
        else:
            why = "REVIEW: " + (last_line(r.detail) if kind == "fail" else skip_reason(r))
        lines.append(f"{kind} {r.id} | {why}")
    return "\n".join(lines) + "\n"
