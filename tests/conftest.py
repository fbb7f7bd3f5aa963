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


@pytest.fixture
def flags() -> Iterator[Callable[..., None]]:
    """``flags(group=None, **values)`` overrides options until the test ends."""
    overridden: list[tuple[str, str | None]] = []

    def set_flags(group: str | None = None, **values: Any) -> None:
        for name, value in values.items():
            CONF.set_override(name, value, group=group)
            overridden.append((name, group))

    yield set_flags
    for name, group in reversed(overridden):
        CONF.clear_override(name, group=group)
