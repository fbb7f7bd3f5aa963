"""How the control plane's cost grows with the number of compute hosts.

For each fleet size N (``--hosts 100,300,1000``; ``--quick``: 20,50) one run starts,
on the machine's RabbitMQ, PostgreSQL and ZooKeeper (a throw-away vhost, database and
chroot, removed afterwards; the servers themselves are never restarted):

* the control plane of tests/faults/cloud.py, from the ready configs of
  ``etc/nubis/deployment/``: two ``nubis-conductor`` workers, ``nubis-scheduler`` and
  ``nubis-api`` (noauth), at the production intervals (state report 10 s, resource
  audit 60 s, periodic tasks' first run spread over 60 s);
* N compute hosts with the fake virt driver in "fleet" processes of ``--per-process``
  hosts each (:mod:`bench.fleet_hosts`: one compute service per host, each with its own
  RPC server, membership and periodic tasks -- what the control plane pays for).

Then, once every host is up in the API's service list and ``--warmup`` seconds have
passed (every host's first audit is behind it), a steady-state window of ``--window``
seconds (>= 60, so it holds one audit of every host) measures: CPU seconds of the
conductors, the scheduler and the API (the control plane; the fleet processes are
reported apart), RPC messages/s, RabbitMQ connections and queues, database
transactions and rows per second, RSS per process. A load follows, through the REST
API as tests/faults/cloud.py drives it: ``--load`` builds at once (the scheduler's
decision latency is taken from these), half of them deleted, ``--migrations`` live
migrations between hosts of one fleet process. At the largest N, a burst of
``--burst`` builds is timed until all are ACTIVE, and ``GET /servers/detail`` is timed
over 10,000 instance records (copies of a built instance's row inserted in bulk into
the database, on a host that does not exist).

Printed: one table row per N with each figure per host where it is a per-host cost, and
the ratio of each per-host cost between successive sizes (~1: linear growth; below 1:
sub-linear). Latencies were taken on a shared 2-core machine (other work runs
alongside); CPU figures are CPU time and robust to that.

The machine's RabbitMQ allows 832 sockets (1,024 descriptors): ~750 hosts. Larger
fleets need ``--private-broker`` (tests/faults/servers.py's private node on port 31672,
started with 20,000 descriptors). docs/sizing.md has the figures and how to read them.

Run: ``.venv/bin/python bench/fleet.py [--hosts 100,300,1000 | --quick]
[--servicegroup zk|db] [--private-broker] [--keep] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import fleet_probe as probe  # noqa: E402
from bench.fleet_load import run_load  # noqa: E402
from tests.faults.cloud import FaultCloud, Proc, wait  # noqa: E402
from tests.faults.servers import RABBIT_NODE, RABBIT_PORT, PrivateRabbit  # noqa: E402
from tests.fixtures.deployment import CONFIG_DIR, _config_args, write_config  # noqa: E402

FLEET_SCRIPT = Path(__file__).resolve().parent / "fleet_hosts.py"
CONTROL_PLANE = ("conductor-1", "conductor-2", "scheduler-1", "api-1")
METRICS_BASE = 30100
API_PORT = 30099
ZK_HOSTS = "127.0.0.1:2181"
PRIVATE_BROKER_FILES = 20_000


class FleetCloud(FaultCloud):
    """tests/faults/cloud.py's deployment without its three computes, at the default
    intervals, plus fleet processes of many compute hosts each."""

    def __init__(
        self,
        run_dir: Path,
        db_url: str,
        rabbit_url: str,
        hosts: int,
        per_process: int,
        servicegroup: str,
    ) -> None:
        super().__init__(run_dir, db_url, rabbit_url, ZK_HOSTS)
        self.chroot = f"/nubis-fleet-{self.tag}"
        write_config(
            run_dir / "run.conf",
            {
                "DEFAULT": {
                    "transport_url": rabbit_url,
                    "state_path": run_dir / "state",
                    "graceful_shutdown_timeout": 5,
                    "debug": False,
                },
                "database": {"connection": db_url},
                "servicegroup": {"driver": servicegroup},
                "zookeeper": {"hosts": ZK_HOSTS, "chroot": self.chroot},
                # One project makes every build of the run: no quota stands in its way.
                "quota": {"instances": -1, "cores": -1, "ram": -1},
                # Room for every build of the run on the smallest fleet.
                "fake_driver": {"vcpus": 256, "memory_mb": 262144},
                # Start-up waits for a conductor (the first fleet may start with it).
                "conductor": {},
            },
        )
        for name in [n for n in self.procs if n.startswith("compute")]:
            del self.procs[name]
        self.ports: dict[str, int] = {}
        for index, name in enumerate(CONTROL_PLANE):
            self._add_metrics_port(self.procs[name], METRICS_BASE + index)
        # A port of our own: the fault suite's (cloud.API_PORT) may be in use.
        write_config(run_dir / "fleet-api.conf", {"api": {"port": API_PORT}})
        self.procs["api-1"].files.append(run_dir / "fleet-api.conf")
        self.url = f"http://127.0.0.1:{API_PORT}"
        self.hosts: list[str] = []
        self.fleets: dict[str, list[str]] = {}
        for first in range(0, hosts, per_process):
            fleet = f"fleet-{first // per_process:02d}"
            names = [f"{fleet}-h{i:04d}" for i in range(first, min(hosts, first + per_process))]
            self.fleets[fleet] = names
            self.hosts += names
            own: dict[str, dict[str, Any]] = {
                "DEFAULT": {"host": fleet},
                "indirection": {"api": "conductor"},
                "compute": {"virt_driver": "fake"},
                "all_in_one": {"compute_hosts": names},
            }
            write_config(run_dir / f"run-{fleet}.conf", own)
            files = [CONFIG_DIR / "nubis.conf", run_dir / "run.conf", run_dir / f"run-{fleet}.conf"]
            proc = Proc(fleet, "fleet", files, run_dir / f"{fleet}.log")
            self.procs[fleet] = proc
            self._add_metrics_port(proc, METRICS_BASE + 10 + len(self.fleets))

    def _add_metrics_port(self, proc: Proc, port: int) -> None:
        path = self.run_dir / f"metrics-{proc.name}.conf"
        write_config(path, {"metrics": {"port": port}})
        proc.files.append(path)
        self.ports[proc.name] = port

    def start(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            if proc.binary != "fleet":
                super().start(name)
                continue
            with (self.run_dir / f"{name}.out").open("ab") as out:
                proc.popen = subprocess.Popen(
                    [
                        sys.executable,
                        str(FLEET_SCRIPT),
                        *_config_args(proc.files),
                        "--log-file",
                        str(proc.log),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            proc.starts += 1

    def exited(self) -> list[str]:
        """Started processes that are no longer running (the fleet starts later)."""
        return [
            f"{p.name} exited {p.popen.returncode} (log {p.log})"
            for p in self.procs.values()
            if p.popen is not None and not p.running
        ]

    def fleet_names(self) -> tuple[str, ...]:
        """The processes that run the simulated compute hosts."""
        return tuple(name for name in self.procs if name.startswith("fleet-"))

    def pid(self, name: str) -> int:
        popen = self.procs[name].popen
        assert popen is not None, name
        return popen.pid

    def up_counts(self) -> dict[str, int]:
        """{binary: services up and enabled} in the API's service list."""
        answer = self.get("/v2.1/os-services", timeout=30)
        answer.raise_for_status()
        up: dict[str, int] = {}
        for service in answer.json()["services"]:
            if service["state"] == "up" and service["status"] == "enabled":
                binary = service["binary"].removeprefix("nubis-")
                up[binary] = up.get(binary, 0) + 1
        return up

    def bring_up_fleet(self, timeout: float) -> float:
        """Start the control plane, then the fleet; wait until every host is up."""
        self.manage("db", "sync")
        self.start(*CONTROL_PLANE)

        def control_plane_up() -> bool:
            assert not self.exited(), self.exited()
            try:
                up = self.up_counts()
            except Exception:  # noqa: BLE001 -- not answering yet
                return False
            return up.get("conductor", 0) >= 2 and up.get("scheduler", 0) >= 1

        wait(control_plane_up, 120, "the conductors and the scheduler up", interval=1)
        answer = self.post(
            "/v2.1/flavors",
            {"flavor": {"name": "tiny", "id": "tiny", "ram": 64, "vcpus": 1, "disk": 0}},
        )
        assert answer.status_code == 200, answer.text
        began = time.monotonic()
        self.start(*self.fleets)

        def fleet_up() -> bool:
            assert not self.exited(), self.exited()
            return self.up_counts().get("compute", 0) >= len(self.hosts)

        wait(fleet_up, timeout, f"{len(self.hosts)} compute hosts up", interval=2)
        return time.monotonic() - began


