"""Fixture of the filter suite: ``nubis_filter``, an instance of the filter under test."""

from __future__ import annotations

from typing import Any

import pytest

from nubis.core.conformance import harness


@pytest.fixture
def nubis_filter(nubis_target: harness.TargetRun, nubis_conf: Any) -> Any:
    return harness.ContractProxy(nubis_target.plugin(nubis_conf), nubis_target.label)
