"""The default compute periodic tasks (nubis.plugins.periodic_tasks.compute): their
entry points and schedules, that they refuse a manager that is not a ComputeHost, and
the audit's summary line. Their rules on a real manager are tested in
tests/unit/plugins/managers/compute (test_power_sync, test_resource_tracker)."""

from __future__ import annotations

import logging

import pytest

from nubis.core import exception, periodic, plugins
from nubis.core.manager import Manager
from nubis.plugins.periodic_tasks import compute

TASKS = {"update_available_resource": 60, "sync_power_states": 600, "reap_orphans": 1800}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_entry_points_and_schedules(name):
    task = plugins.load_one("nubis.periodic_tasks", name)
    assert task is getattr(compute, name)
    assert periodic.spec_of(task).spacing == TASKS[name]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_manager_that_is_not_a_compute_host_is_refused(name):
    task = plugins.load_one("nubis.periodic_tasks", name)
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager"):
        task(Manager("not-compute"), None)


def test_the_audit_says_first_once_and_then_only_changes(ctx, compute_manager, caplog):
    manager = compute_manager()
    logger = "nubis.plugins.periodic_tasks.compute.audit"
    with caplog.at_level(logging.INFO, logger=logger):
        compute.update_available_resource(manager, ctx)
        compute.update_available_resource(manager, ctx)
    lines = [r.getMessage() for r in caplog.records if r.name == logger]
    assert lines == [
        f"resource audit of {manager.host} completed (first): "
        f"{manager.host}: 0 instances, 0 migrations, 0 orphans, created"
    ]
    other = compute_manager()  # counted per host
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logger):
        compute.update_available_resource(other, ctx)
    assert "completed (first)" in caplog.text
