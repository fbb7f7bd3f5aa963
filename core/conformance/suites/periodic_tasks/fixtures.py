"""Fixture of the periodic-task suite: ``nubis_task``, the task and where it runs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from nubis.core.conformance import deployment, harness


@dataclasses.dataclass
class Task:
    """The task plugin under test and the service that runs it (None: not known)."""

    run: harness.TargetRun
    function: Any
    service: str | None


def runs_on(conf: Any, name: str) -> str | None:
    """The service whose ``[<service>] periodic_tasks`` lists task *name*, or None."""
    for group in deployment.service_groups(conf):
        if name in (getattr(conf[group], "periodic_tasks", None) or []):
            return group
    return None


@pytest.fixture
def nubis_task(nubis_target: harness.TargetRun, nubis_conf: Any) -> Task:
    service = nubis_target.target.extra("service") or runs_on(nubis_conf, nubis_target.subject.name)
    return Task(nubis_target, nubis_target.plugin, service)
