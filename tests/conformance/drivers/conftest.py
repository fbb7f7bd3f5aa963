"""Deployments for the tests of what only one servicegroup driver promises.

The same embedded deployment as the kit's servicegroup suite
(:func:`nubis.core.conformance.suites.servicegroup.fixtures.open_deployment`), with
the driver configured as tests/conformance/environment.py configures it for the kit.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nubis.core.conformance.suites.servicegroup.fixtures import Deployment, open_deployment
from tests.conformance import environment


def _deployment(
    name: str, request: pytest.FixtureRequest, flags: Callable[..., None], tmp_path: Path
) -> Iterator[Deployment]:
    (target,) = environment.SERVICEGROUP[name]
    for group, values in target.resolve_options(request).items():
        flags(group=None if group == "DEFAULT" else group, **values)
    # No left_behind check: these tests point the driver at servers of their own.
    with open_deployment(name, flags, tmp_path) as deployment:
        yield deployment


@pytest.fixture
def zk_deployment(
    request: pytest.FixtureRequest, flags: Callable[..., None], tmp_path: Path
) -> Iterator[Deployment]:
    yield from _deployment("zk", request, flags, tmp_path)


@pytest.fixture
def mc_deployment(
    request: pytest.FixtureRequest, flags: Callable[..., None], tmp_path: Path
) -> Iterator[Deployment]:
    yield from _deployment("mc", request, flags, tmp_path)


@pytest.fixture
def blackhole() -> Iterator[str]:
    """``host:port`` of a server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
