"""What the kit tests: selections, and each selected plugin as loaded for production.

A selection is ``NAMESPACE:PLUGIN``, ``NAMESPACE`` (every installed plugin of it) or
``all`` (every installed plugin of every namespace). :func:`load` resolves a plugin
through :func:`nubis.core.plugins.load_one` -- the entry point production loads -- and
records everything the kit reports about it before any test runs: the distribution
and version, declared capabilities, waivers, and every contract problem.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from collections.abc import Iterable
from typing import Any

from nubis.core import exception, plugins
from nubis.core.conformance import capabilities, suites, waivers


@dataclasses.dataclass
class Subject:
    """One plugin under test, as loaded (or as it failed to load)."""

    namespace: str
    name: str
    entry_point: str
    distribution: str
    version: str
    plugin: Any = None
    problems: list[str] = dataclasses.field(default_factory=list)
    declared: dict[str, bool] = dataclasses.field(default_factory=dict)
    known: dict[str, str] = dataclasses.field(default_factory=dict)
    waivers: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}:{self.name}"

    @property
    def ok(self) -> bool:
        return not self.problems

    def has(self, capability: str) -> bool:
        return bool(self.declared.get(capability, False))


def parse(selection: str) -> tuple[str | None, str | None]:
    """Return (namespace, plugin) of one selection; (None, None) for ``all``.

    Raises ValueError naming the known namespaces for an unknown one.
    """
    text = selection.strip()
    if text in ("all", "*"):
        return None, None
    namespace, _, name = text.partition(":")
    known = [ns.name for ns in plugins.NAMESPACES]
    if namespace not in known:
        raise ValueError(
            f"unknown namespace {namespace!r} in selection {selection!r}; known: {', '.join(known)}"
        )
    if _ and not name:
        raise ValueError(f"selection {selection!r} names no plugin after ':'")
    return namespace, name or None


def installed(namespace: str) -> list[str]:
    """Every installed plugin of *namespace* the kit runs when none is named."""
    ns = plugins.namespace(namespace)
    names = set()
    for ep in importlib.metadata.entry_points(group=namespace):
        if ns.foreign(plugins.distribution_of(ep)[0]):
            continue  # e.g. oslo.messaging's own drivers: not nubis's to certify
        names.add(ep.name)
    return sorted(names)


def expand(selections: Iterable[str]) -> list[tuple[str, str]]:
    """Resolve selections to a sorted, de-duplicated list of (namespace, plugin)."""
    pairs: set[tuple[str, str]] = set()
    for selection in selections:
        namespace, name = parse(selection)
        namespaces = [namespace] if namespace else [ns.name for ns in plugins.NAMESPACES]
        for ns in namespaces:
            if name is not None:
                pairs.add((ns, name))
            else:
                pairs.update((ns, plugin) for plugin in installed(ns))
    return sorted(pairs)


def load(namespace: str, name: str) -> Subject:
    """Load plugin *name* of *namespace* as production does and check it; never raises."""
    ep = plugins.entry_point(namespace, name)
    dist = getattr(ep, "dist", None) if ep is not None else None
    subject = Subject(
        namespace=namespace,
        name=name,
        entry_point=ep.value if ep is not None else "",
        distribution=dist.metadata["Name"] if dist is not None else "",
        version=dist.version if dist is not None else "",
    )
    subject.known = capabilities.known(namespace)
    try:
        subject.plugin = plugins.load_one(namespace, name)
    except exception.PluginContractViolation:
        # Load it again, unchecked, to list every problem and still report its
        # capabilities and waivers.
        subject.plugin = ep.load()
        subject.problems = plugins.contract_problems(plugins.namespace(namespace), subject.plugin)
    except exception.NubisException as exc:
        subject.problems = [exception.one_line(exc)]
        return subject
    subject.declared = capabilities.declared(subject.plugin)
    subject.waivers = waivers.waivers_of(subject.plugin)
    suite = suites.get(namespace)
    subject.problems.extend(
        waivers.problems(subject.plugin, suite.test_names() if suite is not None else None)
    )
    return subject
