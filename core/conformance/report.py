"""The JSON report: what ran against which plugin, and the verdicts.

A :class:`Recorder` collects the phases of every kit test during a session;
:meth:`Recorder.document` turns them into the report, which validates against
``report.schema.json`` (in this package) before it is written. Test ids are stable:
``<namespace>::<test name>`` (``<namespace>::contract`` for the load-time check),
with the target beside them, never a file path.

Verdicts, per target and capability (``core`` = the tests every plugin must pass):
``not-declared`` (the plugin does not declare it), ``withdrawn`` (declared, but this
target's configuration withdraws it), ``not-run`` (the contract check failed),
``failed`` (a test failed), ``waived`` (only waived tests failed), ``incomplete`` (a
test of it was skipped for its environment or did not run in the session -- a target
without an extra the test needs, a missing server, a ``-k`` that left it out),
``passed``. Each incomplete capability lists its ``gaps``: which test, why, and the
``Target.extras`` key that would exercise it. A plugin none of whose tests ran in the
session is left out of the report.

A plugin's (and the report's) verdict is the worst of ``failed``, ``incomplete`` and
``passed`` (``waived`` counts as passed); the kit's exit status is non-zero for
``incomplete`` too unless the run allows it (``--allow-incomplete``).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nubis.core.conformance.subjects import Subject

FORMAT = "nubis-conformance-report/1"
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
WAIVED, WAIVER_UNNEEDED = "waived", "waiver-unneeded"
NOT_APPLICABLE = "not-applicable"

#: At most this many gaps per target in the terminal summary.
_MAX_GAPS = 8

VERDICTS = ("passed", "failed", "waived", "incomplete", "withdrawn", "not-declared", "not-run")


def kit_version() -> str:
    """The kit's version: the installed nubis distribution's."""
    try:
        return importlib.metadata.version("nubis")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def schema() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return result


def validate(doc: Any) -> None:
    """Raise ValueError (one line: where and what) unless *doc* fits the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise ValueError(
            f"conformance report does not fit {SCHEMA_PATH.name} at {where}: {first.message}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        )


def write(doc: dict[str, Any], path: Path) -> None:
    """Validate *doc* and write it to *path* (parents created)."""
    validate(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> dict[str, Any]:
    """Read and validate a report; ValueError names the file when it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON report: {exc}") from None
    try:
        validate(doc)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    result: dict[str, Any] = doc
    return result


def split(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One report per plugin: ``{"<namespace>:<plugin>": report}``."""
    result = {}
    for plugin in doc["plugins"]:
        single = {**doc, "plugins": [plugin], "verdict": plugin["verdict"]}
        result[f"{plugin['namespace']}:{plugin['plugin']}"] = single
    return result


def _message(rep: Any) -> str:
    longrepr = rep.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        text = str(longrepr[2])
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr).strip().splitlines()[-1]
    text = " ".join(text.split())
    if text.startswith("Skipped: "):
        text = text[len("Skipped: ") :]
    return text[:600]


def _property(item: Any, key: str) -> str | None:
    values = [value for name, value in item.user_properties if name == key]
    return str(values[-1]) if values else None


def _skip_kind(item: Any) -> str:
    return _property(item, "nubis_skip_kind") or "other"


class Recorder:
    """Collects the outcome of every kit test of a session."""

    def __init__(self) -> None:
        self.subjects: dict[str, Subject] = {}
        self.targets: dict[str, list[str]] = {}
        self.tests: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        #: (plugin, target) -> methods that raised NotImplementedError.
        self.not_implemented: dict[tuple[str, str | None], set[str]] = {}

    def add_subject(self, subject: Subject, targets: list[str]) -> None:
        self.subjects[subject.key] = subject
        self.targets[subject.key] = targets

    def phase(
        self,
        subject_key: str,
        target: str | None,
        test_id: str,
        capability: str | None,
        rep: Any,
        item: Any,
    ) -> None:
        """Fold one phase report (setup, call or teardown) into the test's outcome."""
        key = (subject_key, target, test_id)
        entry = self.tests.setdefault(
            key,
            {
                "id": test_id,
                "capability": capability or "core",
                "outcome": None,
                "message": "",
                "duration": 0.0,
            },
        )
        entry["duration"] = round(entry["duration"] + float(rep.duration or 0.0), 3)
        for name, value in item.user_properties:
            if name == "nubis_not_implemented":
                self.not_implemented.setdefault((subject_key, target), set()).add(str(value))
        waived = hasattr(rep, "wasxfail")
        reason = str(getattr(rep, "wasxfail", "")).removeprefix("waived: ")
        if rep.when == "setup":
            if rep.skipped and not waived:
                self._skipped(entry, rep, item)
            elif rep.failed or (rep.skipped and waived):
                entry["outcome"] = WAIVED if waived else ERROR
                entry["message"] = _message(rep) if not waived else f"waived: {reason}"
        elif rep.when == "call":
            if rep.passed:
                entry["outcome"] = WAIVER_UNNEEDED if waived else PASSED
                if waived:
                    entry["message"] = f"waiver no longer needed: {reason}"
            elif rep.skipped and waived:
                entry["outcome"] = WAIVED
                entry["message"] = f"waived: {reason}"
            elif rep.skipped:
                self._skipped(entry, rep, item)
            else:
                entry["outcome"] = FAILED
                entry["message"] = _message(rep)
        elif rep.when == "teardown" and (rep.failed or (rep.skipped and waived)):
            if waived:
                entry["outcome"] = WAIVED
                entry["message"] = f"waived: {reason}"
            elif entry["outcome"] in (PASSED, WAIVER_UNNEEDED, None):
                entry["outcome"] = ERROR
                entry["message"] = "teardown: " + _message(rep)

    @staticmethod
    def _skipped(entry: dict[str, Any], rep: Any, item: Any) -> None:
        kind = _skip_kind(item)
        entry["outcome"] = NOT_APPLICABLE if kind == NOT_APPLICABLE else SKIPPED
        entry["skip_kind"] = kind
        entry["message"] = _message(rep)
        extra = _property(item, "nubis_missing_extra")
        if extra:
            entry["extra"] = extra

    def ran(self, subject_key: str) -> bool:
        """Whether any item of the plugin (its contract check included) ran."""
        return any(key[0] == subject_key for key in self.tests)

    # ----------------------------------------------------------------- the document

    def document(self, runs: dict[str, list[Any]]) -> dict[str, Any]:
        plugins_ = []
        for key in sorted(self.subjects):
            if not self.ran(key):
                continue  # deselected as a whole: not part of this run
            plugins_.append(self._plugin(self.subjects[key], runs.get(key, [])))
        verdict = _worst(p["verdict"] for p in plugins_) if plugins_ else "incomplete"
        return {
            "format": FORMAT,
            "kit_version": kit_version(),
            "python": platform.python_version(),
            "generated": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "plugins": plugins_,
            "verdict": verdict,
        }

    def _plugin(self, subject: Subject, runs: list[Any]) -> dict[str, Any]:
        contract = self.tests.get((subject.key, None, f"{subject.namespace}::contract"))
        contract_ok = not subject.problems and (contract is None or contract["outcome"] == PASSED)
        targets = []
        for run in runs:
            tests = [
                {k: v for k, v in entry.items() if v is not None}
                for (skey, target, _), entry in sorted(self.tests.items(), key=lambda i: i[0][2])
                if skey == subject.key and target == run.target.id and entry["outcome"]
            ]
            verdicts, gaps = _verdicts(subject, run, tests, contract_ok)
            target: dict[str, Any] = {
                "id": run.target.id,
                "withdrawn": sorted(run.withdrawn),
                "verdicts": verdicts,
                "tests": tests,
            }
            if gaps:
                target["gaps"] = gaps
            missing = self.not_implemented.get((subject.key, run.target.id))
            if missing:
                target["not_implemented"] = sorted(missing)
            targets.append(target)
        waivers = []
        for test, reason in sorted(subject.waivers.items()):
            test_id = f"{subject.namespace}::{test}"
            outcomes = {
                t["id"]: next((x["outcome"] for x in t["tests"] if x["id"] == test_id), "not-run")
                for t in targets
            }
            waivers.append({"test": test_id, "reason": reason, "outcomes": outcomes})
        all_verdicts = [v for t in targets for v in t["verdicts"].values()]
        if not contract_ok:
            verdict = "failed"
        elif not targets:
            verdict = "passed" if contract is not None else "incomplete"
        else:
            verdict = _worst(all_verdicts)
        return {
            "namespace": subject.namespace,
            "plugin": subject.name,
            "entry_point": subject.entry_point,
            "distribution": subject.distribution,
            "version": subject.version,
            "contract": {"ok": contract_ok, "problems": list(subject.problems)},
            "capabilities": {
                "known": dict(sorted(subject.known.items())),
                "declared": dict(sorted(subject.declared.items())),
            },
            "waivers": waivers,
            "targets": targets,
            "verdict": verdict,
        }


def _verdicts(
    subject: Subject, run: Any, tests: list[dict[str, Any]], contract_ok: bool
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The verdict of each capability of one target, and the gaps of incomplete ones."""
    result = {}
    gaps: list[dict[str, str]] = []
    expected = run.suite.capabilities()
    for capability in ["core", *sorted(subject.known)]:
        if capability != "core" and not subject.has(capability):
            result[capability] = "not-declared"
            continue
        if not contract_ok:
            result[capability] = "not-run"
            continue
        mine = [t for t in tests if t["capability"] == capability]
        outcomes = {t["outcome"] for t in mine}
        kinds = {t.get("skip_kind") for t in mine if t["outcome"] == SKIPPED}
        ran = {t["id"] for t in mine}
        absent = [
            name
            for name, cap in expected.items()
            if cap == capability and run.suite.test_id(name) not in ran
        ]
        if outcomes & {FAILED, ERROR}:
            result[capability] = "failed"
        elif capability in run.withdrawn and (not mine or kinds <= {"withdrawn"}):
            result[capability] = "withdrawn"
        elif (
            SKIPPED in outcomes
            or absent
            or not (outcomes & {PASSED, WAIVER_UNNEEDED, WAIVED, NOT_APPLICABLE})
        ):
            result[capability] = "incomplete"
            gaps.extend(_gaps(run, capability, mine, absent))
        elif WAIVED in outcomes:
            result[capability] = "waived"
        else:
            result[capability] = "passed"
    return result, gaps


def _gaps(
    run: Any, capability: str, mine: list[dict[str, Any]], absent: list[str]
) -> list[dict[str, str]]:
    """Why *capability* is incomplete: each test that did not run, and what it needs."""
    found = []
    for test in mine:
        if test["outcome"] != SKIPPED:
            continue
        gap = {"capability": capability, "test": test["id"], "reason": test["message"]}
        extra = test.get("extra")
        if extra:
            gap["extra"] = extra
            what = run.suite.extras.get(extra, "")
            gap["reason"] += f"; give the target the {extra!r} extra" + (
                f" ({what})" if what else ""
            )
        found.append(gap)
    for name in absent:
        found.append(
            {
                "capability": capability,
                "test": run.suite.test_id(name),
                "reason": "did not run in this session (deselected, e.g. by -k)",
            }
        )
    if not found:
        found.append({"capability": capability, "test": "", "reason": "no test of it ran"})
    return found


_RANK = {"failed": 0, "not-run": 0, "incomplete": 1, "waived": 2, "passed": 3}


def _worst(verdicts: Iterable[str]) -> str:
    """The plugin's (or report's) verdict: failed, incomplete or passed."""
    worst = "passed"
    for verdict in verdicts:
        rank = _RANK.get(verdict, 3)
        if rank < _RANK[worst]:
            worst = verdict
    if worst == "not-run":
        return "failed"
    return "passed" if worst == "waived" else worst


def summary_lines(doc: dict[str, Any], allow_incomplete: bool = False) -> list[str]:
    """The terminal summary: verdicts, contract problems, why a capability is
    incomplete, what raised NotImplementedError, and every waiver."""
    lines = []
    for plugin in doc["plugins"]:
        head = (
            f"{plugin['namespace']}:{plugin['plugin']} "
            f"({plugin['distribution'] or '?'} {plugin['version'] or '?'}): {plugin['verdict']}"
        )
        lines.append(head)
        if not plugin["contract"]["ok"]:
            lines.append(f"  contract check FAILED: {'; '.join(plugin['contract']['problems'])}")
        for target in plugin["targets"]:
            verdicts = ", ".join(f"{cap} {v}" for cap, v in target["verdicts"].items())
            lines.append(f"  [{target['id']}] {verdicts}")
            grouped: dict[tuple[str, str], list[str]] = {}
            for gap in target.get("gaps", []):
                test = gap["test"].partition("::")[2] or "(no test)"
                grouped.setdefault((gap["capability"], gap["reason"]), []).append(test)
            for count, ((capability, reason), tests) in enumerate(grouped.items()):
                if count == _MAX_GAPS:
                    lines.append(
                        f"    ... and {len(grouped) - _MAX_GAPS} more (see the JSON report)"
                    )
                    break
                lines.append(f"    INCOMPLETE {capability}: {', '.join(tests)}: {reason}")
            if target.get("not_implemented"):
                lines.append(
                    "    NOT IMPLEMENTED (raised NotImplementedError): "
                    + ", ".join(target["not_implemented"])
                )
            for test in target["tests"]:
                if test["outcome"] == WAIVED:
                    lines.append(f"    WAIVED {test['id']}: {test['message']}")
                elif test["outcome"] == WAIVER_UNNEEDED:
                    lines.append(f"    WAIVER NO LONGER NEEDED {test['id']}: {test['message']}")
        for waiver in plugin["waivers"]:
            outcomes = ", ".join(f"{t}: {o}" for t, o in waiver["outcomes"].items())
            lines.append(
                f"  waiver {waiver['test']} ({outcomes or 'no target'}): {waiver['reason']}"
            )
    verdict = doc["verdict"]
    if verdict == "incomplete":
        verdict += (
            " (accepted: --allow-incomplete)"
            if allow_incomplete
            else " -- not everything the plugins declare was exercised (INCOMPLETE lines "
            "above); this run does not pass (--allow-incomplete accepts a partial run)"
        )
    lines.append(f"verdict: {verdict}")
    return lines
