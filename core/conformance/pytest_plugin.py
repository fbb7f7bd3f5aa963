"""The pytest plugin ``nubis_conformance`` (entry point group ``pytest11``).

Loaded automatically wherever nubis is installed; it does nothing until a selection is
given (``--nubis-conformance``, the ini key ``nubis_conformance``, or a test module's
``NUBIS_CONFORMANCE``). See :mod:`nubis.core.conformance` for the usage.

What it adds to a session: the suites (see :mod:`.collect`), parametrized over each
plugin's targets, which the environment modules registered under
``nubis.conformance.environments`` answer (loaded at the first collection); the
capability gate (an undeclared capability's tests are skipped with the reason before
any fixture runs); waivers as non-strict xfails whose outcome is reported as
``waived`` or ``waiver-unneeded``; the stable ids, capabilities and waivers as JUnit
properties; the JSON reports; a terminal summary saying why a capability is
incomplete; and the exit status: a run whose verdict is ``incomplete`` fails unless
``--nubis-allow-incomplete`` (ini ``nubis_allow_incomplete``) accepts it.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import collect, harness, hookspecs, report, subjects, suites
from nubis.core.conformance.subjects import Subject
from nubis.core.conformance.targets import Target, read_config_file

MARKER = suites.MARKER

# The suites' plain asserts show what was observed whatever python_files a project sets.
# (Each suite package by name: none is imported yet, so pytest can rewrite them all.)
pytest.register_assert_rewrite(*sorted(suite.package for suite in suites.SUITES.values()))
#: Entry point group of environment modules (pytest plugins) shipped by plugin packages.
ENVIRONMENTS = "nubis.conformance.environments"
MODULE_ATTRIBUTE = "NUBIS_CONFORMANCE"


class Kit:
    """The kit's state in one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.selections: list[str] = list(config.getoption("nubis_conformance") or []) or list(
            config.getini("nubis_conformance") or []
        )
        config_file = config.getoption("nubis_config_file") or config.getini("nubis_config_file")
        self.config_file = str(config_file) if config_file else None
        self.config_file_options = read_config_file(self.config_file) if self.config_file else {}
        flag = config.getoption("nubis_require_environment")
        self.require_environment = bool(flag) or os.environ.get(harness.REQUIRE_ENV, "") not in (
            "",
            "0",
            "false",
        )
        self.allow_incomplete = bool(config.getoption("nubis_allow_incomplete")) or bool(
            config.getini("nubis_allow_incomplete")
        )
        self.report_json = config.getoption("nubis_report_json")
        self.report_dir = config.getoption("nubis_report_dir")
        self._subjects: dict[tuple[str, str], Subject] = {}
        self.runs: dict[str, list[harness.TargetRun]] = {}
        self.recorder = report.Recorder()
        self._fixture_modules: set[str] = set()
        self._environments_loaded = False

    def load_environments(self) -> None:
        """Register every installed environment module (once per session).

        A plugin package ships how the kit runs it (targets, fixtures, faults) as a
        pytest plugin module named by an entry point of group
        :data:`ENVIRONMENTS`; it is loaded only when the kit runs.
        """
        if self._environments_loaded:
            return
        self._environments_loaded = True
        for ep in sorted(importlib.metadata.entry_points(group=ENVIRONMENTS), key=lambda e: e.name):
            name = f"nubis-conformance-environment:{ep.name}"
            if self.config.pluginmanager.get_plugin(name) is not None:
                continue
            try:
                module = ep.load()
            except Exception as exc:
                raise pytest.UsageError(
                    f"nubis-conformance: environment {ep.name} ({ep.value}) does not load: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            if not self.config.pluginmanager.is_registered(module):
                self.config.pluginmanager.register(module, name)

    def subject(self, namespace: str, name: str) -> Subject:
        key = (namespace, name)
        if key not in self._subjects:
            self._subjects[key] = subjects.load(namespace, name)
        return self._subjects[key]

    def register_runs(self, subject: Subject, runs: list[harness.TargetRun]) -> None:
        self.runs[subject.key] = runs
        self.recorder.add_subject(subject, [run.target.id for run in runs])

    def register_fixtures(self, suite: suites.Suite) -> None:
        """Register the common fixtures and *suite*'s (once per session)."""
        from nubis.core.conformance import fixtures

        for module in (fixtures, suite.fixtures()):
            if module.__name__ in self._fixture_modules:
                continue
            self._fixture_modules.add(module.__name__)
            if not self.config.pluginmanager.is_registered(module):
                self.config.pluginmanager.register(module, f"nubis-conformance:{module.__name__}")


KIT = pytest.StashKey[Kit]()


def _kit(config: pytest.Config) -> Kit | None:
    return config.stash.get(KIT, None)


# --------------------------------------------------------------------------- set-up


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nubis-conformance", "nubis plugin conformance kit")
    group.addoption(
        "--nubis-conformance",
        action="append",
        dest="nubis_conformance",
        metavar="SEL",
        help="run the conformance suite: NAMESPACE:PLUGIN, NAMESPACE or 'all' (repeatable)",
    )
    group.addoption(
        "--nubis-config-file",
        dest="nubis_config_file",
        metavar="FILE",
        help="oslo.config file whose values configure the plugins under test",
    )
    group.addoption(
        "--nubis-report-json",
        dest="nubis_report_json",
        metavar="PATH",
        help="write the conformance JSON report (every plugin) to PATH",
    )
    group.addoption(
        "--nubis-report-dir",
        dest="nubis_report_dir",
        metavar="DIR",
        help="write one conformance JSON report per plugin into DIR",
    )
    group.addoption(
        "--nubis-require-environment",
        action="store_true",
        dest="nubis_require_environment",
        help="fail (instead of skip) a test whose environment is missing "
        f"(default when {harness.REQUIRE_ENV}=1)",
    )
    group.addoption(
        "--nubis-allow-incomplete",
        action="store_true",
        dest="nubis_allow_incomplete",
        help="exit 0 although a declared capability (or a required test) was not "
        "exercised (verdict 'incomplete'); by default such a run fails",
    )
    parser.addini("nubis_conformance", "conformance selections, one per line", type="linelist")
    parser.addini("nubis_allow_incomplete", "accept the verdict 'incomplete' (exit 0)", type="bool")
    parser.addini("nubis_config_file", "oslo.config file for the plugins under test")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(name): the test checks optional capability *name*"
    )
    try:
        kit = Kit(config)
    except ValueError as exc:
        raise pytest.UsageError(f"nubis-conformance: {exc}") from None
    config.stash[KIT] = kit
    config.stash[harness.REQUIRE_KEY] = kit.require_environment


