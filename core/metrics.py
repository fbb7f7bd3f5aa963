"""Prometheus metrics of a nubis process, and the endpoint that serves them.

Every nubis metric is defined here, on :data:`REGISTRY` (with the client library's
process, platform and garbage-collector metrics), and recorded through the small
functions below, which the instrumented code calls; nothing else creates metrics.
Labels are kept to bounded sets: RPC API and method names, topics, periodic task
names, servicegroup groups and hosts, route *templates* (never raw paths), HTTP
methods and status codes, outcomes, database retry reasons. A value outside a fixed
set (an outcome, an HTTP method) is refused or folded into ``other``, so a client
cannot grow the label space.

=================================================  =========  ==========================
metric                                             type       labels
=================================================  =========  ==========================
``nubis_rpc_call_duration_seconds``                histogram  api, method
``nubis_rpc_call_errors_total``                    counter    api, method, exception
``nubis_rpc_casts_total``                          counter    topic, method
``nubis_periodic_task_duration_seconds``           histogram  task
``nubis_periodic_task_overruns_total``             counter    task
``nubis_periodic_task_failures_total``             counter    task
``nubis_servicegroup_member_up``                   gauge      group, host
``nubis_compute_build_duration_seconds``           histogram  outcome
``nubis_compute_live_migration_duration_seconds``  histogram  outcome
``nubis_conductor_build_failures_total``           counter    exception
``nubis_api_request_duration_seconds``             histogram  method, route, status
``nubis_db_transaction_retries_total``             counter    reason
``nubis_db_transaction_giveups_total``             counter    reason
=================================================  =========  ==========================

A histogram's ``_count`` is the number of events per label set (builds by outcome,
API requests by route and status, ...).

:func:`serve` starts this process's exposition endpoint (``GET /metrics``) on
``[metrics] bind_host``:``[metrics] port`` -- port 0, the default, serves none -- and
:func:`stop` ends it; the :class:`~nubis.core.launcher.Launcher` does both, so a
process serves one endpoint whatever services it runs. The endpoint is the client
library's own (a WSGI server on a daemon thread): it never holds up the process's exit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Collection, Iterator
from typing import Any

import prometheus_client
from oslo_config import cfg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from nubis.core import exception

# No <counter>_created samples: one more series per label set, of no use to nubis's alerts.
prometheus_client.disable_created_metrics()

#: The registry every nubis metric is on, and the one the endpoint serves.
REGISTRY = CollectorRegistry()
prometheus_client.ProcessCollector(registry=REGISTRY)
prometheus_client.PlatformCollector(registry=REGISTRY)
prometheus_client.GCCollector(registry=REGISTRY)

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SLOW = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

RPC_CALL_SECONDS = Histogram(
    "nubis_rpc_call_duration_seconds",
    "Seconds an RPC call this process sent took until its answer (or its error), by "
    "RPC API and method.",
    ["api", "method"],
    buckets=_FAST,
    registry=REGISTRY,
)
RPC_CALL_ERRORS = Counter(
    "nubis_rpc_call_errors",
    "RPC calls this process sent that raised, by RPC API, method and exception class.",
    ["api", "method", "exception"],
    registry=REGISTRY,
)
RPC_CASTS = Counter(
    "nubis_rpc_casts",
    "RPC casts this process sent, by topic and method.",
    ["topic", "method"],
    registry=REGISTRY,
)
PERIODIC_SECONDS = Histogram(
    "nubis_periodic_task_duration_seconds",
    "Seconds each run of a periodic task took, failed runs included, by task.",
    ["task"],
    buckets=_SLOW,
    registry=REGISTRY,
)
PERIODIC_OVERRUNS = Counter(
    "nubis_periodic_task_overruns",
    "Runs of a periodic task that took longer than its spacing, by task.",
    ["task"],
    registry=REGISTRY,
)
PERIODIC_FAILURES = Counter(
    "nubis_periodic_task_failures",
    "Runs of a periodic task that raised, by task.",
    ["task"],
    registry=REGISTRY,
)
SERVICEGROUP_UP = Gauge(
    "nubis_servicegroup_member_up",
    "1 if a member (host) of a servicegroup group (a service's topic) was up when this "
    "process last asked, 0 if it was down.",
    ["group", "host"],
    registry=REGISTRY,
)
BUILD_SECONDS = Histogram(
    "nubis_compute_build_duration_seconds",
    "Seconds a build took on a compute host of this process, from the build's arrival "
    "to its outcome: active, error, rescheduled (failed here, handed back to the "
    "conductor) or refused (another task held the instance).",
    ["outcome"],
    buckets=_SLOW,
    registry=REGISTRY,
)
LIVE_MIGRATION_SECONDS = Histogram(
    "nubis_compute_live_migration_duration_seconds",
    "Seconds a live migration took on its source compute host in this process, from "
    "the cast's arrival to its end, by the migration's final status: completed, failed "
    "(rolled back), cancelled (aborted) or error.",
    ["outcome"],
    buckets=_SLOW,
    registry=REGISTRY,
)
CONDUCTOR_BUILD_FAILURES = Counter(
    "nubis_conductor_build_failures",
    "Builds this conductor ended in ERROR before any compute host built them (no valid "
    "host, the scheduler failing, [scheduler] max_attempts reached), by exception.",
    ["exception"],
    registry=REGISTRY,
)
API_REQUEST_SECONDS = Histogram(
    "nubis_api_request_duration_seconds",
    "Seconds nubis-api took to answer a request, by HTTP method, route template "
    "('unmatched' for a path no route serves) and status code.",
    ["method", "route", "status"],
    buckets=_FAST,
    registry=REGISTRY,
)
DB_RETRIES = Counter(
    "nubis_db_transaction_retries",
    "Database transactions run again after a transient error, by reason.",
    ["reason"],
    registry=REGISTRY,
)
DB_GIVEUPS = Counter(
    "nubis_db_transaction_giveups",
    "Database transactions given up after their retries ran out, by reason.",
    ["reason"],
    registry=REGISTRY,
)

#: Outcomes of a build on a compute host.
BUILD_OUTCOMES = frozenset({"active", "error", "rescheduled", "refused"})
#: Outcomes of a live migration: the final statuses of its Migration record.
LIVE_MIGRATION_OUTCOMES = frozenset({"completed", "failed", "cancelled", "error"})
#: HTTP methods recorded by name; any other is recorded as ``other``.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request no route serves (404, 405).
UNMATCHED = "unmatched"

_REMOTE_SUFFIX = "_Remote"


def _checked(value: str, allowed: Collection[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(sorted(allowed))}")
    return value


# --- recording -------------------------------------------------------------------------


@contextlib.contextmanager
def rpc_call(api: str, method: str) -> Iterator[None]:
    """Time the RPC call *method* of RPC API *api* sent in the block; an exception
    leaving the block counts as an error of its class (and is re-raised)."""
    began = time.monotonic()
    try:
        yield
    except Exception as exc:
        # oslo.messaging re-raises a remote exception as a subclass named <class>_Remote.
        name = type(exc).__name__.removesuffix(_REMOTE_SUFFIX)
        RPC_CALL_ERRORS.labels(api, method, name).inc()
        raise
    finally:
        RPC_CALL_SECONDS.labels(api, method).observe(time.monotonic() - began)


def rpc_cast(topic: str, method: str) -> None:
    """Count one cast of *method* sent to *topic*."""
    RPC_CASTS.labels(topic, method).inc()


def periodic_run(task: str, seconds: float, spacing: float, failed: bool) -> None:
    """Record one run of periodic task *task*: its duration, whether it took longer
    than its *spacing*, and whether it failed."""
    PERIODIC_SECONDS.labels(task).observe(seconds)
    if seconds > spacing:
        PERIODIC_OVERRUNS.labels(task).inc()
    if failed:
        PERIODIC_FAILURES.labels(task).inc()


_members_lock = threading.Lock()
_members: dict[str, set[str]] = {}  # group -> hosts this process has recorded


def servicegroup_member(group: str, host: str, up: bool) -> None:
    """Record what this process was told of member *host* of *group*."""
    with _members_lock:
        _members.setdefault(group, set()).add(host)
        SERVICEGROUP_UP.labels(group, host).set(1 if up else 0)


def servicegroup_members(group: str, up_hosts: Collection[str]) -> None:
    """Record a whole-group answer: *up_hosts* are up, and every other host this
    process has recorded for *group* is down."""
    with _members_lock:
        known = _members.setdefault(group, set())
        known.update(up_hosts)
        for host in known:
            SERVICEGROUP_UP.labels(group, host).set(1 if host in up_hosts else 0)


def build_finished(outcome: str, seconds: float) -> None:
    """Record a build on this compute host that ended with *outcome*
    (:data:`BUILD_OUTCOMES`) after *seconds*; ValueError for any other outcome."""
    BUILD_SECONDS.labels(_checked(outcome, BUILD_OUTCOMES, "build outcome")).observe(seconds)


def live_migration_finished(outcome: str, seconds: float) -> None:
    """Record a live migration from this compute host that ended with *outcome*
    (:data:`LIVE_MIGRATION_OUTCOMES`) after *seconds*; ValueError for any other."""
    label = _checked(outcome, LIVE_MIGRATION_OUTCOMES, "live migration outcome")
    LIVE_MIGRATION_SECONDS.labels(label).observe(seconds)


def conductor_build_failed(exc: BaseException) -> None:
    """Count a build the conductor ended in ERROR, by *exc*'s class."""
    CONDUCTOR_BUILD_FAILURES.labels(type(exc).__name__.removesuffix(_REMOTE_SUFFIX)).inc()


