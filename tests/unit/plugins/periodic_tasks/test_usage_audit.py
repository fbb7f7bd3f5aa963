"""The ``instance_usage_audit`` compute periodic task: off by default, once per period,
the instances of its host active during the last completed period, a usage record each,
its run in the task log -- on a fake-driver compute manager and a real SQLite database
behind the counting ``local`` indirection."""

from __future__ import annotations

import datetime
import json
import logging

import pytest

from nubis.core import exception, objects, periodic, plugins
from nubis.core.compute import usage_audit
from nubis.core.manager import Manager
from nubis.plugins.periodic_tasks import compute
from nubis.plugins.periodic_tasks.compute import usage_audit as task_module
from tests.unit.plugins.managers.compute.conftest import new_instance

TASK_LOG_READ = ("TaskLog", "get")
INSTANCES_READ = ("InstanceList", "get_all")


def _period():
    return usage_audit.last_completed_audit_period("month")


def _instance(ctx, host, launched=None, terminated=None, **kwargs):
    instance = new_instance(ctx, host, host, **kwargs)
    instance.launched_at = launched
    instance.terminated_at = terminated
    instance.save()
    return instance


def test_entry_point_and_schedule():
    task = plugins.load_one("nubis.periodic_tasks", "instance_usage_audit")
    assert task is compute.instance_usage_audit
    assert periodic.spec_of(task).spacing == 60


def test_a_manager_that_is_not_a_compute_host_is_refused(flags):
    flags(instance_usage_audit=True)
    with pytest.raises(exception.ConfigurationError, match="runs only on a compute manager"):
        compute.instance_usage_audit(Manager("not-compute"), None)


def test_off_unless_configured(ctx, compute_manager, indirection):
    manager = compute_manager()
    indirection.calls.clear()
    assert compute.instance_usage_audit(manager, ctx) is None
    assert not indirection.calls  # not even the task log is read


def test_a_period_is_audited_once(ctx, compute_manager, indirection, flags, caplog):
    flags(instance_usage_audit=True)
    manager = compute_manager()
    begin, end = _period()
    day = datetime.timedelta(days=1)
    whole = _instance(ctx, manager.host, launched=begin - day)
    part = _instance(ctx, manager.host, launched=begin + day, terminated=begin + 2 * day)
    _instance(ctx, manager.host, launched=end + day)  # launched after the period
    _instance(ctx, manager.host, launched=begin - 2 * day, terminated=begin - day)  # before
    _instance(ctx, manager.host)  # never launched
    _instance(ctx, "other-host", launched=begin + day)  # another host's

    with caplog.at_level(logging.INFO, logger=task_module.USAGE_LOGGER):
        result = compute.instance_usage_audit(manager, ctx)
    assert result == {"begin": begin, "end": end, "instances": 2, "errors": 0}

    records = {
        r["instance_id"]: r
        for r in (
            json.loads(rec.getMessage())
            for rec in caplog.records
            if rec.name == task_module.USAGE_LOGGER
        )
    }
    assert set(records) == {whole.uuid, part.uuid}
    hours = (end - begin).total_seconds() / 3600
    assert records[whole.uuid]["hours"] == pytest.approx(hours)
    assert records[part.uuid]["hours"] == pytest.approx(24.0)
    assert records[part.uuid]["event_type"] == "compute.instance.exists"
    assert records[part.uuid]["host"] == manager.host
    assert records[part.uuid]["audit_period_beginning"] == begin.isoformat(timespec="microseconds")

    log = objects.TaskLog.get(ctx, usage_audit.TASK_NAME, begin, end, manager.host)
    assert (log.state, log.task_items, log.errors) == ("DONE", 2, 0)
    assert log.message.startswith(f"Instance usage audit ran for host {manager.host}, 2 instances")

    # The next runs find the period done: one read of the task log each, nothing else.
    indirection.calls.clear()
    assert compute.instance_usage_audit(manager, ctx) is None
    assert indirection.calls == {TASK_LOG_READ: 1}


def test_each_host_audits_its_own(ctx, compute_manager, flags):
    flags(instance_usage_audit=True, instance_usage_audit_period="day")
    first, second = compute_manager(), compute_manager()
    begin, end = usage_audit.last_completed_audit_period("day")
    _instance(ctx, first.host, launched=begin)
    assert compute.instance_usage_audit(first, ctx)["instances"] == 1
    assert compute.instance_usage_audit(second, ctx)["instances"] == 0
    logs = objects.TaskLogList.get_all(ctx, usage_audit.TASK_NAME, begin, end)
    assert {(log.host, log.task_items) for log in logs} == {(first.host, 1), (second.host, 0)}


def test_a_period_begun_elsewhere_is_left_alone(ctx, compute_manager, flags):
    """A run that began the period (even one that died) keeps it: no second run."""
    flags(instance_usage_audit=True)
    manager = compute_manager()
    begin, end = _period()
    log = objects.TaskLog(ctx)
    log.task_name = usage_audit.TASK_NAME
    log.host = manager.host
    log.period_beginning = begin
    log.period_ending = end
    log.task_items = 7
    log.message = "begun"
    log.begin_task()
    assert compute.instance_usage_audit(manager, ctx) is None
    with pytest.raises(exception.TaskAlreadyRunning):
        log.begin_task()
    found = objects.TaskLog.get(ctx, usage_audit.TASK_NAME, begin, end, manager.host)
    assert (found.state, found.task_items) == ("RUNNING", 7)


def test_an_instance_whose_record_fails_is_counted_as_an_error(
    ctx, compute_manager, flags, monkeypatch
):
    # (A usage record cannot fail to be made from a real instance row: this branch is
    # reached by making the record builder fail for one instance.)
    flags(instance_usage_audit=True)
    manager = compute_manager()
    begin, _end = _period()
    bad = _instance(ctx, manager.host, launched=begin)
    _instance(ctx, manager.host, launched=begin)
    real = task_module.usage_record

    def failing(instance, *args):
        if instance.uuid == bad.uuid:
            raise ValueError("unreadable")
        return real(instance, *args)

    monkeypatch.setattr(task_module, "usage_record", failing)
    assert compute.instance_usage_audit(manager, ctx)["errors"] == 1
    log = objects.TaskLog.get(ctx, usage_audit.TASK_NAME, *_period(), manager.host)
    assert (log.state, log.task_items, log.errors) == ("DONE", 2, 1)


def test_ending_a_task_that_never_began_is_refused(ctx):
    begin, end = _period()
    log = objects.TaskLog(ctx)
    log.task_name = usage_audit.TASK_NAME
    log.host = "nowhere"
    log.period_beginning = begin
    log.period_ending = end
    log.errors = 0
    with pytest.raises(exception.TaskNotRunning):
        log.end_task()
