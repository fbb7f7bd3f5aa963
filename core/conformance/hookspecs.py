"""The hook an environment implements to tell the kit how to run a plugin."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    """Return the :class:`~nubis.core.conformance.targets.Target` list of *plugin*.

    Called once per selected plugin, during collection, on the conftest.py files that
    apply where the suites are collected and on every pytest plugin. The first
    non-None answer wins; the kit's own answer (one target named after the plugin,
    configured by ``--nubis-config-file``) comes last. Return an empty list to run
    only the plugin's contract check.
    """
