"""The collectors that put the kit's suites into a pytest session.

Under an anchor (the session, or a test module that sets ``NUBIS_CONFORMANCE``) the
kit adds one :class:`PluginCollector` per selected plugin. It yields the plugin's
:class:`ContractItem` (run first: the load-time contract check) and one
:class:`SuiteModule` per test module of the namespace's suite; those modules are
imported by their dotted name (never from a file path, which would import them twice
under another name), and their tests are parametrized over the plugin's targets.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import harness, suites
from nubis.core.conformance.subjects import Subject
from nubis.core.conformance.targets import Target

#: Node id prefix of plugins collected under the session.
ROOT = "nubis-conformance"


class ContractError(Exception):
    """The plugin failed its load-time contract check."""


class PluginCollector(pytest.Collector):
    """One selected plugin: its contract check and its namespace's suite."""

    namespace: str
    plugin_name: str
    kit: Any  # the session's pytest_plugin.Kit
    subject: Subject
    runs: list[harness.TargetRun]

    @classmethod
    def create(cls, parent: Any, kit: Any, namespace: str, name: str) -> Any:
        key = f"{namespace}:{name}"
        if isinstance(parent, pytest.Session):
            node = cls.from_parent(parent, name=key, nodeid=f"{ROOT}/{key}")
        else:
            node = cls.from_parent(parent, name=key)
        node.namespace = namespace
        node.plugin_name = name
        node.kit = kit
        node.runs = []
        return node

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        self.kit.load_environments()
        self.subject = self.kit.subject(self.namespace, self.plugin_name)
        suite = suites.get(self.namespace)
        if suite is not None:
            targets = self.ihook.pytest_nubis_conformance_targets(
                config=self.config, namespace=self.namespace, plugin=self.plugin_name
            )
            self.runs = make_runs(
                self.subject,
                list(targets),
                self.kit.config_file_options,
                self.kit.require_environment,
            )
            self.kit.register_runs(self.subject, self.runs)
            self.kit.register_fixtures(suite)
        else:
            self.kit.register_runs(self.subject, [])
        yield ContractItem.from_parent(self, name="contract")
        if suite is None or not self.runs:
            return
        for module in suite.modules():
            short = module.__name__.rpartition(".")[2]
            yield SuiteModule.from_parent(
                self,
                path=Path(module.__file__ or "."),
                name=short,
                nodeid=f"{self.nodeid}::{short}",
            )

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.namespace}:{self.plugin_name}"


class ContractItem(pytest.Item):
    """Fails with every contract problem of the plugin (load, signatures, capabilities,
    waivers); passes when there are none."""

    @property
    def subject(self) -> Subject:
        parent = self.parent
        assert isinstance(parent, PluginCollector)
        return parent.subject

    def runtest(self) -> None:
        subject = self.subject
        if subject.problems:
            raise ContractError("; ".join(subject.problems))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ContractError):
            subject = self.subject
            return (
                f"{subject.key} ({subject.entry_point or 'no entry point'}) fails its "
                f"contract check: {excinfo.value}"
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.subject.key} contract"


class SuiteModule(pytest.Module):
    """A suite's test module, imported by its dotted name."""

    def _getobj(self) -> Any:
        import importlib

        plugin = self.parent
        assert isinstance(plugin, PluginCollector)
        suite = suites.get(plugin.subject.namespace)
        assert suite is not None
        return importlib.import_module(f"{suite.package}.{self.name}")


def plugin_collector_of(node: Any) -> PluginCollector | None:
    """The PluginCollector above *node*, if any."""
    while node is not None:
        if isinstance(node, PluginCollector):
            return node
        node = node.parent
    return None


def make_runs(
    subject: Subject,
    targets: list[Target],
    config_file_options: dict[str, dict[str, Any]],
    require_environment: bool,
) -> list[harness.TargetRun]:
    suite = suites.get(subject.namespace)
    if suite is None:
        return []
    runs = []
    seen: set[str] = set()
    for target in targets:
        if not isinstance(target, Target):
            raise ValueError(
                f"the targets of {subject.key} must be nubis.core.conformance.Target "
                f"objects, got {target!r}"
            )
        if target.id in seen:
            raise ValueError(f"{subject.key} has two targets named {target.id!r}")
        seen.add(target.id)
        unknown = sorted(set(target.extras) - set(suite.extras))
        if unknown:
            raise ValueError(
                f"target {target.id!r} of {subject.key} has unknown extras "
                f"{', '.join(unknown)}; the {subject.namespace} suite reads: "
                f"{', '.join(sorted(suite.extras)) or '(none)'}"
            )
        runs.append(
            harness.TargetRun(
                subject=subject,
                target=target,
                suite=suite,
                config_file_options=config_file_options,
                require_environment=require_environment,
            )
        )
    return runs
