"""The conformance suites, one package per namespace.

Each package's docstring says what its suite checks and which ``Target.extras`` it
reads. Its test modules (``test_*.py``) hold plain pytest tests that take the suite's
fixtures (``fixtures.py`` in the package, registered by the kit when the suite runs);
every fixture and test name is unique across the suites of a namespace, and a test's
stable id is ``<namespace>::<test name>``. Tests of an optional capability carry
``@pytest.mark.nubis_capability(name)``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from types import ModuleType


@dataclasses.dataclass(frozen=True)
class Suite:
    """The suite of one namespace: its package and the Target extras it reads."""

    namespace: str
    package: str
    extras: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def modules(self) -> list[ModuleType]:
        """Import and return the suite's test modules, in name order."""
        pkg = importlib.import_module(self.package)
        names = sorted(
            info.name
            for info in pkgutil.iter_modules(pkg.__path__)
            if info.name.startswith("test_")
        )
        return [importlib.import_module(f"{self.package}.{name}") for name in names]

    def fixtures(self) -> ModuleType:
        """Import and return the module holding the suite's fixtures."""
        return importlib.import_module(f"{self.package}.fixtures")

    def tests(self) -> dict[str, ModuleType]:
        """Return every test name of the suite -> the module defining it."""
        found: dict[str, ModuleType] = {}
        for module in self.modules():
            for name, obj in vars(module).items():
                if (
                    name.startswith("test_")
                    and inspect.isfunction(obj)
                    and obj.__module__ == module.__name__
                ):
                    found[name] = module
        return found

    def test_names(self) -> list[str]:
        return sorted(self.tests())

    def capabilities(self) -> dict[str, str]:
        """Every test name -> the capability it checks (:data:`CORE`: a required test)."""
        result = {}
        for name, module in sorted(self.tests().items()):
            func = getattr(module, name)
            marks = [m for m in getattr(func, "pytestmark", []) if m.name == MARKER]
            result[name] = str(marks[0].args[0]) if marks else CORE
        return result

    def tests_of(self, capability: str) -> list[str]:
        """The names of the tests of *capability* (:data:`CORE`: the required ones)."""
        return [name for name, cap in self.capabilities().items() if cap == capability]

    def test_id(self, test_name: str) -> str:
        """The stable id of *test_name*: ``<namespace>::<test name>``."""
        return f"{self.namespace}::{test_name}"


_PKG = __name__

#: The pytest marker of a test of an optional capability (its argument: the name).
MARKER = "nubis_capability"
#: The capability of the tests every plugin must pass.
CORE = "core"

SUITES: dict[str, Suite] = {
    suite.namespace: suite
    for suite in (
        Suite(
            "nubis.virt",
            f"{_PKG}.virt",
            {"peer_options": "options of a second host, the live-migration destination"},
        ),
        Suite(
            "nubis.servicegroup",
            f"{_PKG}.servicegroup",
            {
                "fault": "callable(deployment) -> context manager: the server is away inside",
                "left_behind": "callable(deployment, host) -> str: what a left member holds",
            },
        ),
        Suite(
            "oslo.messaging.drivers",
            f"{_PKG}.transport",
            {"url": "the transport URL (str, or callable(request) -> str)"},
        ),
        Suite("nubis.indirection", f"{_PKG}.indirection"),
        Suite(
            "nubis.periodic_tasks",
            f"{_PKG}.periodic_tasks",
            {"service": "the service whose manager runs the task (e.g. 'compute')"},
        ),
        Suite("nubis.scheduler.filters", f"{_PKG}.scheduler_filters"),
        Suite("nubis.scheduler.weighers", f"{_PKG}.scheduler_weighers"),
        Suite("nubis.managers", f"{_PKG}.managers"),
    )
}


def get(namespace: str) -> Suite | None:
    """Return the suite of *namespace*, or None when the kit has none for it."""
    return SUITES.get(namespace)
