"""What every servicegroup driver must do, against its real server.

Members are real services started in this process; they are never restarted (see the
package docstring for the deployment and the harness checks). Every failure says what
was expected and what was observed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from nubis.core.conformance import harness
from nubis.core.conformance.harness import expect, expect_within
from nubis.core.conformance.suites.servicegroup.fixtures import (
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    Deployment,
)

# Scheduling slack on a loaded two-core machine.
SLACK = 1.0

pytestmark = pytest.mark.timeout(60)


def _up(observer: Any, deployment: Deployment, host: str) -> bool:
    return bool(observer.is_up(deployment.record(host)))


def test_joined_member_is_up_within_report_interval(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    began = time.monotonic()
    nubis_deployment.start("h1")
    expect_within(
        f"is_up(h1) after it joined (report_interval={REPORT_INTERVAL} s)",
        lambda: _up(observer, nubis_deployment, "h1"),
        True,
        REPORT_INTERVAL + SLACK,
    )
    took = time.monotonic() - began
    assert took <= REPORT_INTERVAL + SLACK, (
        f"joined member up after {took:.1f}s; expected within report_interval="
        f"{REPORT_INTERVAL} s (+{SLACK} s slack)"
    )
    expect(
        "get_all() of the group with h1 joined", observer.get_all(nubis_deployment.topic), ["h1"]
    )
    # ... and has shown when it was last alive by then.
    expect_within(
        "get_updated_time(h1) of a joined member",
        lambda: observer.get_updated_time(nubis_deployment.record("h1")),
        "a datetime (not None)",
        REPORT_INTERVAL + SLACK,
        accept=bool,
    )


def test_stopped_member_is_down_within_service_down_time(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    nubis_deployment.start("h1")
    nubis_deployment.start("h2")
    expect_within(
        "get_all() with h1 and h2 joined",
        lambda: observer.get_all(nubis_deployment.topic),
        ["h1", "h2"],
        5,
    )

    nubis_deployment.stop("h1")
    began = time.monotonic()
    expect_within(
        f"is_up(h1) after it left (service_down_time={SERVICE_DOWN_TIME} s)",
        lambda: _up(observer, nubis_deployment, "h1"),
        False,
        SERVICE_DOWN_TIME + SLACK,
    )
    took = time.monotonic() - began
    assert took <= SERVICE_DOWN_TIME + SLACK, (
        f"stopped member down after {took:.1f}s; expected within service_down_time="
        f"{SERVICE_DOWN_TIME} s (+{SLACK} s slack)"
    )
    expect("get_all() after h1 left", observer.get_all(nubis_deployment.topic), ["h2"])
    expect("is_up(h2), still joined", _up(observer, nubis_deployment, "h2"), True)

    # leave cleaned up after itself: no node, no key, no reporter left.
    expect("what h1 left behind on the server", nubis_deployment.left_behind("h1"), "")


def test_forced_down_member_is_down(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    nubis_deployment.start("h1")
    nubis_deployment.start("h2")
    expect_within(
        "get_all() with h1 and h2 joined",
        lambda: observer.get_all(nubis_deployment.topic),
        ["h1", "h2"],
        5,
    )

    record = nubis_deployment.record("h1")
    record.forced_down = True
    record.save()
    expect("is_up(h1) forced down", _up(observer, nubis_deployment, "h1"), False)
    expect("get_all() with h1 forced down", observer.get_all(nubis_deployment.topic), ["h2"])
    # The driver alone still sees the member: forced_down is the API's verdict.
    time.sleep(REPORT_INTERVAL)
    expect("is_up(h1) forced down, a report later", _up(observer, nubis_deployment, "h1"), False)

    record.forced_down = False
    record.save()
    expect("is_up(h1) no longer forced down", _up(observer, nubis_deployment, "h1"), True)
    expect(
        "get_all() with h1 no longer forced down",
        observer.get_all(nubis_deployment.topic),
        ["h1", "h2"],
    )


def test_get_all_agrees_with_is_up(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    hosts = ("h1", "h2", "h3", "h4")
    for host in hosts:
        nubis_deployment.start(host)
    expect_within(
        "get_all() with h1..h4 joined",
        lambda: observer.get_all(nubis_deployment.topic),
        list(hosts),
        5,
    )

    forced = nubis_deployment.record("h2")
    forced.forced_down = True
    forced.save()
    nubis_deployment.stop("h3")
    expect_within(
        "is_up(h3) after it left",
        lambda: _up(observer, nubis_deployment, "h3"),
        False,
        SERVICE_DOWN_TIME + SLACK,
    )

    up = [h for h in hosts if _up(observer, nubis_deployment, h)]
    expect("the members is_up() calls up (h2 forced down, h3 left)", up, ["h1", "h4"])
    expect("get_all() (h2 forced down, h3 left)", observer.get_all(nubis_deployment.topic), up)
    expect(
        "get_all() of a group nobody joined",
        observer.get_all(f"{nubis_deployment.topic}-empty"),
        [],
    )


def test_joining_or_leaving_twice_is_harmless(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    service = nubis_deployment.start("h1")  # the harness joins it twice already
    service.servicegroup_api.join("h1", nubis_deployment.topic, service)
    expect_within(
        "is_up(h1) joined three times",
        lambda: _up(observer, nubis_deployment, "h1"),
        True,
        REPORT_INTERVAL + SLACK,
    )
    time.sleep(REPORT_INTERVAL * 1.5)
    expect("get_all() with h1 joined three times", observer.get_all(nubis_deployment.topic), ["h1"])

    # Leaving a group one never joined is harmless.
    service.servicegroup_api.driver.leave("h1", f"{nubis_deployment.topic}-never", service)
    expect("is_up(h1) after it left another group", _up(observer, nubis_deployment, "h1"), True)

    # One leave undoes any number of joins (and the harness leaves twice): nothing keeps
    # reporting afterwards.
    nubis_deployment.stop("h1")
    expect_within(
        "is_up(h1) after one leave undid three joins",
        lambda: _up(observer, nubis_deployment, "h1"),
        False,
        SERVICE_DOWN_TIME + SLACK,
    )
    expect("what h1 left behind on the server", nubis_deployment.left_behind("h1"), "")


@pytest.mark.timeout(90)
def test_member_is_up_again_after_its_server_restarts(
    nubis_deployment: Deployment,
    nubis_target: harness.TargetRun,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server goes away and comes back; the service is never restarted.

    The member's own servicegroup API observes, so exactly one driver instance is
    involved: it logs the loss once (error) and the return once (info). The plugin's
    lines are found wherever its code lives (:func:`harness.plugin_loggers`).
    """
    fault = nubis_target.target.extra("fault")
    if fault is None:
        nubis_target.missing(f"{nubis_target.label}: no way to take its server away", extra="fault")
        return
    loggers = harness.plugin_loggers(nubis_target.subject)
    for name in loggers:
        caplog.set_level(logging.INFO, logger=name)
    service = nubis_deployment.start("h1")
    api = service.servicegroup_api
    expect_within(
        "is_up(h1) after it joined",
        lambda: _up(api, nubis_deployment, "h1"),
        True,
        REPORT_INTERVAL + SLACK,
    )
    caplog.clear()

    def lines(level: int) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno == level and harness.logged_by(r.name, loggers)
        ]

    def elsewhere(level: int) -> str:
        other = [
            f"{r.name}: {r.getMessage()}"
            for r in caplog.records
            if r.levelno == level and not harness.logged_by(r.name, loggers)
        ]
        return f" (lines at that level from other loggers: {other[:3]})" if other else ""

    where = f"from the plugin's loggers ({', '.join(loggers)})"
    with fault(nubis_deployment):
        expect_within(
            "is_up(h1) while its server is away",
            lambda: _up(api, nubis_deployment, "h1"),
            False,
            SERVICE_DOWN_TIME + 2 * SLACK,
        )
        # The loss is logged (the db driver notices when a report's transaction gives
        # up on the lock, after SQLite's 5 s busy timeout).
        ok, _ = harness.observe_until(lambda: lines(logging.ERROR), bool, 10)
        assert ok, (
            f"the loss of the server was not logged: expected one ERROR line {where}, "
            f"observed none{elsewhere(logging.ERROR)}"
        )
        time.sleep(REPORT_INTERVAL * 2)  # more failing reports: still one error line
        expect("get_all() while the server is away", api.get_all(nubis_deployment.topic), [])

    expect_within(
        "is_up(h1) after its server returned",
        lambda: _up(api, nubis_deployment, "h1"),
        True,
        10,
    )
    expect_within(
        "get_all() after the server returned",
        lambda: api.get_all(nubis_deployment.topic),
        ["h1"],
        10,
    )
    ok, _ = harness.observe_until(lambda: lines(logging.INFO), bool, 5)
    assert ok, (
        f"the return of the server was not logged: expected one INFO line {where}, "
        f"observed none{elsewhere(logging.INFO)}"
    )
    time.sleep(REPORT_INTERVAL * 1.5)
    errors, infos = lines(logging.ERROR), lines(logging.INFO)
    assert len(errors) == 1, (
        f"the loss of the server: expected one ERROR line {where}, observed "
        f"{len(errors)}: {errors[:5]}"
    )
    assert len(infos) == 1, (
        f"the return of the server: expected one INFO line {where}, observed "
        f"{len(infos)}: {infos[:5]}"
    )
    assert service.is_running, "the member's service stopped while its server was away"


@pytest.mark.nubis_capability("reports_through_conductor")
def test_reports_are_saved_in_the_service_record(nubis_deployment: Deployment) -> None:
    nubis_deployment.start("h1")
    first = nubis_deployment.record("h1").report_count
    expect_within(
        "report_count of h1's service record while it is joined",
        lambda: nubis_deployment.record("h1").report_count,
        f">= {first + 2} (2 more reports)",
        REPORT_INTERVAL * 3 + SLACK,
        accept=lambda count: count >= first + 2,
    )
    record = nubis_deployment.record("h1")
    assert record.last_seen_up is not None, (
        "a report did not stamp last_seen_up: expected a datetime, observed None"
    )
    nubis_deployment.stop("h1")
    stopped = nubis_deployment.record("h1").report_count
    time.sleep(REPORT_INTERVAL * 1.5)
    expect(
        "report_count of h1 after it left (no more reports)",
        nubis_deployment.record("h1").report_count,
        stopped,
    )
