"""``/os-instance_usage_audit_log`` as Nova answers it: the audits of the last completed
period (or the last completed before a time), per compute host, from the task log the
compute hosts' ``instance_usage_audit`` periodic task writes."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

import pytest

from nubis.core import objects
from nubis.core.compute import usage_audit
from nubis.core.context import get_admin_context
from nubis.plugins.periodic_tasks.compute import instance_usage_audit
from tests.functional.api.conftest import Cloud, wait_for

LOG = "/v2.1/os-instance_usage_audit_log"
KEYS = {
    "hosts_not_run",
    "log",
    "num_hosts",
    "num_hosts_done",
    "num_hosts_not_run",
    "num_hosts_running",
    "overall_status",
    "period_beginning",
    "period_ending",
    "total_errors",
    "total_instances",
}


def _show(cloud: Cloud, before: str) -> Any:
    return cloud.client("admin").get(f"{LOG}/{quote(before)}")


def test_the_report_of_a_period_no_host_audited(cloud: Cloud) -> None:
    report = _show(cloud, "2001-03-15 10:00:00").json()["instance_usage_audit_log"]
    assert set(report) == KEYS
    assert report["period_beginning"] == "2001-02-01 00:00:00"
    assert report["period_ending"] == "2001-03-01 00:00:00"
    assert report["num_hosts"] == 2 and report["num_hosts_not_run"] == 2
    assert sorted(report["hosts_not_run"]) == ["cmp1", "cmp2"]
    assert report["num_hosts_done"] == report["num_hosts_running"] == 0
    assert report["total_instances"] == report["total_errors"] == 0
    assert report["log"] == {}
    assert report["overall_status"] == "0 of 2 hosts done. 0 errors."

    listed = cloud.client("admin").get(LOG)
    assert listed.status_code == 200
    assert set(listed.json()["instance_usage_audit_logs"]) == KEYS
    begin, end = usage_audit.last_completed_audit_period("month")
    assert listed.json()["instance_usage_audit_logs"]["period_ending"] == str(end)


@pytest.mark.parametrize(
    ("before", "beginning"),
    [
        ("2024-03-15 10:00:00.123456", "2024-02-01 00:00:00"),
        ("2024-01-01 00:00:00", "2023-11-01 00:00:00"),
    ],
)
def test_times_with_and_without_microseconds(cloud: Cloud, before: str, beginning: str) -> None:
    response = _show(cloud, before)
    assert response.status_code == 200, response.text
    assert response.json()["instance_usage_audit_log"]["period_beginning"] == beginning


@pytest.mark.parametrize(
    "before",
    [
        "invalid_time",
        "2024-03-15",
        "2024-03-15T10:00:00",
        "2024-13-01 00:00:00",
        "0001-01-01 00:00:00",
    ],
)
def test_a_bad_time_is_a_400(cloud: Cloud, before: str) -> None:
    response = _show(cloud, before)
    assert response.status_code == 400, response.text
    message = response.json()["badRequest"]["message"]
    assert before in message


def test_the_audit_of_a_host(cloud: Cloud, flags: Any) -> None:
    """With the option on, a host's periodic task audits the last completed period once
    and the report shows it done, with the instances it ran then."""
    ctx = get_admin_context()
    begin, end = usage_audit.last_completed_audit_period("month")
    server_id = cloud.boot("alice", name="audited")
    instance = objects.Instance.get_by_uuid(ctx, server_id)
    host = instance.host
    instance.launched_at = begin + datetime.timedelta(hours=1)  # it ran in that period
    instance.save()
    flags(instance_usage_audit=True)
    try:
        # The service's own periodic runner may take the period first: either way it
        # is audited once.
        instance_usage_audit(cloud.services[host].manager, get_admin_context())

        def done() -> Any:
            report = cloud.client("admin").get(LOG).json()["instance_usage_audit_logs"]
            return report if report["log"].get(host, {}).get("state") == "DONE" else None

        report = wait_for(done, what=f"{host}'s audit to be done")
        assert report["log"][host]["instances"] == 1 and report["log"][host]["errors"] == 0
        assert report["log"][host]["message"].startswith(
            f"Instance usage audit ran for host {host}, 1 instances"
        )
        assert report["num_hosts_done"] >= 1 and host not in report["hosts_not_run"]
        assert report["total_instances"] >= 1
        assert instance_usage_audit(cloud.services[host].manager, get_admin_context()) is None
    finally:
        flags(instance_usage_audit=False)
        cloud.delete_all_servers()


def test_members_may_not_read_it(cloud: Cloud) -> None:
    assert cloud.client("alice").get(LOG).status_code == 403
    assert cloud.client("alice").get(f"{LOG}/{quote('2024-03-15 10:00:00')}").status_code == 403
    assert cloud.client("alice").get(f"{LOG}/invalid_time").status_code == 403