def api_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Record one API request: *route* is the matched route's template (None when no
    route matched); a method outside :data:`HTTP_METHODS` is recorded as ``other``."""
    API_REQUEST_SECONDS.labels(
        method if method in HTTP_METHODS else "other", route or UNMATCHED, str(status)
    ).observe(seconds)


def db_retry(reason: str) -> None:
    """Count one retry of a database transaction after a transient error *reason*."""
    DB_RETRIES.labels(reason).inc()


def db_giveup(reason: str) -> None:
    """Count one database transaction given up on a persisting transient error."""
    DB_GIVEUPS.labels(reason).inc()


# --- the endpoint ----------------------------------------------------------------------

_serving_lock = threading.Lock()
_serving: tuple[Any, threading.Thread] | None = None

#: Longest :func:`stop` waits for the endpoint's thread (its poll interval is 0.5 s).
STOP_TIMEOUT = 2.0


def serve(conf: cfg.ConfigOpts) -> int | None:
    """Serve :data:`REGISTRY` at ``/metrics`` on ``[metrics] bind_host``:``port``.

    Returns the port served on, or None when ``[metrics] port`` is 0 (no endpoint).
    While an endpoint runs, a further call returns its port and starts nothing: one
    endpoint per process. Raises ConfigurationError (one line, naming the options)
    when the address cannot be bound, e.g. a port already in use.
    """
    global _serving
    port = int(conf.metrics.port)
    if not port:
        return None
    host = str(conf.metrics.bind_host)
    with _serving_lock:
        if _serving is not None:
            return int(_serving[0].server_port)
        try:
            server, thread = prometheus_client.start_http_server(port, host, registry=REGISTRY)
        except OSError as exc:
            raise exception.ConfigurationError(
                option="[metrics] bind_host/port",
                reason=f"cannot serve metrics on {host}:{port}: "
                f"{exc.strerror or exception.one_line(exc)}",
            ) from exc
        thread.name = "nubis-metrics"
        _serving = (server, thread)
        return int(server.server_port)


def stop() -> None:
    """Stop the endpoint if one runs; returns within :data:`STOP_TIMEOUT` seconds."""
    global _serving
    with _serving_lock:
        serving, _serving = _serving, None
    if serving is None:
        return
    server, thread = serving
    if thread.is_alive():
        # shutdown() waits for the serving loop; bound that wait in a thread of its own.
        stopper = threading.Thread(target=server.shutdown, name="nubis-metrics-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT)
    server.server_close()
    thread.join(STOP_TIMEOUT)
