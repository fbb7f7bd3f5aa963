"""What every suite uses: the run of one target, skips that say why, the contract proxy.

Suites import from here, never from the pytest plugin. The skip helpers record *why*
a test did not run (``not-declared``, ``withdrawn``, ``environment``) so that the
reports can give each capability its verdict.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from nubis.core.conformance.subjects import Subject
from nubis.core.conformance.suites import Suite
from nubis.core.conformance.targets import Target

#: Skip kinds (the reports' vocabulary).
NOT_DECLARED = "not-declared"
WITHDRAWN = "withdrawn"
ENVIRONMENT = "environment"
CONTRACT = "contract"
#: A test that does not apply to this plugin (e.g. "undeclared X is refused" when X is
#: declared); it counts as neither a pass nor a gap.
NOT_APPLICABLE = "not-applicable"

#: The environment variable nubis's CI sets; it turns environment skips into failures.
REQUIRE_ENV = "NUBIS_REQUIRE_SERVERS"

#: Whether the session requires every environment (set by the kit's pytest plugin).
REQUIRE_KEY = pytest.StashKey[bool]()
#: Set on a kit item whose test body failed (its harness then reports no leftovers).
CALL_FAILED = pytest.StashKey[bool]()

_current: list[Any] = []  # the kit items being run (a stack: pytester nests sessions)


@dataclasses.dataclass
class TargetRun:
    """One plugin under one target: what every test of the target gets first."""

    subject: Subject
    target: Target
    suite: Suite
    #: The kit's ``--nubis-config-file`` values (``{group: {option: value}}``).
    config_file_options: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    require_environment: bool = False
    withdrawn: set[str] = dataclasses.field(default_factory=set)

    @property
    def label(self) -> str:
        """``<plugin>`` or ``<plugin>/<target>`` when the target has its own name."""
        name = self.subject.name
        return name if self.target.id == name else f"{name}/{self.target.id}"

    @property
    def plugin(self) -> Any:
        return self.subject.plugin

    def note_instance(self, instance: Any) -> None:
        """Record the capabilities *instance* withdrew from its class's declaration."""
        from nubis.core.conformance import capabilities

        self.withdrawn.update(capabilities.withdrawn(self.plugin, instance))

    def require(self, capability: str, instance: Any = None) -> None:
        """Skip the test unless the plugin (and *instance*, if given) has *capability*."""
        if not self.subject.has(capability):
            skip(NOT_DECLARED, f"{self.label} does not declare {capability}")
        if instance is not None:
            self.note_instance(instance)
            if capability in self.withdrawn:
                skip(
                    WITHDRAWN,
                    f"{self.label} withdraws {capability} in this configuration",
                )

    def missing(self, reason: str, extra: str | None = None) -> None:
        """The environment cannot run this test: skip, or fail when it is required.

        *extra*: the ``Target.extras`` key that would let the test run (the reports
        name it, with what the suite says it is).
        """
        missing(reason, self.require_environment, extra)


def call_failed(item: Any) -> bool:
    """Whether the body of test *item* failed (its leftovers are then no news)."""
    return bool(item.stash.get(CALL_FAILED, False))


def current_item() -> Any:
    """The kit test item running now (None outside one)."""
    return _current[-1] if _current else None


def push_item(item: Any) -> None:
    _current.append(item)


def pop_item() -> None:
    if _current:
        _current.pop()


#: The user properties the kit records on an item for its reports.
SKIP_KIND = "nubis_skip_kind"
MISSING_EXTRA = "nubis_missing_extra"
NOT_IMPLEMENTED = "nubis_not_implemented"


def skip(kind: str, reason: str, extra: str | None = None) -> None:
    """Skip the running test for *reason*, recording *kind* (and the *extra* that would
    let it run) for the reports."""
    item = current_item()
    if item is not None:
        item.user_properties.append((SKIP_KIND, kind))
        if extra:
            item.user_properties.append((MISSING_EXTRA, extra))
    pytest.skip(reason)


def not_implemented(method: str) -> None:
    """Record that *method* of the plugin raised NotImplementedError in this test."""
    item = current_item()
    if item is not None:
        not_implemented_by(item, method)


def not_implemented_by(item: Any, method: str) -> None:
    """Record on test *item* that *method* raised NotImplementedError (reported once)."""
    if (NOT_IMPLEMENTED, method) not in item.user_properties:
        item.user_properties.append((NOT_IMPLEMENTED, method))


def missing(reason: str, required: bool | None = None, extra: str | None = None) -> None:
    """Skip for a missing environment, or fail when the environment is required.

    *required* None: as the session says (``--nubis-require-environment`` or
    ``NUBIS_REQUIRE_SERVERS=1``). *extra*: the ``Target.extras`` key that would give
    the test what it misses.
    """
    if required is None:
        item = current_item()
        if item is not None and REQUIRE_KEY in item.config.stash:
            required = item.config.stash[REQUIRE_KEY]
        else:
            required = os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false")
    if required:
        pytest.fail(f"environment missing (and required): {reason}")
    skip(ENVIRONMENT, reason, extra)