@pytest.hookimpl(trylast=True)
def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> list[Target]:
    return [Target(plugin)]


# --------------------------------------------------------------------------- collection


def _add_plugins(kit: Kit, parent: Any, selections: list[str], result: list[Any]) -> None:
    try:
        pairs = subjects.expand(selections)
    except ValueError as exc:
        raise pytest.UsageError(f"nubis-conformance: {exc}") from None
    for namespace, name in pairs:
        result.append(collect.PluginCollector.create(parent, kit, namespace, name))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    rep = yield
    kit = _kit(collector.config)
    if kit is None or not rep.passed:
        return rep
    if isinstance(collector, pytest.Session):
        # Explicit node ids ("file.py::test") ask for those tests only.
        if kit.selections and not any("::" in arg for arg in collector.config.args):
            _add_plugins(kit, collector, kit.selections, rep.result)
    elif isinstance(collector, pytest.Module) and not isinstance(collector, collect.SuiteModule):
        selections = getattr(collector.obj, MODULE_ATTRIBUTE, None)
        if selections:
            _add_plugins(kit, collector, list(selections), rep.result)
    return rep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "nubis_target" not in metafunc.fixturenames:
        return
    owner = collect.plugin_collector_of(metafunc.definition)
    if owner is None:
        return
    params = [pytest.param(run, id=run.target.id, marks=run.target.marks) for run in owner.runs]
    metafunc.parametrize("nubis_target", params, scope="module")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    kit = _kit(config)
    if kit is None or not kit.runs:
        return
    for item in items:
        run = _run_of(item)
        if run is None:
            continue
        name = _test_name(item)
        reason = run.subject.waivers.get(name)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"waived: {reason}", strict=False))
    # Contract checks first: they are reported before any test runs.
    items.sort(key=lambda item: not isinstance(item, collect.ContractItem))


