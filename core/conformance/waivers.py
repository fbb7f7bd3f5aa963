"""Waivers: tests a plugin is known to fail, each with a written reason.

A plugin declares them in its code, either as an attribute (a class or a function)::

    conformance_waivers = {"test_member_is_up_again_after_its_server_restarts": "why"}

or with the :func:`waive` decorator, which adds to the same attribute::

    @waive("test_lifecycle_events_arrive", "the hypervisor has no event stream yet")
    class MyDriver(ComputeDriver): ...

Keys are test names of the plugin's namespace suite (the stable id without the
``<namespace>::`` prefix). :func:`problems` rejects unknown tests and empty reasons;
the kit reports them as contract problems before any test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

ATTRIBUTE = "conformance_waivers"

T = TypeVar("T")


def waive(test: str, reason: str) -> Callable[[T], T]:
    """Decorate a plugin class or function: waive suite test *test* for *reason*."""
    if not isinstance(test, str) or not test.strip():
        raise ValueError(f"waive(): the test name must be a non-empty str, got {test!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"waive({test!r}): a waiver needs a written reason, got {reason!r}")

    def decorate(plugin: T) -> T:
        # A copy: a subclass must not add waivers to its parent's mapping.
        current = dict(getattr(plugin, ATTRIBUTE, None) or {})
        current[test] = reason
        setattr(plugin, ATTRIBUTE, current)
        return plugin

    return decorate


def waivers_of(plugin: Any) -> dict[str, str]:
    """Return *plugin*'s waivers (test name -> reason); {} when it has none or they are bad."""
    value = getattr(plugin, ATTRIBUTE, None) or {}
    if not isinstance(value, Mapping):
        return {}
    return {str(test): str(reason) for test, reason in value.items()}


def problems(plugin: Any, tests: Iterable[str] | None) -> list[str]:
    """Return what is wrong with *plugin*'s waivers; *tests*: the suite's test names.

    *tests* None means the namespace has no suite: then any waiver is a problem.
    """
    value = getattr(plugin, ATTRIBUTE, None)
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"{ATTRIBUTE} must be a mapping of test name -> reason, got {type(value).__name__}"]
    known = set(tests) if tests is not None else set()
    found = []
    for test, reason in value.items():
        if test not in known:
            hint = "the namespace has no suite" if tests is None else "no such test in its suite"
            found.append(f"waiver for unknown test {test!r} ({hint})")
        elif not isinstance(reason, str) or not reason.strip():
            found.append(f"waiver for {test!r} has no written reason")
    return found
