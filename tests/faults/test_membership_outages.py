"""Membership backend outages against real memcached and Redis (issue 13).

A private memcached and a private Redis (see :mod:`tests.faults.servers`) are killed
and started again under the real servicegroup API with the ``mc`` and ``redis``
drivers. Members join through the API; their service records live in a migrated
SQLite database reached through the ``local`` indirection (the ``mc`` driver and the
API's forced-down check read them). What must hold:

* while the backend is down, for up to ``service_down_time`` after the last answer,
  ``is_up`` and ``get_all`` keep the last known state, although the driver alone
  answers "down"; the loss is logged once (one ERROR from the driver, one WARNING from
  the API), however many queries run;
* after ``service_down_time`` the members count as down (one more ERROR, from the API);
* when the backend returns, the reporters set their keys again and the members are up
  again (one "reachable again" INFO line); a member that died during a long outage is
  not brought back by the state kept from before it;
* an outage shorter than ``service_down_time`` never shows a member down, through the
  return of the (now empty) server included;
* the scheduler keeps placing instances on the hosts during a memcached outage.

No RabbitMQ or PostgreSQL deployment is needed. Every wait polls with a deadline.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nubis_servicegroup_redis import conf as redis_conf
from oslo_utils import timeutils

from nubis.core import exception, objects, periodic, plugins
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.objects import base
from nubis.core.servicegroup import api as sg_api
from tests.faults.servers import PrivateMemcached, PrivateRedis, ServerError, port_open
from tests.fixtures.real_servers import wait_until
from tests.fixtures.require import missing

REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 6
RECOVERY_GRACE = 10.0
#: Scheduling slack on a loaded two-core machine, added to every deadline.
SLACK = 3.0
API_LOGGER = sg_api.LOG.name

pytestmark = pytest.mark.timeout(60)


@dataclass
class Backend:
    """A private membership server and how the servicegroup is pointed at it."""

    driver: str
    server: PrivateMemcached | PrivateRedis
    driver_logger: str

    def configure(self, flags: Callable[..., None]) -> None:
        flags(group="servicegroup", driver=self.driver)
        if isinstance(self.server, PrivateMemcached):
            flags(group="memcache", servers=[self.server.address])
        else:
            redis_conf.register_opts(CONF)
            flags(group="redis_servicegroup", url=self.server.url)


@pytest.fixture(scope="module")
def private_servers() -> Iterator[dict[str, Backend]]:
    lacking = [b for b in ("memcached", "redis-server") if not shutil.which(b)]
    if lacking:
        missing(f"membership outage tests need {', '.join(lacking)}; see provision.sh")
    root = Path(tempfile.mkdtemp(prefix="nubis-membership-", dir="/var/tmp"))
    backends = {
        "mc": Backend("mc", PrivateMemcached(root), "nubis.plugins.servicegroup.mc"),
        "redis": Backend("redis", PrivateRedis(root), "nubis_servicegroup_redis.driver"),
    }
    try:
        yield backends
    finally:
        for backend in backends.values():
            try:
                backend.server.shutdown()
            except ServerError as exc:
                print(f"stopping a private server: {exc}")
        shutil.rmtree(root, ignore_errors=True)


def _backend(private_servers: dict[str, Backend], name: str, flags: Any) -> Backend:
    """The backend *name* running (started again if a failed test left it down)."""
    backend = private_servers[name]
    if not port_open(backend.server.port):
        backend.server.start()
    flags(report_interval=REPORT_INTERVAL, service_down_time=SERVICE_DOWN_TIME)
    flags(group="servicegroup", recovery_grace=RECOVERY_GRACE)
    backend.configure(flags)
    return backend


@pytest.fixture(params=["mc", "redis"])
def backend(
    request: pytest.FixtureRequest, private_servers: dict[str, Backend], flags: Any
) -> Backend:
    return _backend(private_servers, str(request.param), flags)


@pytest.fixture
def ctx(sqlite_db_url: str, flags: Callable[..., None]) -> Iterator[Any]:
    """Objects through the ``local`` indirection on a fresh SQLite database, and a
    compute topic of the test's own."""
    flags(group="indirection", api="local")
    flags(group="compute", topic=f"compute-{uuid.uuid4().hex[:8]}")
    objects.register_all()
    base.install_indirection()
    try:
        yield get_admin_context()
    finally:
        base.set_indirection_api(None)


@pytest.fixture
def api() -> Iterator[sg_api.API]:
    """The servicegroup API of the members and the observer (one driver, one client)."""
    sg = sg_api.API(CONF)
    try:
        yield sg
    finally:
        sg.cleanup()


def add_service(ctx: Any, host: str) -> Any:
    """A compute service record of *host* in the test's topic."""
    service = objects.Service(
        ctx,
        host=host,
        binary="nubis-compute",
        topic=CONF.compute.topic,
        report_count=1,
        version=1,
        disabled=False,
        forced_down=False,
        last_seen_up=timeutils.utcnow(),
    )
    service.create()
    return service


