"""What :mod:`bench.fleet` reads off a running deployment, and the throw-away servers'
namespaces it makes and removes.

Every figure is read from outside the processes measured:

* CPU time and RSS from ``/proc/<pid>`` (user + system time of every thread: CPU time,
  not wall time, so other work on a shared machine does not inflate it);
* RPC messages from each process's Prometheus endpoint (``[metrics] port``): calls
  sent (each answered by a reply message, so two messages) and casts sent, summed over
  every process of the run. The machine's RabbitMQ does not run the management plugin
  and enabling it would reconfigure a shared server, so per-queue rates are not
  available; ``rabbitmqctl list_connections`` gives the connections and the bytes the
  broker received from them, ``list_queues`` the queues;
* database work from ``pg_stat_database`` of the run's own database (transactions and
  rows; pg_stat_statements is not preloaded on the shared server);
* scheduler decision latency from the conductors' histogram of ``select_destinations``
  calls (the whole call as the conductor sees it: RPC, filtering, weighing), quantiles
  interpolated within the histogram's buckets.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy
from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
RABBITMQCTL_TIMEOUT = 60


# --- processes ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds *pid* has used so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, iowait) CPU seconds of the whole machine so far, all cores (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / CLOCK_TICKS, iowait / CLOCK_TICKS


#: The servers' processes, by the command name /proc gives them.
SERVER_COMMANDS = {"RabbitMQ": "beam.smp", "PostgreSQL": "postgres", "ZooKeeper": "java"}


def server_cpu() -> dict[str, float]:
    """CPU seconds each server of :data:`SERVER_COMMANDS` has used so far: its processes'
    own time, plus the time of the children they reaped (PostgreSQL's ended backends)."""
    spent = dict.fromkeys(SERVER_COMMANDS, 0.0)
    by_command = {command: name for name, command in SERVER_COMMANDS.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                head, tail = stat.read().rsplit(")", 1)
        except OSError:  # ended meanwhile
            continue
        name = by_command.get(head.split("(", 1)[1])
        if name is None:
            continue
        fields = tail.split()
        spent[name] += sum(int(n) for n in fields[11:15]) / CLOCK_TICKS
    return spent


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


# --- Prometheus endpoints ---------------------------------------------------------------


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples:
    """{(sample name, sorted labels): value} of the endpoint on *port*; {} if it is away."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def rpc_messages(samples: Samples) -> float:
    """Messages this process put on the bus: two per call (request and reply), one per
    cast."""
    total = 0.0
    for (name, _labels), value in samples.items():
        if name == "nubis_rpc_call_duration_seconds_count":
            total += 2 * value
        elif name == "nubis_rpc_casts_total":
            total += value
    return total


def messages_by_method(samples: Samples) -> dict[str, float]:
    """{"api.method" or "cast topic.method": messages} this process sent."""
    found: dict[str, float] = {}
    for (name, labels), value in samples.items():
        tags = dict(labels)
        if name == "nubis_rpc_call_duration_seconds_count":
            key = f"{tags['api']}.{tags['method']}"
            found[key] = found.get(key, 0.0) + 2 * value
        elif name == "nubis_rpc_casts_total":
            key = f"cast {tags['topic']}.{tags['method']}"
            found[key] = found.get(key, 0.0) + value
    return found


def histogram(samples: Samples, name: str, **labels: str) -> list[tuple[float, float]]:
    """[(upper bound, cumulative count)] of histogram *name* with *labels*."""
    wanted = set(labels.items())
    buckets = []
    for (sample, sample_labels), value in samples.items():
        if sample != f"{name}_bucket":
            continue
        as_dict = dict(sample_labels)
        if not wanted <= set(as_dict.items()):
            continue
        buckets.append((float(as_dict["le"]), value))
    return sorted(buckets)


def histogram_delta(
    after: list[tuple[float, float]], before: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The *q* quantile of cumulative *buckets*, linear within the bucket it falls in
    (as Prometheus's histogram_quantile); None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def merge(samples: Iterable[Samples]) -> Samples:
    merged: Samples = {}
    for one in samples:
        for key, value in one.items():
            merged[key] = merged.get(key, 0.0) + value
    return merged


# --- RabbitMQ ---------------------------------------------------------------------------


# The node rabbitmqctl talks to: the machine's (no arguments) or a private one.
_node_args: list[str] = []
_node_env: dict[str, str] | None = None


def use_node(node: str, env: dict[str, str]) -> None:
    """Send rabbitmqctl commands to node *node* (with its environment *env*)."""
    global _node_env
    _node_args[:] = ["-n", node]
    _node_env = env


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *_node_args, "-q", *args],
        capture_output=True,
        text=True,
        timeout=RABBITMQCTL_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=_node_env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def make_vhost(vhost: str) -> None:
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str) -> None:
    rabbitmqctl("delete_vhost", vhost)


@dataclasses.dataclass
class BrokerView:
    connections: int
    received_bytes: float
    queues: int


def broker_view(vhost: str) -> BrokerView:
    """The run's connections (and the bytes the broker received on them) and queues."""
    connections, received = 0, 0.0
    for line in rabbitmqctl("list_connections", "vhost", "recv_oct").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0] == vhost and parts[1].isdigit():
            connections += 1
            received += float(parts[1])
    queues = sum(1 for line in rabbitmqctl("list_queues", "-p", vhost, "name").splitlines() if line)
    return BrokerView(connections, received, queues)


# --- PostgreSQL -------------------------------------------------------------------------

_PG_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)


def make_database(name: str) -> str:
    """Create database *name* on the machine's PostgreSQL; return its URL."""
    engine = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def drop_database(name: str) -> None:
    engine = sqlalchemy.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def database_counters(name: str) -> dict[str, float]:
    """pg_stat_database's transaction and row counters of database *name*."""
    engine = sqlalchemy.create_engine(PG_ADMIN)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(
                sqlalchemy.text(
                    f"SELECT {', '.join(_PG_COUNTERS)} FROM pg_stat_database WHERE datname = :d"
                ),
                {"d": name},
            ).one()
    finally:
        engine.dispose()
    return {key: float(value or 0) for key, value in zip(_PG_COUNTERS, row, strict=True)}


def counter_rates(
    after: Mapping[str, float], before: Mapping[str, float], seconds: float
) -> dict[str, float]:
    return {key: (after[key] - before.get(key, 0.0)) / seconds for key in after}


# --- ZooKeeper --------------------------------------------------------------------------


def delete_zk_path(hosts: str, path: str) -> None:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts, timeout=10)
    client.start(timeout=10)
    try:
        client.delete(path, recursive=True)
    except Exception as exc:  # noqa: BLE001 -- gone already is fine; anything else is said
        if type(exc).__name__ != "NoNodeError":
            print(f"deleting ZooKeeper path {path}: {exc}")
    finally:
        client.stop()
        client.close()


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
