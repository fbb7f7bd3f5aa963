"""Infrastructure faults on a multi-process nubis: every request the API acknowledges
ends ACTIVE or ERROR with a fault within a bound, nothing is built twice, and the
services recover without a restart.

Each test drives a bounded load of creates through the REST API while one private
server goes away and comes back, then waits (bounded) for every acknowledged server to
settle and prints the numbers: acknowledged = ACTIVE + ERROR-with-fault, none stuck.

Each outage test also asks api-1's ``/healthcheck`` (:class:`HealthWatch`): while the
server is away it answers 503 naming the check of that server (``bus``, ``database``,
``membership``) within :data:`HEALTH_DOWN`, and once the server is back 200 ``OK``
within :data:`HEALTH_BACK`. The polls run inside the outage's fixed sleep and, after
the return, in a thread of their own, so the outage lasts and the recovery is measured
as without them.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.faults.cloud import FaultCloud, Outcome, tally, wait
from tests.faults.servers import ZK_PORT

pytestmark = pytest.mark.faults

#: Longest wait for the acknowledged servers to settle after a fault: the reconciler's
#: resend (build_request_timeout 15 s), its end in ERROR (another 15 s), its interval.
SETTLE = 75.0

#: Longest wait, from the server's stop, for api-1's /healthcheck to answer 503 naming
#: the check of that server (a check may first see the old state; each answer takes at
#: most check_timeout 2 s per check).
HEALTH_DOWN = 8.0
#: Longest wait, from the server's start, for /healthcheck to answer 200 OK again.
HEALTH_BACK = 30.0
#: Pause between two /healthcheck requests of a poll.
HEALTH_POLL = 0.25

#: (seconds since the stop or start, HTTP status or 0 for no answer, body or error)
Answer = tuple[float, int, str]


def _healthcheck(cloud: FaultCloud, timeout: float) -> tuple[int, str]:
    try:
        answer = requests.get(cloud.url + "/healthcheck", timeout=timeout)
    except requests.RequestException as exc:
        return 0, type(exc).__name__
    return answer.status_code, answer.text.strip()


def _poll_health(
    cloud: FaultCloud, since: float, bound: float, wanted: Callable[[int, str], bool]
) -> tuple[Answer | None, Answer | None]:
    """Ask /healthcheck until *wanted*(status, body) or *bound* s after *since*; return
    the wanted answer (or None) and the last one. Each request's timeout ends at the
    deadline, so the poll returns within about *bound* s."""
    last: Answer | None = None
    while True:
        left = since + bound - time.monotonic()
        status, body = _healthcheck(cloud, max(left, 0.5))
        last = (time.monotonic() - since, status, body)
        if wanted(status, body) and last[0] <= bound:
            return last, last
        if time.monotonic() - since + HEALTH_POLL > bound:
            return None, last
        time.sleep(HEALTH_POLL)


def _shown(answer: Answer | None) -> str:
    if answer is None:
        return "no answer"
    lines = " | ".join(answer[2].splitlines())
    return f"{answer[1] or 'no HTTP answer'} {lines!r} in {answer[0]:.2f} s"


class HealthWatch:
    """api-1's /healthcheck around one outage of *server*, whose check is *check*.

    :meth:`stopped` (in the fault thread, right after the stop) polls until a 503 names
    *check*, within :data:`HEALTH_DOWN`: shorter than every outage's sleep, which the
    caller shortens by the poll's time. :meth:`started` (right after the start) polls
    for 200 ``OK`` in a thread of its own, beside ``wait_ready``. :meth:`verdict` (in
    the test, after the load's checks) prints one line and asserts both.
    """

    def __init__(self, cloud: FaultCloud, server: str, check: str) -> None:
        self.cloud = cloud
        self.server = server
        self.check = check
        self.down: Answer | None = None
        self.down_last: Answer | None = None
        self.back: Answer | None = None
        self.back_last: Answer | None = None
        self._back: threading.Thread | None = None

    def _names_check(self, status: int, body: str) -> bool:
        return status == 503 and any(
            line.startswith(f"{self.check}: ") for line in body.splitlines()
        )

    def stopped(self, since: float) -> None:
        self.down, self.down_last = _poll_health(self.cloud, since, HEALTH_DOWN, self._names_check)

    def started(self) -> None:
        since = time.monotonic()

        def poll() -> None:
            self.back, self.back_last = _poll_health(
                self.cloud, since, HEALTH_BACK, lambda status, body: (status, body) == (200, "OK")
            )

        self._back = threading.Thread(target=poll, daemon=True)
        self._back.start()

    def verdict(self) -> None:
        if self._back is not None:
            self._back.join(HEALTH_BACK + 15)
        down = (
            _shown(self.down)
            if self.down
            else f"no 503 naming {self.check} within {HEALTH_DOWN:g} s "
            f"(last: {_shown(self.down_last)})"
        )
        back = (
            _shown(self.back)
            if self.back
            else f"no 200 'OK' within {HEALTH_BACK:g} s (last: {_shown(self.back_last)})"
        )
        print(f"healthcheck: {self.server} stopped -> {down}; back -> {back}")
        assert self.down is not None, f"/healthcheck while {self.server} was away: {down}"
        assert self._back is not None, f"{self.server} did not come back"
        assert self.back is not None, f"/healthcheck after {self.server} returned: {back}"


def report(
    name: str, outcome: Outcome, states: dict[str, Any], settled: float, recovery: float
) -> dict[str, int]:
    counts = tally(states)
    reads = sorted(outcome.read_latencies) or [0.0]
    writes = sorted(outcome.write_latencies) or [0.0]
    print(
        f"\n[{name}] acknowledged {len(outcome.acknowledged)}, refused 503 {outcome.refused}, "
        f"other {len(outcome.other)} | ACTIVE {counts['active']}, ERROR+fault "
        f"{counts['error_with_fault']}, ERROR no fault {counts['error_without_fault']}, stuck "
        f"{counts['stuck']} | settled in {settled:.1f} s after the load, services ready "
        f"{recovery:.1f} s after the server returned | reads max {reads[-1]:.2f} s p50 "
        f"{statistics.median(reads):.3f} s ({outcome.read_failures} failed) | writes max "
        f"{writes[-1]:.2f} s"
    )
    return counts


def check(
    cloud: FaultCloud, prefix: str, outcome: Outcome, name: str, recovered: list[float]
) -> dict[str, int]:
    assert not outcome.other, outcome.other[:5]
    assert recovered, "the server did not come back"
    states, settled = cloud.settle(outcome.acknowledged, SETTLE)
    counts = report(name, outcome, states, settled, recovered[-1])
    faults = cloud.fault_messages(outcome.acknowledged)
    if faults:
        print(f"[{name}] faults: {dict(faults.most_common())}")
    seen = {
        what: sum(cloud.log_count(n, text) for n in cloud.procs)
        for what, text in (
            ("DB retries", "transient database error"),
            ("records kept", "kept, to be written"),
            ("written late", "attempts"),
            ("resent", "sending it again"),
            ("ended by reconciler", "ended in error"),
        )
    }
    print(f"[{name}] log evidence: {seen}")
    assert len(states) == len(outcome.acknowledged), "an acknowledged server has no record"
    assert counts["stuck"] == 0, {
        u: s for u, s in states.items() if s[0] not in ("active", "error") or s[1]
    }
    assert counts["error_without_fault"] == 0
    assert counts["active"] + counts["error_with_fault"] == len(outcome.acknowledged)
    # No duplicates: one record per acknowledged request, nothing the API refused left
    # behind, each server built at most once.
    # (a record the API wrote before a refused request failed is deleted by the
    # conductor's reconciler within build_request_timeout and an interval)
    wait(
        lambda: cloud.named(prefix) == len(outcome.acknowledged),
        40,
        f"only the {len(outcome.acknowledged)} acknowledged {prefix} servers to remain "
        f"(now {cloud.named(prefix)})",
        interval=1,
    )
    # Each ACTIVE server's guest was spawned exactly once. A host logs the spawn before it
    # saves ACTIVE, so the line is there even when that host was killed just after the save.
    active_uuids = [u for u, s in states.items() if s[0] == "active"]
    spawned = {u: cloud.spawns(u) for u in active_uuids}
    assert all(n == 1 for n in spawned.values()), {u: n for u, n in spawned.items() if n != 1}
    # Recovered without restarts.
    assert not cloud.exited() and not cloud.restarts(), (cloud.exited(), cloud.restarts())
    return counts


def test_concurrent_first_requests_open_one_zookeeper_session(cloud: FaultCloud) -> None:
    cloud.stop("api-1")
    cloud.start("api-1")
    wait(lambda: _answers(cloud, "/"), 60, "nubis-api to answer")
    pid = cloud.procs["api-1"].popen.pid  # type: ignore[union-attr]
    assert _zk_sessions(pid) == 0
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: cloud.get("/v2.1/os-services", 30), range(16)))
    assert all(a.status_code == 200 for a in answers), [a.status_code for a in answers]
    sessions = _zk_sessions(pid)
    print(f"\n[first requests] 16 concurrent first requests -> {sessions} ZooKeeper session(s)")
    assert sessions == 1
    cloud.procs["api-1"].starts -= 1  # a deliberate restart, not a recovery


def test_rabbitmq_restart_while_creates_arrive(cloud: FaultCloud, servers: Any) -> None:
    recovered: list[float] = []
    health = HealthWatch(cloud, "RabbitMQ", "bus")

    def fault() -> None:
        servers.rabbit.stop()
        stopped = time.monotonic()
        health.stopped(stopped)
        # away ~20 s in all, with the node's start
        time.sleep(max(0.0, 12 - (time.monotonic() - stopped)))
        servers.rabbit.start()
        health.started()
        recovered.append(cloud.wait_ready(90))

    outcome = cloud.drive("rabbit", 40, 0.6, during=fault, burst=20)
    counts = check(cloud, "rabbit", outcome, "RabbitMQ restart", recovered)
    health.verdict()
    assert outcome.refused > 0, "no create was refused while the broker was away"
    # Writes while the bus is away answer 503 within cast_timeout (3 s) and some slack;
    # reads that need only the database keep answering in under a second.
    assert max(outcome.write_latencies) < 3 + 12, max(outcome.write_latencies)
    assert outcome.read_failures == 0
    assert max(outcome.read_latencies) < 1.0, max(outcome.read_latencies)
    assert counts["active"] > 0


def test_postgresql_outage_with_creates_in_flight(cloud: FaultCloud, servers: Any) -> None:
    recovered: list[float] = []
    health = HealthWatch(cloud, "PostgreSQL", "database")

    def fault() -> None:
        servers.postgres.stop_server()
        stopped = time.monotonic()
        health.stopped(stopped)
        time.sleep(max(0.0, 15 - (time.monotonic() - stopped)))
        servers.postgres.start_server()
        health.started()
        recovered.append(cloud.wait_ready(90))

    outcome = cloud.drive("postgres", 30, 0.5, during=fault, burst=30)
    counts = check(cloud, "postgres", outcome, "PostgreSQL outage 15 s", recovered)
    health.verdict()
    assert outcome.refused > 0, "no create answered 503 while the database was away"
    assert counts["active"] > 0


def test_database_down_answers_503_with_retry_after(cloud: FaultCloud, servers: Any) -> None:
    servers.postgres.stop_server()
    try:
        started = time.monotonic()
        answer = cloud.get("/v2.1/servers", timeout=30)
        spent = time.monotonic() - started
    finally:
        servers.postgres.start_server()
    print(f"\n[database down] GET /servers -> {answer.status_code} in {spent:.2f} s")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"]
    assert "database" in answer.json()["serviceUnavailable"]["message"]
    assert spent < 10
    cloud.wait_ready(60)


def test_zookeeper_outage_builds_are_still_scheduled(cloud: FaultCloud, servers: Any) -> None:
    recovered: list[float] = []
    zk_down = []
    health = HealthWatch(cloud, "ZooKeeper", "membership")

    def fault() -> None:
        servers.zookeeper.stop()
        zk_down.append(time.monotonic())
        health.stopped(zk_down[-1])
        time.sleep(max(0.0, 18 - (time.monotonic() - zk_down[-1])))
        servers.zookeeper.start()
        health.started()
        recovered.append(cloud.wait_ready(90))

    outcome = cloud.drive("zookeeper", 30, 0.6, during=fault)
    counts = check(cloud, "zookeeper", outcome, "ZooKeeper outage 18 s", recovered)
    health.verdict()
    assert outcome.refused == 0
    # The scheduler kept the last known membership: every build found a host.
    assert counts["active"] == len(outcome.acknowledged), cloud.fault_messages(outcome.acknowledged)
    assert any(cloud.log_count(n, "answering the last known state") for n in cloud.procs)


def _answers(cloud: FaultCloud, path: str) -> bool:
    try:
        return requests.get(cloud.url + path, timeout=2).status_code < 500
    except requests.RequestException:
        return False


def _zk_sessions(pid: int) -> int:
    """Established TCP connections of process *pid* to the private ZooKeeper."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", "dport", f"= :{ZK_PORT}"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        # What the conductor had taken off the queue is lost with it; the other
        # worker's reconciler sends it again.
        ("conductor-1", "crash"),
        # A conductor's call the scheduler never answered ends that build in ERROR with
        # a fault naming the scheduler; later builds go to the new process.
        ("scheduler-1", "schedcrash"),
        # The builds the host was running end in ERROR with a fault when it starts again
        # (its guests died with it); those still queued for it (durable queue) are built
        # when it is back.
        ("compute-3", "cmpcrash"),
    ],
)
def test_a_service_killed_while_builds_are_in_flight(
    cloud: FaultCloud, name: str, prefix: str
) -> None:
    """SIGKILL one service during a burst of creates and start it again, as a
    supervisor would: every acknowledged request ends ACTIVE or ERROR with a fault."""
    recovered: list[float] = []

    def fault() -> None:
        cloud.kill(name)
        cloud.start(name)
        recovered.append(cloud.wait_ready(90))

    outcome = cloud.drive(prefix, 20, 0.3, during=fault, burst=30)
    cloud.procs[name].starts -= 1  # the deliberate restart after the kill
    check(cloud, prefix, outcome, f"{name} SIGKILL", recovered)
