"""What every suite uses: the run of one target, skips that say why, the contract proxy.

Suites import from here, never from the pytest plugin. The skip helpers record *why*
a test did not run (``not-declared``, ``withdrawn``, ``environment``) so that the
reports can give each capability its verdict.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
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

    def missing(self, reason: str) -> None:
        """The environment cannot run this test: skip, or fail when it is required."""
        missing(reason, self.require_environment)


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


def skip(kind: str, reason: str) -> None:
    """Skip the running test for *reason*, recording *kind* for the reports."""
    item = current_item()
    if item is not None:
        item.user_properties.append(("nubis_skip_kind", kind))
    pytest.skip(reason)


def missing(reason: str, required: bool | None = None) -> None:
    """Skip for a missing environment, or fail when the environment is required.

    *required* None: as the session says (``--nubis-require-environment`` or
    ``NUBIS_REQUIRE_SERVERS=1``).
    """
    if required is None:
        item = current_item()
        if item is not None and REQUIRE_KEY in item.config.stash:
            required = item.config.stash[REQUIRE_KEY]
        else:
            required = os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false")
    if required:
        pytest.fail(f"environment missing (and required): {reason}")
    skip(ENVIRONMENT, reason)


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
                pytest.fail(
                    f"{self._label}.{name}() raised NotImplementedError ({exc}); the "
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


def plugin_opts(namespace: str, name: str) -> list[tuple[str | None, list[Any]]]:
    """The options plugin *name* publishes: ``oslo.config.opts`` entry point ``<ns>.<name>``."""
    for ep in importlib.metadata.entry_points(group="oslo.config.opts"):
        if ep.name == f"{namespace}.{name}":
            return [(group, list(opts)) for group, opts in ep.load()()]
    return []


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
