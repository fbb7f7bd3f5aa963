"""Fixture of the transport suite: ``nubis_backend``, one transport URL and its servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core.conformance import harness
from nubis.core.conformance.suites.transport.backend import Backend


def transport_url(run: harness.TargetRun, request: Any) -> str:
    """The URL the target names, the config file's for this scheme, or ``<plugin>://``."""
    url = run.target.extra("url")
    if callable(url):
        url = url(request)
    if url:
        return str(url)
    configured = run.config_file_options.get("DEFAULT", {}).get("transport_url")
    if isinstance(configured, str) and configured.startswith(f"{run.subject.name}:"):
        return configured
    return f"{run.subject.name}://"


@pytest.fixture(scope="module")
def nubis_backend(
    nubis_target: harness.TargetRun, request: pytest.FixtureRequest
) -> Iterator[Backend]:
    backend = Backend(nubis_target.label, transport_url(nubis_target, request))
    try:
        yield backend
    finally:
        backend.close()
