"""The suites themselves: stable ids, capabilities that exist, every capability tested."""

from __future__ import annotations

import inspect

import pytest

from nubis.core import plugins
from nubis.core.conformance import capabilities, suites
from nubis.core.conformance.pytest_plugin import MARKER


def _capability_of(func: object) -> str | None:
    marks = [m for m in getattr(func, "pytestmark", []) if m.name == MARKER]
    return str(marks[0].args[0]) if marks else None


@pytest.mark.parametrize("namespace", sorted(suites.SUITES))
def test_suite_ids_are_unique_and_capabilities_known(namespace: str) -> None:
    suite = suites.SUITES[namespace]
    assert plugins.namespace(namespace).name == namespace
    seen: dict[str, str] = {}
    for module in suite.modules():
        for name, func in vars(module).items():
            if not (name.startswith("test_") and inspect.isfunction(func)):
                continue
            assert name not in seen, f"{name} in both {seen[name]} and {module.__name__}"
            seen[name] = module.__name__
            marks = [m.name for m in getattr(func, "pytestmark", [])]
            assert "parametrize" not in marks, f"{name}: parametrized (ids would not be stable)"
            capability = _capability_of(func)
            if capability is not None:
                assert capability in capabilities.known(namespace), f"{name}: {capability}"
    assert seen, f"the {namespace} suite has no tests"
    tested = {_capability_of(vars(m)[n]) for n, m in suite.tests().items()}
    untested = set(capabilities.known(namespace)) - tested
    assert not untested, f"capabilities without a test in the {namespace} suite: {untested}"


def test_every_namespace_with_plugins_of_nubis_has_a_suite() -> None:
    # nubis.api.auth is checked at load only (its suite belongs to the API's issue).
    without = {ns.name for ns in plugins.NAMESPACES} - set(suites.SUITES)
    assert without <= {"nubis.api.auth"}, without
