"""Fixture of the manager suite: ``nubis_manager``, the class and an instance."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import deployment, harness


@dataclasses.dataclass
class ManagerUnderTest:
    run: harness.TargetRun
    cls: Any
    instance: Any
    conf: Any


@pytest.fixture
def nubis_manager(
    nubis_target: harness.TargetRun,
    nubis_flags: Callable[..., None],
    nubis_conf: Any,
    tmp_path: Path,
) -> Iterator[ManagerUnderTest]:
    cls = nubis_target.plugin
    with deployment.embedded(nubis_flags, tmp_path):
        instance = cls(host="cf-manager", conf=nubis_conf)
        yield ManagerUnderTest(nubis_target, cls, instance, nubis_conf)