class FleetRabbit(PrivateRabbit):
    """tests/faults/servers.py's private RabbitMQ node, with more file descriptors.

    The node is started through ``su``, whose PAM session sets the soft descriptor
    limit back to 1,024; rabbitmq-server sources ``RABBITMQ_CONF_ENV_FILE`` (a shell
    file) before it starts the VM, so the limit is raised there, up to the hard limit.
    """

    def env(self) -> dict[str, str]:
        env_file = self.root.parent / "rabbitmq-env.conf"
        if not env_file.exists():
            env_file.write_text(f"ulimit -n {PRIVATE_BROKER_FILES} || true\n")
            env_file.chmod(0o644)
        return {**super().env(), "RABBITMQ_CONF_ENV_FILE": str(env_file)}


def start_private_broker() -> PrivateRabbit:
    """A private RabbitMQ node that can hold one connection per host of a large fleet."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < PRIVATE_BROKER_FILES:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, PRIVATE_BROKER_FILES))  # root only
    root = Path(tempfile.mkdtemp(prefix="nubis-fleet-broker-"))
    root.chmod(0o755)
    rabbit = FleetRabbit(root)
    rabbit.start()
    probe.use_node(RABBIT_NODE, rabbit.env())
    return rabbit


# --- one size ------------------------------------------------------------------------------


def snapshot(cloud: FleetCloud, database: str, vhost: str) -> dict[str, Any]:
    return {
        "at": time.monotonic(),
        "cpu": {name: probe.cpu_seconds(cloud.pid(name)) for name in cloud.procs},
        "metrics": {name: probe.scrape(port) for name, port in cloud.ports.items()},
        "db": probe.database_counters(database),
        "broker": probe.broker_view(vhost),
    }


def steady_state(before: dict[str, Any], after: dict[str, Any], hosts: int) -> dict[str, Any]:
    seconds = after["at"] - before["at"]
    minutes = seconds / 60
    cpu = {name: after["cpu"][name] - before["cpu"][name] for name in after["cpu"]}
    control = sum(cpu[name] for name in CONTROL_PLANE)
    conductors = cpu["conductor-1"] + cpu["conductor-2"]
    fleet = sum(v for k, v in cpu.items() if k.startswith("fleet"))
    messages = sum(
        probe.rpc_messages(after["metrics"][name]) - probe.rpc_messages(before["metrics"][name])
        for name in after["metrics"]
    )
    db = probe.counter_rates(after["db"], before["db"], seconds)
    by_method: dict[str, float] = {}
    for name in after["metrics"]:
        for key, value in probe.messages_by_method(after["metrics"][name]).items():
            earlier = probe.messages_by_method(before["metrics"][name]).get(key, 0.0)
            by_method[key] = by_method.get(key, 0.0) + value - earlier
    broker_bytes = after["broker"].received_bytes - before["broker"].received_bytes
    return {
        "window_s": seconds,
        "rpc_per_host_min_by_method": {
            k: round(v / hosts / minutes, 3)
            for k, v in sorted(by_method.items(), key=lambda kv: -kv[1])
            if v > 0
        },
        "control_cpu_cores": control / seconds,
        "control_cpu_s_per_host_min": control / hosts / minutes,
        "conductor_cpu_s_per_host_min": conductors / hosts / minutes,
        "scheduler_cpu_s_per_min": cpu["scheduler-1"] / minutes,
        "api_cpu_s_per_min": cpu["api-1"] / minutes,
        "fleet_cpu_s_per_host_min": fleet / hosts / minutes,
        "rpc_msgs_per_s": messages / seconds,
        "rpc_msgs_per_host_min": messages / hosts / minutes,
        "broker_kib_per_s": broker_bytes / 1024 / seconds,
        "connections": after["broker"].connections,
        "queues": after["broker"].queues,
        "db_xact_per_s": db["xact_commit"] + db["xact_rollback"],
        "db_xact_per_host_min": (db["xact_commit"] + db["xact_rollback"]) * 60 / hosts,
        "db_rows_read_per_s": db["tup_returned"] + db["tup_fetched"],
        "db_rows_written_per_s": db["tup_inserted"] + db["tup_updated"] + db["tup_deleted"],
    }


def run_size(hosts: int, args: argparse.Namespace, largest: bool) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    vhost, database = f"nubis-fleet-{tag}", f"nubis_fleet_{tag}"
    broker = args.broker_address
    run_dir = Path(tempfile.mkdtemp(prefix=f"nubis-fleet-{hosts}-"))
    probe.make_vhost(vhost)
    db_url = probe.make_database(database)
    cloud: FleetCloud | None = None
    result: dict[str, Any] = {"hosts": hosts, "servicegroup": args.servicegroup}
    try:
        cloud = FleetCloud(
            run_dir,
            db_url,
            f"rabbit://guest:guest@{broker}/{vhost}",
            hosts,
            args.per_process,
            args.servicegroup,
        )
        print(f"[{hosts} hosts] starting ({run_dir})", flush=True)
        result["fleet_up_s"] = cloud.bring_up_fleet(timeout=120 + hosts * 0.5)
        print(f"[{hosts} hosts] all up in {result['fleet_up_s']:.0f} s", flush=True)
        time.sleep(args.warmup)
        before = snapshot(cloud, database, vhost)
        time.sleep(args.window)
        after = snapshot(cloud, database, vhost)
        result.update(steady_state(before, after, hosts))
        result["rss_mb"] = {name: probe.rss_mb(cloud.pid(name)) for name in cloud.procs}
        print(f"[{hosts} hosts] steady state measured; load", flush=True)
        result.update(run_load(cloud, args, largest))
        problems = [line for p in cloud.procs.values() for line in _tracebacks(p.log)]
        result["tracebacks"] = problems[:5]
    finally:
        if cloud is not None:
            for problem in cloud.stop():
                print(f"[{hosts} hosts] {problem}")
        for cleanup, what in (
            (lambda: probe.delete_vhost(vhost), "vhost"),
            (lambda: probe.drop_database(database), "database"),
            (lambda: probe.delete_zk_path(ZK_HOSTS, f"/nubis-fleet-{cloud.tag}"), "chroot")
            if cloud
            else (lambda: None, "-"),
        ):
            try:
                cleanup()
            except Exception as exc:  # noqa: BLE001 -- report, go on cleaning
                print(f"[{hosts} hosts] removing the {what}: {exc}")
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    return result


def _tracebacks(log: Path) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [
        f"{log.name}: {lines[i - 1][:160]}" for i, line in enumerate(lines) if "Traceback" in line
    ]


# --- the table -------------------------------------------------------------------------------

ROWS: tuple[tuple[str, str, bool], ...] = (
    # key, label, per-host cost (gets a growth ratio)
    ("control_cpu_cores", "control-plane CPU, cores (conductors+scheduler+API)", False),
    ("control_cpu_s_per_host_min", "control-plane CPU s / host / min", True),
    ("conductor_cpu_s_per_host_min", "conductor CPU s / host / min (2 workers)", True),
    ("scheduler_cpu_s_per_min", "scheduler CPU s / min", False),
    ("api_cpu_s_per_min", "API CPU s / min (idle; service list polls)", False),
    ("fleet_cpu_s_per_host_min", "simulated compute CPU s / host / min", True),
    ("rpc_msgs_per_s", "RPC messages / s", False),
    ("rpc_msgs_per_host_min", "RPC messages / host / min", True),
    ("broker_kib_per_s", "bytes into RabbitMQ, KiB / s", False),
    ("connections", "RabbitMQ connections", False),
    ("connections_per_host", "RabbitMQ connections / host", True),
    ("queues", "RabbitMQ queues", False),
    ("db_xact_per_s", "DB transactions / s", False),
    ("db_xact_per_host_min", "DB transactions / host / min", True),
    ("db_rows_read_per_s", "DB rows read / s", False),
    ("db_rows_written_per_s", "DB rows written / s", False),
    ("rss_conductor_mb", "RSS conductor (each), MB", False),
    ("rss_scheduler_mb", "RSS scheduler, MB", False),
    ("rss_api_mb", "RSS API, MB", False),
    ("rss_fleet_per_host_mb", "RSS simulated compute / host, MB", True),
    ("fleet_up_s", "fleet start-up until all up, s", False),
    ("load_builds", "load: builds", False),
    ("load_active_s", "load: builds until all ACTIVE, s", False),
    ("sched_p50_ms", "scheduler decision p50, ms (conductor's view)", False),
    ("sched_p99_ms", "scheduler decision p99, ms", False),
    ("create_p50_ms", "API POST /servers p50, ms", False),
    ("conductor_cpu_ms_per_build", "load: conductor CPU ms / build", False),
    ("scheduler_cpu_ms_per_build", "load: scheduler CPU ms / build", False),
    ("api_cpu_ms_per_build", "load: API CPU ms / build", False),
    ("delete_s", "load: deletes until gone, s", False),
    ("migrations_s", "load: live migrations until done, s", False),
    ("burst_builds", "burst: builds", False),
    ("burst_answered_s", "burst: until every POST was answered, s", False),
    ("burst_create_p50_ms", "burst: API POST /servers p50, ms", False),
    ("burst_active_s", "burst: until all ACTIVE, s", False),
    ("burst_control_cpu_cores", "burst: control-plane CPU, cores", False),
    ("burst_cpu_cores", "burst: conductors / scheduler / API, cores", False),
    ("burst_machine_cores", "burst: machine busy / iowait, cores", False),
    ("burst_other_cores", "burst: fleet hosts / RabbitMQ / PostgreSQL / ZooKeeper, cores", False),
    ("detail_rows", "instance records for GET /servers/detail", False),
    ("detail_p50_ms", "GET /servers/detail (1000/page) p50, ms", False),
    ("detail_p99_ms", "GET /servers/detail p99, ms", False),
    ("detail_100_p50_ms", "GET /servers/detail?limit=100 p50, ms", False),
    ("detail_walk_s", "all records, pages of 1000, s", False),
)


def derive(result: dict[str, Any]) -> None:
    rss = result.get("rss_mb", {})
    if rss:
        result["rss_conductor_mb"] = max(rss["conductor-1"], rss["conductor-2"])
        result["rss_scheduler_mb"] = rss["scheduler-1"]
        result["rss_api_mb"] = rss["api-1"]
        fleet = sum(v for k, v in rss.items() if k.startswith("fleet"))
        result["rss_fleet_per_host_mb"] = fleet / result["hosts"]
    if "connections" in result:
        result["connections_per_host"] = result["connections"] / result["hosts"]


def table(results: list[dict[str, Any]]) -> str:
    for result in results:
        derive(result)
    head = ["figure", *(f"N={r['hosts']}" for r in results)]
    head += [f"x{b['hosts']}/{a['hosts']}" for a, b in zip(results, results[1:], strict=False)]
    rows = [head]
    for key, label, per_host in ROWS:
        if not any(key in r for r in results):
            continue
        row = [label, *(probe.fmt(r.get(key), 3 if per_host else 1) for r in results)]
        for a, b in zip(results, results[1:], strict=False):
            ratio = "-"
            if per_host and a.get(key) and b.get(key) is not None:
                ratio = f"{b[key] / a[key]:.2f}"
            row.append(ratio)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="100,300,1000", help="fleet sizes, comma-separated")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,50 hosts")
    parser.add_argument("--per-process", type=int, default=100, help="hosts per fleet process")
    parser.add_argument("--servicegroup", choices=("zk", "db"), default="zk")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the window")
    parser.add_argument("--window", type=float, default=60.0, help="steady-state seconds (>= 60)")
    parser.add_argument("--load", type=int, default=100, help="builds of each size's load")
    parser.add_argument("--burst", type=int, default=1000, help="burst at the largest size")
    parser.add_argument("--migrations", type=int, default=3)
    parser.add_argument("--detail-rows", type=int, default=10_000)
    parser.add_argument(
        "--private-broker",
        action="store_true",
        help="run a private RabbitMQ node (tests/faults/servers.py's, port 31672) with a "
        "descriptor limit of 20,000 instead of the machine's, whose 1,024 descriptors "
        "(832 sockets) cannot hold the connections of ~800 hosts or more",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the run directories")
    args = parser.parse_args(argv)
    sizes = [20, 50] if args.quick else [int(n) for n in args.hosts.split(",")]
    if args.quick:
        args.warmup, args.window = min(args.warmup, 30.0), min(args.window, 30.0)
        args.burst, args.load, args.detail_rows = min(args.burst, 100), min(args.load, 40), 1000
    if not args.quick and args.window < 60:
        parser.error("--window must be at least 60 s (one resource audit of every host)")
    results = []
    private = None
    args.broker_address = "127.0.0.1:5672"
    if args.private_broker:
        private = start_private_broker()
        args.broker_address = f"127.0.0.1:{RABBIT_PORT}"
    try:
        for hosts in sizes:
            results.append(run_size(hosts, args, largest=hosts == max(sizes)))
            print(table(results), flush=True)
    finally:
        if private is not None:
            private.shutdown()
            shutil.rmtree(private.root.parent, ignore_errors=True)
    print(f"\nservicegroup driver: {args.servicegroup}; {args.per_process} hosts per fleet process")
    print("latencies were taken on a shared 2-core machine; CPU figures are CPU time")
    for result in results:
        top = list(result.get("rpc_per_host_min_by_method", {}).items())[:8]
        print(f"[{result['hosts']} hosts] RPC messages / host / min by method: {top}")
    for result in results:
        for line in result.get("tracebacks", []):
            print(f"[{result['hosts']} hosts] traceback after: {line}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