def pytest_collection_finish(session: pytest.Session) -> None:
    kit = _kit(session.config)
    if kit is None or not kit.runs:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    broken = [s for s in kit.recorder.subjects.values() if s.problems]
    reporter.write_line(
        f"nubis-conformance {report.kit_version()}: {len(kit.runs)} plugin(s), "
        f"{len(broken)} failing the contract check"
    )
    for subject in broken:
        reporter.write_line(f"  CONTRACT {subject.key}: {'; '.join(subject.problems)}", red=True)


# --------------------------------------------------------------------------- running


def _run_of(item: pytest.Item) -> harness.TargetRun | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    run = callspec.params.get("nubis_target")
    return run if isinstance(run, harness.TargetRun) else None


def _test_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", None) or item.name.partition("[")[0]


def _capability(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(MARKER)
    return str(marker.args[0]) if marker is not None else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Generator[None, Any, Any]:
    kit_item = _run_of(item) is not None or isinstance(item, collect.ContractItem)
    if kit_item:
        harness.push_item(item)
    try:
        return (yield)
    finally:
        if kit_item:
            harness.pop_item()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if isinstance(item, collect.ContractItem):
        subject = item.subject
        item.user_properties.append(("nubis_test_id", f"{subject.namespace}::contract"))
        item.user_properties.append(("nubis_plugin", subject.key))
        return
    run = _run_of(item)
    if run is None:
        return
    name = _test_name(item)
    capability = _capability(item)
    item.user_properties.extend(
        [
            ("nubis_test_id", run.suite.test_id(name)),
            ("nubis_plugin", run.subject.key),
            ("nubis_target", run.target.id),
            ("nubis_capability", capability or "core"),
        ]
    )
    reason = run.subject.waivers.get(name)
    if reason:
        item.user_properties.append(("nubis_waiver", reason))
    if not run.subject.ok:
        harness.skip(harness.CONTRACT, f"not run: {run.subject.key} fails its contract check")
    if capability is not None and not run.subject.has(capability):
        harness.skip(harness.NOT_DECLARED, f"{run.label} does not declare {capability}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep = outcome.get_result()
    kit = _kit(item.config)
    if kit is None:
        return
    if isinstance(item, collect.ContractItem):
        subject = item.subject
        kit.recorder.phase(subject.key, None, f"{subject.namespace}::contract", None, rep, item)
        return
    run = _run_of(item)
    if run is None:
        return
    if rep.when == "call" and rep.failed:
        item.stash[harness.CALL_FAILED] = True
    if call.excinfo is not None and call.excinfo.errisinstance(NotImplementedError):
        harness.not_implemented_by(item, f"{call.excinfo.traceback[-1].name}()")
    kit.recorder.phase(
        run.subject.key,
        run.target.id,
        run.suite.test_id(_test_name(item)),
        _capability(item),
        rep,
        item,
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    kit = _kit(config)
    if kit is None or not kit.runs or config.option.collectonly:
        return
    doc = kit.recorder.document(kit.runs)
    terminalreporter.section("nubis conformance")
    for line in report.summary_lines(doc, kit.allow_incomplete):
        terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    kit = _kit(session.config)
    if kit is None or not kit.runs or session.config.option.collectonly:
        return
    doc = kit.recorder.document(kit.runs)
    if (
        doc["verdict"] == "incomplete"
        and not kit.allow_incomplete
        and session.exitstatus == pytest.ExitCode.OK
    ):
        # Passing by omission is not passing: a declared capability (or a required
        # test) that nothing exercised fails the run unless it is explicitly allowed.
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if kit.report_json:
        report.write(doc, Path(kit.report_json))
    if kit.report_dir:
        for key, single in report.split(doc).items():
            report.write(single, Path(kit.report_dir) / f"{key.replace(':', '--')}.json")