class ContractProxy:
    """Forwards to a plugin instance; NotImplementedError from it fails the test, saying why."""

    def __init__(self, wrapped: Any, label: str) -> None:
        self._wrapped = wrapped
        self._label = label

    @property
    def wrapped(self) -> Any:
        return self._wrapped

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._wrapped, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except NotImplementedError as exc:
                missing = str(exc)
            not_implemented(f"{name}()")
            pytest.fail(
                f"{self._label}.{name}() raised NotImplementedError ({missing}); the "
                "contract forbids it: implement it, or declare the capability it needs "
                "as unsupported",
                pytrace=False,
            )

        return call


def wait_for(predicate: Callable[[], Any], timeout: float, what: str = "") -> None:
    """Poll *predicate* every 20 ms; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.1f}s waiting for {what or predicate}")
        time.sleep(0.02)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll *predicate* until it is true (-> True) or *timeout* seconds pass (-> False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def observe_until(
    observe: Callable[[], Any],
    accept: Callable[[Any], Any],
    timeout: float,
    interval: float = 0.05,
) -> tuple[bool, Any]:
    """Poll *observe* until *accept* of its value is true or *timeout* seconds pass.

    Returns ``(accepted, last value observed)``, so that a failure can say what was
    seen (:func:`expect_within` fails with it).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if accept(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(interval)


def expect_within(
    what: str,
    observe: Callable[[], Any],
    expected: Any,
    timeout: float,
    accept: Callable[[Any], Any] | None = None,
) -> Any:
    """Wait up to *timeout* seconds for *observe()* to give *expected* (or a value
    *accept* takes, *expected* then describing it); fail the test saying what was
    expected and what was observed last. Returns the accepted value."""
    check = accept if accept is not None else (lambda value: value == expected)
    ok, last = observe_until(observe, check, timeout)
    if not ok:
        pytest.fail(
            f"{what}: expected {expected!r} within {timeout:.1f}s, observed {last!r}",
            pytrace=False,
        )
    return last


def expect(what: str, observed: Any, expected: Any) -> None:
    """Fail the test unless *observed* equals *expected*, saying both."""
    if observed != expected:
        pytest.fail(f"{what}: expected {expected!r}, observed {observed!r}", pytrace=False)


def plugin_loggers(subject: Subject) -> list[str]:
    """The logger names the plugin's own log lines come from (each also a prefix).

    The modules of the plugin's classes (its own and every base outside nubis's
    contracts, wherever they live) and the top-level packages of its distribution --
    for a plugin shipped inside nubis, its own package (``nubis.plugins.<slot>``) --
    so that a driver logging through a base class or a helper module of its package is
    heard, and nubis's own lines are not taken for the plugin's.
    """
    plugin = subject.plugin
    names: set[str] = set()
    classes = inspect.getmro(plugin) if inspect.isclass(plugin) else (plugin,)
    for cls in classes:
        module = str(getattr(cls, "__module__", "") or "")
        if module and module not in ("builtins", "abc") and not module.startswith("nubis.core"):
            names.add(module)
    module = subject.entry_point.partition(":")[0]
    tops = set()
    if subject.distribution:
        mapping = importlib.metadata.packages_distributions()
        tops = {top for top, dists in mapping.items() if subject.distribution in dists}
    if module:
        tops.add(module.split(".")[0])
    for top in tops:
        if top == __name__.split(".")[0]:  # nubis itself: the plugin's own package
            names.add(module.rpartition(".")[0] or module)
        elif not top.startswith("_"):
            names.add(top)
    return sorted(n for n in names if n and not any(logged_by(n, [o]) for o in names - {n}))


def logged_by(logger: str, prefixes: list[str]) -> bool:
    """Whether logger *logger* is one of *prefixes* or below one of them."""
    return any(logger == p or logger.startswith(p + ".") for p in prefixes)


def plugin_opts(namespace: str, name: str) -> list[tuple[str | None, list[Any]]]:
    """The options plugin *name* publishes: ``oslo.config.opts`` entry point ``<ns>.<name>``."""
    from nubis.core import plugins

    return plugins.published_options(namespace, name)


def register_plugin_opts(conf: Any, namespace: str, name: str) -> None:
    """Register plugin *name*'s published options on *conf* (same options: a no-op)."""
    for group, opts in plugin_opts(namespace, name):
        conf.register_opts(opts, group=group)


def ensure_global_conf() -> Any:
    """Return nubis's global CONF, parsed (with no files) if nothing parsed it yet."""
    from oslo_config import cfg
    from oslo_log import log as logging

    from nubis.core import rpc
    from nubis.core.conf import CONF

    if getattr(CONF, "_args", None) is None:
        try:
            logging.register_options(CONF)
        except cfg.ArgsAlreadyParsedError:
            pass
        rpc.register_opts(CONF)
        CONF([], project="nubis", default_config_files=[])
    return CONF
