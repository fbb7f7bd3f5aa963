"""What every servicegroup driver must do, against its real server.

Members are real services started in this process; they are never restarted. Each
test runs once per installed driver (see conftest.py): db, zk (ZooKeeper), mc
(memcached) and any third-party driver.
"""

from __future__ import annotations

import logging
import time

import pytest

from nubis.core import plugins
from tests.conformance.servicegroup.conftest import (
    REPORT_INTERVAL,
    SERVICE_DOWN_TIME,
    Deployment,
    driver_logger,
    wait_until,
)
from tests.fixtures.require import missing

# Scheduling slack on a loaded two-core machine.
SLACK = 1.0

pytestmark = pytest.mark.timeout(60)


def test_driver_conforms_to_the_contract(driver_name: str) -> None:
    cls = plugins.load_one("nubis.servicegroup", driver_name)
    assert plugins.contract_problems(plugins.namespace("nubis.servicegroup"), cls) == []
    assert all(isinstance(v, bool) for v in cls.capabilities.values())


def test_joined_member_is_up_within_report_interval(deployment: Deployment) -> None:
    observer = deployment.observer()
    began = time.monotonic()
    deployment.start("h1")
    assert wait_until(lambda: observer.is_up(deployment.record("h1")), REPORT_INTERVAL + SLACK), (
        f"joined member not up within report_interval={REPORT_INTERVAL} s"
    )
    assert time.monotonic() - began <= REPORT_INTERVAL + SLACK
    assert observer.get_all(deployment.topic) == ["h1"]
    # ... and has shown when it was last alive by then.
    assert wait_until(
        lambda: observer.get_updated_time(deployment.record("h1")), REPORT_INTERVAL + SLACK
    )


def test_stopped_member_is_down_within_service_down_time(deployment: Deployment) -> None:
    observer = deployment.observer()
    deployment.start("h1")
    deployment.start("h2")
    assert wait_until(lambda: observer.get_all(deployment.topic) == ["h1", "h2"], 5)

    deployment.stop("h1")
    began = time.monotonic()
    assert wait_until(
        lambda: not observer.is_up(deployment.record("h1")), SERVICE_DOWN_TIME + SLACK
    ), f"stopped member still up after service_down_time={SERVICE_DOWN_TIME} s"
    assert time.monotonic() - began <= SERVICE_DOWN_TIME + SLACK
    assert observer.get_all(deployment.topic) == ["h2"]
    assert observer.is_up(deployment.record("h2"))

    # leave cleaned up after itself: no node, no key, no reporter left.
    if deployment.provision is not None and deployment.provision.left_behind is not None:
        assert deployment.provision.left_behind(deployment, "h1") == ""


def test_forced_down_member_is_down(deployment: Deployment) -> None:
    observer = deployment.observer()
    deployment.start("h1")
    deployment.start("h2")
    assert wait_until(lambda: observer.get_all(deployment.topic) == ["h1", "h2"], 5)

    record = deployment.record("h1")
    record.forced_down = True
    record.save()
    assert not observer.is_up(deployment.record("h1"))
    assert observer.get_all(deployment.topic) == ["h2"]
    # The driver alone still sees the member: forced_down is the API's verdict.
    time.sleep(REPORT_INTERVAL)
    assert not observer.is_up(deployment.record("h1"))

    record.forced_down = False
    record.save()
    assert observer.is_up(deployment.record("h1"))
    assert observer.get_all(deployment.topic) == ["h1", "h2"]


def test_get_all_agrees_with_is_up(deployment: Deployment) -> None:
    observer = deployment.observer()
    for host in ("h1", "h2", "h3", "h4"):
        deployment.start(host)
    assert wait_until(lambda: len(observer.get_all(deployment.topic)) == 4, 5)

    forced = deployment.record("h2")
    forced.forced_down = True
    forced.save()
    deployment.stop("h3")
    assert wait_until(
        lambda: not observer.is_up(deployment.record("h3")), SERVICE_DOWN_TIME + SLACK
    )

    up = [h for h in ("h1", "h2", "h3", "h4") if observer.is_up(deployment.record(h))]
    assert up == ["h1", "h4"]
    assert observer.get_all(deployment.topic) == up
    assert observer.get_all(f"{deployment.topic}-empty") == []


def test_join_twice_is_harmless(deployment: Deployment) -> None:
    observer = deployment.observer()
    service = deployment.start("h1")
    service.servicegroup_api.join("h1", deployment.topic, service)
    service.servicegroup_api.join("h1", deployment.topic, service)
    assert wait_until(lambda: observer.is_up(deployment.record("h1")), REPORT_INTERVAL + SLACK)
    time.sleep(REPORT_INTERVAL * 1.5)
    assert observer.get_all(deployment.topic) == ["h1"]

    # One leave undoes any number of joins: nothing keeps reporting afterwards.
    deployment.stop("h1")
    assert wait_until(
        lambda: not observer.is_up(deployment.record("h1")), SERVICE_DOWN_TIME + SLACK
    )
    if deployment.provision is not None and deployment.provision.left_behind is not None:
        assert deployment.provision.left_behind(deployment, "h1") == ""


@pytest.mark.timeout(90)
def test_member_is_up_again_after_its_server_restarts(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    """The server goes away and comes back; the service is never restarted.

    The member's own servicegroup API observes, so exactly one driver instance is
    involved: it logs the loss once (error) and the return once (info).
    """
    provision = deployment.provision
    if provision is None or provision.fault is None:
        missing(
            f"no way known to take the server of servicegroup driver "
            f"{deployment.driver_name!r} away; add it to PROVISIONS in "
            "tests/conformance/servicegroup/conftest.py"
        )
        return
    logger = driver_logger(deployment.driver_name)
    caplog.set_level(logging.INFO, logger=logger)
    service = deployment.start("h1")
    api = service.servicegroup_api
    assert wait_until(lambda: api.is_up(deployment.record("h1")), REPORT_INTERVAL + SLACK)
    caplog.clear()

    def lines(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]

    with provision.fault(deployment):
        assert wait_until(
            lambda: not api.is_up(deployment.record("h1")), SERVICE_DOWN_TIME + 2 * SLACK
        ), "member still up while its server is away"
        # The loss is logged (the db driver notices when a report's transaction gives
        # up on the lock, after SQLite's 5 s busy timeout).
        assert wait_until(lambda: lines(logging.ERROR), 10), "the loss was not logged"
        time.sleep(REPORT_INTERVAL * 2)  # more failing reports: still one error line
        assert api.get_all(deployment.topic) == []

    assert wait_until(lambda: api.is_up(deployment.record("h1")), 10), (
        "member not up again after its server returned"
    )
    assert api.get_all(deployment.topic) == ["h1"]
    assert wait_until(lambda: lines(logging.INFO), 5), "the return was not logged"
    time.sleep(REPORT_INTERVAL * 1.5)
    errors, infos = lines(logging.ERROR), lines(logging.INFO)
    assert len(errors) == 1, errors
    assert len(infos) == 1, infos
    assert service.is_running
