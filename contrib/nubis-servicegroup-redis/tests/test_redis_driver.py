"""What the redis driver does beyond the conformance suite, against a real Redis.

The conformance suite (run by this package's pytest configuration, or by
``nubis-conformance --namespace nubis.servicegroup --plugin redis``) checks the
membership contract; these tests check how this driver keeps it: one sorted set per
group scored by the server's clock, one round trip per query, bounded waits, and the
log-once rule across a real server stop and start.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from nubis_servicegroup_redis.driver import RedisDriver
from redis.connection import Connection

from nubis.core import exception

LOGGER = "nubis_servicegroup_redis.driver"
SLACK = 1.0
#: As configured by the make_driver fixture.
REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3

pytestmark = pytest.mark.timeout(60)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll *predicate* until true (-> True) or *timeout* seconds pass (-> False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def service_ref(host: str, group: str) -> Any:
    """What is_up and get_updated_time read of a Service record."""
    return types.SimpleNamespace(host=host, topic=group, last_seen_up=None, forced_down=False)


def server_time(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1_000_000


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


def test_a_member_is_an_element_scored_by_the_servers_clock(
    make_driver: Callable[..., RedisDriver], admin: redis.Redis, prefix: str
) -> None:
    driver = make_driver()
    driver.join("h1", "compute")
    key = f"{prefix}:compute"
    assert wait_until(lambda: admin.zscore(key, "h1") is not None, REPORT_INTERVAL + SLACK)
    score = admin.zscore(key, "h1")
    assert score is not None and abs(server_time(admin) - score) < REPORT_INTERVAL + SLACK
    # The set lives as long as an element may be kept: twice service_down_time.
    assert 0 < admin.pttl(key) <= 2 * SERVICE_DOWN_TIME * 1000
    assert driver.is_up(service_ref("h1", "compute"))
    assert driver.get_all("compute") == ["h1"]
    updated = driver.get_updated_time(service_ref("h1", "compute"))
    assert updated is not None and abs(updated.timestamp() - score) < 1e-3


def test_up_is_decided_by_the_servers_clock(
    make_driver: Callable[..., RedisDriver], admin: redis.Redis, prefix: str
) -> None:
    driver = make_driver()
    key = f"{prefix}:compute"
    now = server_time(admin)
    admin.zadd(key, {"fresh": now, "stale": now - SERVICE_DOWN_TIME - 0.5})
    assert driver.is_up(service_ref("fresh", "compute"))
    assert not driver.is_up(service_ref("stale", "compute"))
    assert not driver.is_up(service_ref("never", "compute"))
    assert driver.get_all("compute") == ["fresh"]
    assert driver.get_all("no-such-group") == []


def test_reports_trim_members_that_vanished_without_leaving(
    make_driver: Callable[..., RedisDriver], admin: redis.Redis, prefix: str
) -> None:
    driver = make_driver()
    key = f"{prefix}:compute"
    admin.zadd(key, {"crashed": server_time(admin) - 2 * SERVICE_DOWN_TIME - 1})
    assert driver.report("h1", "compute")
    assert admin.zrange(key, 0, -1) == ["h1"]


def test_leave_removes_the_member_at_once(
    make_driver: Callable[..., RedisDriver], admin: redis.Redis, prefix: str
) -> None:
    member, observer = make_driver(), make_driver()
    member.join("h1", "compute")
    member.join("h1", "compute")  # twice: one reporter
    assert len([t for t in threading.enumerate() if t.name == "nubis-redis-report-compute"]) == 1
    assert wait_until(lambda: observer.is_up(service_ref("h1", "compute")), REPORT_INTERVAL + SLACK)
    member.leave("h1", "compute")
    assert not observer.is_up(service_ref("h1", "compute"))
    assert admin.zscore(f"{prefix}:compute", "h1") is None
    time.sleep(REPORT_INTERVAL * 1.5)  # no reporter left behind
    assert admin.zscore(f"{prefix}:compute", "h1") is None


def test_a_query_is_one_round_trip(
    make_driver: Callable[..., RedisDriver],
    admin: redis.Redis,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    driver = make_driver()
    now = server_time(admin)
    admin.zadd(f"{prefix}:big", {f"h{i}": now for i in range(2000)})
    driver.is_up(service_ref("h0", "big"))  # the pool has its connection now
    sent: list[int] = []
    original = Connection.send_packed_command

    def counting(self: Connection, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        original(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    assert len(driver.get_all("big")) == 2000
    assert len(sent) == 1, f"get_all sent {len(sent)} requests"
    sent.clear()
    assert driver.is_up(service_ref("h7", "big"))
    assert len(sent) == 1, f"is_up sent {len(sent)} requests"


def test_a_bad_url_is_a_configuration_error(make_driver: Callable[..., RedisDriver]) -> None:
    with pytest.raises(exception.ConfigurationError) as info:
        make_driver(url="http://127.0.0.1:6379")
    assert "[redis_servicegroup] url" in str(info.value)
    assert "redis://" in str(info.value)


@pytest.fixture
def blackhole() -> Iterator[str]:
    """``redis://`` of a server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_a_server_that_never_answers_costs_one_timeout_per_call(
    make_driver: Callable[..., RedisDriver],
    blackhole: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    driver = make_driver(url=blackhole, connect_timeout=0.3, timeout=0.3)
    for call in (
        lambda: driver.is_up(service_ref("h1", "compute")),
        lambda: driver.get_all("compute"),
        lambda: driver.report("h1", "compute"),
    ):
        began = time.monotonic()
        assert not call()
        assert time.monotonic() - began < driver.request_timeout + SLACK
    errors = lines(caplog, logging.ERROR)
    assert len(errors) == 1 and "unreachable" in errors[0], errors


