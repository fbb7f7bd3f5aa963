"""Fixtures every suite may use (registered by the kit with the first suite it runs).

* ``nubis_flags`` -- ``flags(group=None, **values)`` overrides options of nubis's
  global CONF until the test ends (the global CONF is parsed first if nothing did).
* ``nubis_conf`` -- the global CONF with the target's options applied (the kit's
  ``--nubis-config-file`` values, then the target's own); the plugin's published
  options (``oslo.config.opts`` entry point ``<namespace>.<plugin>``) are registered
  first. Groups of the config file that nothing registered are left out (the file
  may be a whole deployment's); an unknown option of a known group is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubis.core.conformance import harness, targets


@pytest.fixture
def nubis_flags() -> Iterator[Callable[..., None]]:
    conf = harness.ensure_global_conf()
    overridden: list[tuple[str, str | None]] = []

    def set_flags(group: str | None = None, **values: Any) -> None:
        for name, value in values.items():
            conf.set_override(name, value, group=group)
            overridden.append((name, group))

    yield set_flags
    for name, group in reversed(overridden):
        conf.clear_override(name, group=group)


@pytest.fixture
def nubis_conf(nubis_target: harness.TargetRun, request: pytest.FixtureRequest) -> Iterator[Any]:
    conf = harness.ensure_global_conf()
    subject = nubis_target.subject
    harness.register_plugin_opts(conf, subject.namespace, subject.name)
    hint = (
        f"publish the plugin's options under the oslo.config.opts entry point "
        f"'{subject.namespace}.{subject.name}'"
    )
    done: list[tuple[str, str | None]] = []
    try:
        done += targets.apply(
            conf, nubis_target.config_file_options, hint, skip_unknown_groups=True
        )
        done += targets.apply(conf, nubis_target.target.resolve_options(request), hint)
        problem = None
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        for name, group in reversed(done):
            conf.clear_override(name, group=group)
        pytest.fail(f"{nubis_target.label}: {problem}", pytrace=False)
    try:
        yield conf
    finally:
        for name, group in reversed(done):
            conf.clear_override(name, group=group)
