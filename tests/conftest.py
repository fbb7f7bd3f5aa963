"""Shared test set-up: the global configuration, parsed once, reset after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_log import log as logging

from nubis.core import rpc
from nubis.core.conf import CONF

pytest_plugins = ["pytester", "tests.fixtures.real_servers", "tests.fixtures.databases"]

logging.register_options(CONF)
rpc.register_opts(CONF)
CONF([], project="nubis")
# In-process clouds boot many servers in one project; the quota tests set their limits.
for _resource in ("instances", "cores", "ram"):
    CONF.set_override(_resource, -1, group="quota")


@pytest.fixture
def flags() -> Iterator[Callable[..., None]]:
    """``flags(group=None, **values)`` overrides options until the test ends; then each
    option gets back the override it had before (a package fixture's, e.g. the API
    cloud's database), or none."""
    overridden: list[tuple[str, str | None, bool, Any]] = []

    def set_flags(group: str | None = None, **values: Any) -> None:
        for name, value in values.items():
            # oslo.config has no public way to read an override, and clear_override
            # drops whatever a wider fixture had set.
            info = CONF._get_opt_info(name, group)
            overridden.append((name, group, "override" in info, info.get("override")))
            CONF.set_override(name, value, group=group)

    yield set_flags
    for name, group, had, previous in reversed(overridden):
        if had:
            CONF.set_override(name, previous, group=group)
        else:
            CONF.clear_override(name, group=group)