def view(api: sg_api.API, records: dict[str, Any]) -> tuple[list[str], dict[str, bool]]:
    """What the API answers now: get_all of the topic and is_up of every record."""
    return api.get_all(CONF.compute.topic), {h: api.is_up(r) for h, r in records.items()}


def logged(caplog: pytest.LogCaptureFixture, logger: str, level: int, text: str) -> int:
    """How many lines *logger* logged at *level* containing *text*."""
    return sum(
        r.name == logger and r.levelno == level and text in r.getMessage() for r in caplog.records
    )


def join_all(api: sg_api.API, records: dict[str, Any]) -> float:
    """Join every member; wait until the API sees them all up; return a monotonic time
    taken just before the last query that saw them up (the state the API keeps)."""
    for host in records:
        api.join(host, CONF.compute.topic)
    every = (sorted(records), dict.fromkeys(records, True))
    assert wait_until(lambda: view(api, records) == every, REPORT_INTERVAL + SLACK), (
        f"members not up after joining: {view(api, records)}"
    )
    seen = time.monotonic()
    assert view(api, records) == every
    return seen


def test_last_known_state_through_a_long_outage(
    backend: Backend, ctx: Any, api: sg_api.API, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    records = {h: add_service(ctx, h) for h in ("h1", "h2", "h3")}
    every_up = (["h1", "h2", "h3"], dict.fromkeys(records, True))
    seen = join_all(api, records)

    backend.server.kill()
    # h3's process dies during the outage: nothing of it comes back with the server.
    h3_reporter = api.driver.reporter("h3", CONF.compute.topic)
    h3_reporter.stop()
    # Until 2 s before service_down_time runs out (a query may be descheduled that long).
    kept_until = seen + SERVICE_DOWN_TIME - 2
    queries = 0
    while time.monotonic() < kept_until:
        assert view(api, records) == every_up, f"during the outage, query {queries}"
        queries += 1
        time.sleep(0.1)
    assert queries >= 5, f"only {queries} queries while the state was to be kept"
    assert api.driver.unreachable()
    # The driver alone answers "down": the API is what keeps the state.
    assert api.driver.get_all(CONF.compute.topic) == []
    assert not api.driver.is_up(records["h1"])
    driver_errors = logged(caplog, backend.driver_logger, logging.ERROR, "unreachable")
    assert driver_errors == 1, caplog.text
    assert logged(caplog, API_LOGGER, logging.WARNING, "unreachable") == 1, caplog.text
    assert (
        sum(r.levelno >= logging.ERROR and "unreachable" in r.getMessage() for r in caplog.records)
        == 1
    ), caplog.text

    # Past service_down_time since the last answer, the members count as down.
    first_down = None
    deadline = seen + SERVICE_DOWN_TIME + SLACK
    while True:
        now_view = view(api, records)
        answered = time.monotonic()
        if now_view != every_up and first_down is None:
            first_down = answered
        if now_view == ([], dict.fromkeys(records, False)):
            break
        assert answered < deadline, f"still {now_view} {answered - seen:.1f} s after"
        time.sleep(0.1)
    assert first_down is not None and first_down - seen > SERVICE_DOWN_TIME, (
        f"a member counted as down {first_down and first_down - seen:.2f} s after the last "
        f"answer; service_down_time is {SERVICE_DOWN_TIME} s"
    )
    assert logged(caplog, API_LOGGER, logging.ERROR, "longer than service_down_time") == 1
    assert logged(caplog, backend.driver_logger, logging.ERROR, "unreachable") == 1

    backend.server.start()
    # The reporters of h1 and h2 set their keys on the empty server again.
    assert wait_until(
        lambda: api.driver.get_all(CONF.compute.topic) == ["h1", "h2"], REPORT_INTERVAL + SLACK
    ), f"driver sees {api.driver.get_all(CONF.compute.topic)} after the return"
    # Within recovery_grace: the state kept from before a long outage has expired and
    # must not bring h3 back.
    assert view(api, records) == (["h1", "h2"], {"h1": True, "h2": True, "h3": False})
    assert logged(caplog, backend.driver_logger, logging.INFO, "reachable again") == 1
    assert logged(caplog, API_LOGGER, logging.INFO, "answers again") == 1
    assert logged(caplog, backend.driver_logger, logging.ERROR, "unreachable") == 1


def test_a_short_outage_shows_no_member_down(
    backend: Backend, ctx: Any, api: sg_api.API, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    records = {h: add_service(ctx, h) for h in ("h1", "h2")}
    every_up = (["h1", "h2"], {"h1": True, "h2": True})
    seen = join_all(api, records)

    backend.server.kill()
    assert wait_until(lambda: view(api, records) == every_up and api.driver.unreachable(), 2)
    assert time.monotonic() - seen < SERVICE_DOWN_TIME / 2, "the kill took too long"
    backend.server.start()
    # Through the return to the empty server and the reporters' next reports, the API
    # never answers a member down.
    deadline = time.monotonic() + REPORT_INTERVAL + SLACK
    while api.driver.get_all(CONF.compute.topic) != ["h1", "h2"]:
        assert view(api, records) == every_up
        assert time.monotonic() < deadline, "the reporters did not report again"
        time.sleep(0.05)
    assert view(api, records) == every_up
    assert logged(caplog, backend.driver_logger, logging.ERROR, "unreachable") == 1
    assert logged(caplog, backend.driver_logger, logging.INFO, "reachable again") == 1
    assert logged(caplog, API_LOGGER, logging.ERROR, "longer than service_down_time") == 0


# --- the scheduler during a memcached outage ------------------------------------------------


def add_compute(ctx: Any, host: str, memory_mb: int) -> None:
    """A compute service record and its one node."""
    service = add_service(ctx, host)
    objects.ComputeNode(
        ctx,
        uuid=str(uuid.uuid4()),
        service_id=service.id,
        host=host,
        hypervisor_hostname=host,
        vcpus=8,
        vcpus_used=0,
        memory_mb=memory_mb,
        memory_mb_used=0,
        free_ram_mb=memory_mb,
        local_gb=100,
        local_gb_used=0,
        free_disk_gb=100,
        running_vms=0,
        hypervisor_type="QEMU",
        hypervisor_version=7002000,
        cpu_allocation_ratio=1.0,
        ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0,
    ).create()


def choose(scheduler: Any, ignore: list[str]) -> list[str]:
    spec = objects.RequestSpec(memory_mb=512, vcpus=1, root_gb=10)
    return [d["host"] for d in scheduler.schedule(get_admin_context(), spec, ignore)]


def test_the_scheduler_keeps_scheduling_during_a_memcached_outage(
    private_servers: dict[str, Backend], flags: Any, ctx: Any
) -> None:
    memcached = _backend(private_servers, "mc", flags).server
    flags(group="scheduler", host_state_refresh_interval=3600)  # refreshes are the test's
    add_compute(ctx, "a", 8192)
    add_compute(ctx, "b", 4096)
    # The computes report through an API of their own (as their process has); the
    # scheduler's shared API (another driver, another client) is the one under test.
    computes = sg_api.API(CONF)
    scheduler = plugins.load_one("nubis.managers", "scheduler")(host="sched")
    try:
        for host in ("a", "b"):
            computes.join(host, CONF.compute.topic)

        def liveness() -> dict[str, bool]:
            scheduler.refresh_host_states()
            return {s.host: s.service_up for s in scheduler.host_states()}

        assert wait_until(lambda: liveness() == {"a": True, "b": True}, REPORT_INTERVAL + SLACK)
        seen = time.monotonic()
        assert liveness() == {"a": True, "b": True}

        memcached.kill()
        assert liveness() == {"a": True, "b": True}
        shared = sg_api.acquire(CONF)  # the scheduler's API: it did meet the outage
        try:
            assert shared.driver.unreachable()
        finally:
            shared.cleanup()
        assert choose(scheduler, []) == ["a"]  # the most free RAM
        assert choose(scheduler, ["a"]) == ["b"]
        assert time.monotonic() - seen < SERVICE_DOWN_TIME, "too slow to test the window"

        # Past service_down_time the kept state has expired: no host passes ComputeFilter.
        assert wait_until(
            lambda: liveness() == {"a": False, "b": False},
            SERVICE_DOWN_TIME + SLACK,
            interval=0.2,
        )
        assert time.monotonic() - seen > SERVICE_DOWN_TIME
        with pytest.raises(exception.NoValidHost, match="ComputeFilter eliminated the last 2"):
            choose(scheduler, [])
    finally:
        scheduler.cleanup_host()
        computes.cleanup()


def test_an_idle_scheduler_meets_an_outage_with_a_recent_state(
    private_servers: dict[str, Backend], flags: Any, ctx: Any
) -> None:
    """A scheduler that served no request for longer than service_down_time still sees
    its hosts up when the backend goes: its periodic membership read kept the last
    known state recent. (Without it that state is as old as the last request, has
    expired, and every host counts as down.)"""
    memcached = _backend(private_servers, "mc", flags).server
    flags(group="scheduler", host_state_refresh_interval=3600)  # refreshes are the test's
    add_compute(ctx, "a", 8192)
    computes = sg_api.API(CONF)
    scheduler = plugins.load_one("nubis.managers", "scheduler")(host="sched")
    runner = periodic.PeriodicRunner(scheduler.periodic_tasks(), interval_max=1.0)
    try:
        computes.join("a", CONF.compute.topic)

        def liveness() -> dict[str, bool]:
            scheduler.refresh_host_states()
            return {s.host: s.service_up for s in scheduler.host_states()}

        assert wait_until(lambda: liveness() == {"a": True}, REPORT_INTERVAL + SLACK)
        runner.start()
        assert "keep_membership_fresh" in runner.task_names
        time.sleep(SERVICE_DOWN_TIME + REPORT_INTERVAL)  # idle: no request reads anything
        memcached.kill()
        assert liveness() == {"a": True}
        assert choose(scheduler, []) == ["a"]
    finally:
        runner.stop()
        scheduler.cleanup_host()
        computes.cleanup()
