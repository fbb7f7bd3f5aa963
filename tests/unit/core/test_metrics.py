"""nubis.core.metrics: what each recording function records, the bounds on labels, the
periodic runner's and the DB retry's records, and the /metrics endpoint's life cycle.

The metrics are process-wide, so every check compares a sample before and after.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import exc as sa_exc

from nubis.core import exception, metrics, periodic
from nubis.core.conf import CONF
from nubis.core.db.retry import retry_on_transient
from nubis.core.launcher import Launcher


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of :data:`metrics.REGISTRY` (0 when absent)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def free_port() -> int:
    """A port free a moment ago: it only says where the test connects."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        assert reply.status == 200
        text = reply.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def endpoint_stopped() -> Iterator[None]:
    metrics.stop()
    yield
    metrics.stop()


# --- recording ---------------------------------------------------------------------------


def test_rpc_call_times_every_call_and_counts_errors_by_class() -> None:
    labels = {"api": "unit", "method": "do"}
    count = sample("nubis_rpc_call_duration_seconds_count", **labels)
    errors = sample("nubis_rpc_call_errors_total", exception="NotFound", **labels)
    with metrics.rpc_call("unit", "do"):
        pass
    with pytest.raises(exception.NotFound), metrics.rpc_call("unit", "do"):
        raise exception.NotFound()
    assert sample("nubis_rpc_call_duration_seconds_count", **labels) == count + 2
    assert sample("nubis_rpc_call_errors_total", exception="NotFound", **labels) == errors + 1


def test_an_error_from_the_remote_side_counts_under_its_own_class() -> None:
    """oslo.messaging re-raises a remote nubis exception as ``<class>_Remote``."""
    from oslo_messaging._drivers import common

    try:
        raise exception.InstanceNotFound(instance_id="x")
    except exception.InstanceNotFound:
        data = common.serialize_remote_exception(sys.exc_info())
    remote = common.deserialize_remote_exception(data, ["nubis.core.exception"])
    assert type(remote).__name__ == "InstanceNotFound_Remote"
    labels = {"api": "unit", "method": "remote"}
    errors = sample("nubis_rpc_call_errors_total", exception="InstanceNotFound", **labels)
    with pytest.raises(exception.InstanceNotFound), metrics.rpc_call("unit", "remote"):
        raise remote
    assert sample("nubis_rpc_call_errors_total", exception="InstanceNotFound", **labels) == (
        errors + 1
    )


def test_rpc_cast_counts_by_topic_and_method() -> None:
    before = sample("nubis_rpc_casts_total", topic="unit-topic", method="go")
    metrics.rpc_cast("unit-topic", "go")
    metrics.rpc_cast("unit-topic", "go")
    assert sample("nubis_rpc_casts_total", topic="unit-topic", method="go") == before + 2


def test_periodic_run_records_duration_overrun_and_failure() -> None:
    task = "unit_task"
    count = sample("nubis_periodic_task_duration_seconds_count", task=task)
    overruns = sample("nubis_periodic_task_overruns_total", task=task)
    failures = sample("nubis_periodic_task_failures_total", task=task)
    metrics.periodic_run(task, 1.0, 10.0, failed=False)
    metrics.periodic_run(task, 11.0, 10.0, failed=True)
    assert sample("nubis_periodic_task_duration_seconds_count", task=task) == count + 2
    assert sample("nubis_periodic_task_duration_seconds_sum", task=task) >= 12.0
    assert sample("nubis_periodic_task_overruns_total", task=task) == overruns + 1
    assert sample("nubis_periodic_task_failures_total", task=task) == failures + 1