def test_a_killed_connection_is_retried_without_a_word(
    make_driver: Callable[..., RedisDriver],
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    driver = make_driver()
    assert driver.report("h1", "compute")
    mine = [c["id"] for c in admin.client_list() if c.get("name") == "nubis-servicegroup"]
    assert mine
    for client_id in mine:
        admin.client_kill_filter(_id=client_id)
    assert driver.is_up(service_ref("h1", "compute"))
    assert lines(caplog, logging.ERROR) == []


def test_a_server_restart_is_logged_once_each_way(
    make_driver: Callable[..., RedisDriver],
    private_redis: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real redis-server is stopped and started again (it keeps nothing on disk).

    The member is never restarted: it is down while the server is away, the loss is
    logged once however many reports fail, and it is up again after its next report,
    with one line saying so.
    """
    caplog.set_level(logging.INFO, logger=LOGGER)
    member = make_driver(url=private_redis.url, connect_timeout=0.5, timeout=0.5)
    observer = make_driver(url=private_redis.url, connect_timeout=0.5, timeout=0.5)
    member.join("h1", "compute")
    ref = service_ref("h1", "compute")
    assert wait_until(lambda: observer.is_up(ref), REPORT_INTERVAL + SLACK)

    private_redis.stop()
    assert wait_until(lambda: lines(caplog, logging.ERROR), REPORT_INTERVAL + SLACK)
    assert not member.is_up(ref) and member.get_all("compute") == []
    reporter = member.reporter("h1", "compute")
    assert reporter is not None
    reports = reporter.reports
    time.sleep(REPORT_INTERVAL * 3)  # failing reports: not counted, not logged again
    assert reporter.reports == reports
    member_errors = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.ERROR]
    assert len(member_errors) == 1, [r.getMessage() for r in member_errors]

    private_redis.start()  # empty: the member's element comes back with its next report
    assert wait_until(lambda: observer.is_up(ref), REPORT_INTERVAL + 2 * SLACK), (
        "member not up again after the server returned"
    )
    assert member.get_all("compute") == ["h1"]
    assert wait_until(lambda: len(lines(caplog, logging.INFO)) >= 1, 5)
    time.sleep(REPORT_INTERVAL * 1.5)
    assert len(lines(caplog, logging.INFO)) == 1, lines(caplog, logging.INFO)
    assert len(lines(caplog, logging.ERROR)) == 1
    assert reporter.reports > reports
