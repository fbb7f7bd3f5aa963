"""What every servicegroup driver must do, against its real server.

Members are real services started in this process; they are never restarted (see the
package docstring for the deployment and the harness checks).
"""

from __future__ import annotations

import logging
import time

import pytest

from nubis.core.conformance import harness
from nubis.core.conformance.harness import wait_until
from nubis.core.conformance.suites.servicegroup.fixtures import (
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    Deployment,
)

# Scheduling slack on a loaded two-core machine.
SLACK = 1.0

pytestmark = pytest.mark.timeout(60)


def test_joined_member_is_up_within_report_interval(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    began = time.monotonic()
    nubis_deployment.start("h1")
    assert wait_until(
        lambda: observer.is_up(nubis_deployment.record("h1")), REPORT_INTERVAL + SLACK
    ), f"joined member not up within report_interval={REPORT_INTERVAL} s"
    assert time.monotonic() - began <= REPORT_INTERVAL + SLACK
    assert observer.get_all(nubis_deployment.topic) == ["h1"]
    # ... and has shown when it was last alive by then.
    assert wait_until(
        lambda: observer.get_updated_time(nubis_deployment.record("h1")), REPORT_INTERVAL + SLACK
    )


def test_stopped_member_is_down_within_service_down_time(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    nubis_deployment.start("h1")
    nubis_deployment.start("h2")
    assert wait_until(lambda: observer.get_all(nubis_deployment.topic) == ["h1", "h2"], 5)

    nubis_deployment.stop("h1")
    began = time.monotonic()
    assert wait_until(
        lambda: not observer.is_up(nubis_deployment.record("h1")), SERVICE_DOWN_TIME + SLACK
    ), f"stopped member still up after service_down_time={SERVICE_DOWN_TIME} s"
    assert time.monotonic() - began <= SERVICE_DOWN_TIME + SLACK
    assert observer.get_all(nubis_deployment.topic) == ["h2"]
    assert observer.is_up(nubis_deployment.record("h2"))

    # leave cleaned up after itself: no node, no key, no reporter left.
    assert nubis_deployment.left_behind("h1") == ""


def test_forced_down_member_is_down(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    nubis_deployment.start("h1")
    nubis_deployment.start("h2")
    assert wait_until(lambda: observer.get_all(nubis_deployment.topic) == ["h1", "h2"], 5)

    record = nubis_deployment.record("h1")
    record.forced_down = True
    record.save()
    assert not observer.is_up(nubis_deployment.record("h1"))
    assert observer.get_all(nubis_deployment.topic) == ["h2"]
    # The driver alone still sees the member: forced_down is the API's verdict.
    time.sleep(REPORT_INTERVAL)
    assert not observer.is_up(nubis_deployment.record("h1"))

    record.forced_down = False
    record.save()
    assert observer.is_up(nubis_deployment.record("h1"))
    assert observer.get_all(nubis_deployment.topic) == ["h1", "h2"]


def test_get_all_agrees_with_is_up(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    for host in ("h1", "h2", "h3", "h4"):
        nubis_deployment.start(host)
    assert wait_until(lambda: len(observer.get_all(nubis_deployment.topic)) == 4, 5)

    forced = nubis_deployment.record("h2")
    forced.forced_down = True
    forced.save()
    nubis_deployment.stop("h3")
    assert wait_until(
        lambda: not observer.is_up(nubis_deployment.record("h3")), SERVICE_DOWN_TIME + SLACK
    )

    up = [h for h in ("h1", "h2", "h3", "h4") if observer.is_up(nubis_deployment.record(h))]
    assert up == ["h1", "h4"]
    assert observer.get_all(nubis_deployment.topic) == up
    assert observer.get_all(f"{nubis_deployment.topic}-empty") == []


def test_joining_or_leaving_twice_is_harmless(nubis_deployment: Deployment) -> None:
    observer = nubis_deployment.observer()
    service = nubis_deployment.start("h1")  # the harness joins it twice already
    service.servicegroup_api.join("h1", nubis_deployment.topic, service)
    assert wait_until(
        lambda: observer.is_up(nubis_deployment.record("h1")), REPORT_INTERVAL + SLACK
    )
    time.sleep(REPORT_INTERVAL * 1.5)
    assert observer.get_all(nubis_deployment.topic) == ["h1"]

    # Leaving a group one never joined is harmless.
    service.servicegroup_api.driver.leave("h1", f"{nubis_deployment.topic}-never", service)
    assert observer.is_up(nubis_deployment.record("h1"))

    # One leave undoes any number of joins (and the harness leaves twice): nothing keeps
    # reporting afterwards.
    nubis_deployment.stop("h1")
    assert wait_until(
        lambda: not observer.is_up(nubis_deployment.record("h1")), SERVICE_DOWN_TIME + SLACK
    )
    assert nubis_deployment.left_behind("h1") == ""


@pytest.mark.timeout(90)
def test_member_is_up_again_after_its_server_restarts(
    nubis_deployment: Deployment,
    nubis_target: harness.TargetRun,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The server goes away and comes back; the service is never restarted.

    The member's own servicegroup API observes, so exactly one driver instance is
    involved: it logs the loss once (error) and the return once (info).
    """
    fault = nubis_target.target.extra("fault")
    if fault is None:
        nubis_target.missing(
            f"{nubis_target.label}: no way to take its server away (give the target a "
            "'fault' extra)"
        )
        return
    logger = str(nubis_target.plugin.__module__)
    caplog.set_level(logging.INFO, logger=logger)
    service = nubis_deployment.start("h1")
    api = service.servicegroup_api
    assert wait_until(lambda: api.is_up(nubis_deployment.record("h1")), REPORT_INTERVAL + SLACK)
    caplog.clear()

    def lines(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]

    with fault(nubis_deployment):
        assert wait_until(
            lambda: not api.is_up(nubis_deployment.record("h1")), SERVICE_DOWN_TIME + 2 * SLACK
        ), "member still up while its server is away"
        # The loss is logged (the db driver notices when a report's transaction gives
        # up on the lock, after SQLite's 5 s busy timeout).
        assert wait_until(lambda: lines(logging.ERROR), 10), "the loss was not logged"
        time.sleep(REPORT_INTERVAL * 2)  # more failing reports: still one error line
        assert api.get_all(nubis_deployment.topic) == []

    assert wait_until(lambda: api.is_up(nubis_deployment.record("h1")), 10), (
        "member not up again after its server returned"
    )
    assert api.get_all(nubis_deployment.topic) == ["h1"]
    assert wait_until(lambda: lines(logging.INFO), 5), "the return was not logged"
    time.sleep(REPORT_INTERVAL * 1.5)
    errors, infos = lines(logging.ERROR), lines(logging.INFO)
    assert len(errors) == 1, errors
    assert len(infos) == 1, infos
    assert service.is_running


@pytest.mark.nubis_capability("reports_through_conductor")
def test_reports_are_saved_in_the_service_record(nubis_deployment: Deployment) -> None:
    nubis_deployment.start("h1")
    first = nubis_deployment.record("h1").report_count
    assert wait_until(
        lambda: nubis_deployment.record("h1").report_count >= first + 2,
        REPORT_INTERVAL * 3 + SLACK,
    ), "report_count does not grow while the member is joined"
    record = nubis_deployment.record("h1")
    assert record.last_seen_up is not None, "a report did not stamp last_seen_up"
    nubis_deployment.stop("h1")
    stopped = nubis_deployment.record("h1").report_count
    time.sleep(REPORT_INTERVAL * 1.5)
    assert nubis_deployment.record("h1").report_count == stopped, "reports go on after leave"