def test_the_periodic_runner_records_each_run() -> None:
    """A real runner on a clock the task moves: the first run overruns and fails."""
    now = [1000.0]
    finished = threading.Event()

    def task() -> None:
        first = not finished.is_set()
        finished.set()
        if first:
            now[0] += 31.0  # longer than the 30 s spacing
            raise RuntimeError("broken on purpose")

    name = "unit_runner_task"
    overruns = sample("nubis_periodic_task_overruns_total", task=name)
    failures = sample("nubis_periodic_task_failures_total", task=name)
    count = sample("nubis_periodic_task_duration_seconds_count", task=name)
    runner = periodic.PeriodicRunner(
        [(periodic.TaskSpec(name, 30.0, True, True), task)],
        interval_max=0.05,
        clock=lambda: now[0],
    )
    runner.start()
    assert finished.wait(10)
    runner.stop()
    runs = runner.runs[name]
    assert runs >= 1
    assert sample("nubis_periodic_task_duration_seconds_count", task=name) == count + runs
    assert sample("nubis_periodic_task_overruns_total", task=name) == overruns + 1
    assert sample("nubis_periodic_task_failures_total", task=name) == failures + 1


def test_servicegroup_members_up_and_down() -> None:
    metrics.servicegroup_member("unit-group", "h1", True)
    assert sample("nubis_servicegroup_member_up", group="unit-group", host="h1") == 1
    metrics.servicegroup_members("unit-group", ["h2"])
    # h1 is known to this process and not in the group's answer: down.
    assert sample("nubis_servicegroup_member_up", group="unit-group", host="h1") == 0
    assert sample("nubis_servicegroup_member_up", group="unit-group", host="h2") == 1
    metrics.servicegroup_member("unit-group", "h2", False)
    assert sample("nubis_servicegroup_member_up", group="unit-group", host="h2") == 0


def test_builds_and_live_migrations_by_outcome() -> None:
    active = sample("nubis_compute_build_duration_seconds_count", outcome="active")
    done = sample("nubis_compute_live_migration_duration_seconds_count", outcome="completed")
    metrics.build_finished("active", 2.0)
    metrics.live_migration_finished("completed", 3.0)
    assert sample("nubis_compute_build_duration_seconds_count", outcome="active") == active + 1
    assert (
        sample("nubis_compute_live_migration_duration_seconds_count", outcome="completed")
        == done + 1
    )


def test_an_unknown_outcome_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match=r"^unknown build outcome 'done'; expected one of "):
        metrics.build_finished("done", 1.0)
    with pytest.raises(ValueError, match="unknown live migration outcome 'ok'") as raised:
        metrics.live_migration_finished("ok", 1.0)
    assert "\n" not in str(raised.value)
    assert sample("nubis_compute_build_duration_seconds_count", outcome="done") == 0


def test_api_requests_by_route_template_with_bounded_labels() -> None:
    route = "/v2.1/unit/{thing_id}"
    ok = sample("nubis_api_request_duration_seconds_count", method="GET", route=route, status="200")
    odd = sample(
        "nubis_api_request_duration_seconds_count",
        method="other",
        route=metrics.UNMATCHED,
        status="405",
    )
    metrics.api_request("GET", route, 200, 0.01)
    metrics.api_request("BREW", None, 405, 0.01)  # a method and path a client made up
    assert (
        sample("nubis_api_request_duration_seconds_count", method="GET", route=route, status="200")
        == ok + 1
    )
    assert (
        sample(
            "nubis_api_request_duration_seconds_count",
            method="other",
            route=metrics.UNMATCHED,
            status="405",
        )
        == odd + 1
    )


def _locked() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


def test_db_retries_and_giveups_by_reason(flags) -> None:
    flags(group="database", retry_interval=0.001, max_retry_interval=0.001, max_retries=2)
    reason = "SQLite database is locked"
    retries = sample("nubis_db_transaction_retries_total", reason=reason)
    giveups = sample("nubis_db_transaction_giveups_total", reason=reason)
    attempts = []

    @retry_on_transient
    def once_locked() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise _locked()
        return "done"

    @retry_on_transient
    def always_locked() -> None:
        raise _locked()

    assert once_locked() == "done"
    assert sample("nubis_db_transaction_retries_total", reason=reason) == retries + 1
    with pytest.raises(sa_exc.OperationalError):
        always_locked()
    assert sample("nubis_db_transaction_retries_total", reason=reason) == retries + 3
    assert sample("nubis_db_transaction_giveups_total", reason=reason) == giveups + 1


