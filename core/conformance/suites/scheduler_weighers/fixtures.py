"""Fixture of the weigher suite: ``nubis_weigher``, an instance of the weigher under test."""

from __future__ import annotations

from typing import Any

import pytest

from nubis.core.conformance import harness


@pytest.fixture
def nubis_weigher(nubis_target: harness.TargetRun, nubis_conf: Any) -> Any:
    return harness.ContractProxy(nubis_target.plugin(nubis_conf), nubis_target.label)