# --- the endpoint --------------------------------------------------------------------------


def test_port_zero_serves_nothing(flags, endpoint_stopped) -> None:
    flags(group="metrics", port=0)
    assert metrics.serve(CONF) is None
    metrics.stop()  # nothing to stop: returns


FAMILIES = (
    ("nubis_rpc_call_duration_seconds", "histogram"),
    ("nubis_rpc_call_errors_total", "counter"),
    ("nubis_rpc_casts_total", "counter"),
    ("nubis_periodic_task_duration_seconds", "histogram"),
    ("nubis_periodic_task_overruns_total", "counter"),
    ("nubis_periodic_task_failures_total", "counter"),
    ("nubis_servicegroup_member_up", "gauge"),
    ("nubis_compute_build_duration_seconds", "histogram"),
    ("nubis_compute_live_migration_duration_seconds", "histogram"),
    ("nubis_api_request_duration_seconds", "histogram"),
    ("nubis_db_transaction_retries_total", "counter"),
    ("nubis_db_transaction_giveups_total", "counter"),
)


def test_serve_scrape_and_stop(flags, endpoint_stopped) -> None:
    port = free_port()
    flags(group="metrics", bind_host="127.0.0.1", port=port)
    assert metrics.serve(CONF) == port
    assert metrics.serve(CONF) == port  # one endpoint per process
    assert "nubis-metrics" in {t.name for t in threading.enumerate()}
    metrics.rpc_cast("unit-scrape", "hello")
    scraped = scrape(port)
    key = ("nubis_rpc_casts_total", frozenset({("topic", "unit-scrape"), ("method", "hello")}))
    assert scraped[key] == sample("nubis_rpc_casts_total", topic="unit-scrape", method="hello")
    assert ("process_cpu_seconds_total", frozenset()) in scraped
    # Every family is on the page with its type and help, even before its first sample.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        lines = reply.read().decode().splitlines()
    for name, kind in FAMILIES:
        family = name.removesuffix("_total")
        assert f"# TYPE {family} {kind}" in lines or f"# TYPE {name} {kind}" in lines
        assert any(line.startswith(f"# HELP {name} ") for line in lines)
    assert not any(line.startswith("nubis_") and "_created" in line for line in lines)
    metrics.stop()
    assert "nubis-metrics" not in {t.name for t in threading.enumerate() if t.is_alive()}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_port_in_use_is_one_clear_line(flags, endpoint_stopped) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        flags(group="metrics", bind_host="127.0.0.1", port=port)
        with pytest.raises(exception.ConfigurationError) as raised:
            metrics.serve(CONF)
    message = str(raised.value)
    assert message == (
        f"[metrics] bind_host/port: cannot serve metrics on 127.0.0.1:{port}: "
        "Address already in use"
    )


def test_a_binary_with_its_port_taken_stops_at_start_up(flags, endpoint_stopped) -> None:
    """The Launcher serves the endpoint before any service starts: a port in use ends
    the start-up with the one-line error, and no service was started."""
    started: list[str] = []

    class Service:
        binary = "nubis-unit"

        def start(self) -> None:
            started.append("start")

        def stop(self) -> None:
            started.append("stop")

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            flags(group="metrics", bind_host="127.0.0.1", port=int(taken.getsockname()[1]))
            with pytest.raises(exception.ConfigurationError, match=r"^\[metrics\] bind_host/port"):
                Launcher(conf=CONF).run(lambda: [Service()])
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    assert started == []


def test_the_launcher_serves_from_start_to_stop(flags, endpoint_stopped) -> None:
    port = free_port()
    flags(group="metrics", bind_host="127.0.0.1", port=port)
    launcher = Launcher([], CONF)
    launcher.start()
    assert scrape(port)
    launcher.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
