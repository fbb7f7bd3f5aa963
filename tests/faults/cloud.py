"""A multi-process nubis on the private servers of :mod:`tests.faults.servers`.

Two ``nubis-conductor`` workers, ``nubis-scheduler``, three ``nubis-compute`` hosts with
the fake driver and ``nubis-api`` (noauth), each its own process started from the ready
configs in ``etc/nubis/deployment/`` (``nubis.conf`` first, the service's file next),
plus the files this run writes last: ``run.conf`` (the private servers, short intervals)
and ``run-<name>.conf`` (the host name, the fake driver). The test process drives the
deployment only through the REST API, as a client would, and reads the database for
its verdicts.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import sqlalchemy

from tests.fixtures.deployment import BIN, CONFIG_DIR, _config_args, write_config

API_PORT = 31774
STOP_TIMEOUT = 20.0

#: name, console script, ready config files after nubis.conf
LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("conductor-1", "nubis-conductor", ("conductor.conf",)),
    ("conductor-2", "nubis-conductor", ("conductor.conf", "conductor-2.conf")),
    ("compute-1", "nubis-compute", ()),
    ("compute-2", "nubis-compute", ()),
    ("compute-3", "nubis-compute", ()),
    ("scheduler-1", "nubis-scheduler", ("scheduler.conf",)),
    ("api-1", "nubis-api", ("api.conf",)),
)
SERVICES = {"conductor": 2, "scheduler": 1, "compute": 3}

#: What the fault runs use instead of the production defaults: short enough that every
#: bound is reached within the suite's few minutes.
RUN_OPTIONS: dict[str, dict[str, Any]] = {
    "DEFAULT": {
        "rpc_response_timeout": 10,
        "report_interval": 2,
        "service_down_time": 30,
        "graceful_shutdown_timeout": 5,
        "debug": False,
    },
    "conductor": {"build_request_timeout": 15, "reconcile_interval": 2, "task_timeout": 60},
    # bursts of 50+ servers in one project: no quota stands in their way
    "quota": {"instances": -1, "cores": -1, "ram": -1},
    "compute": {
        "instance_build_timeout": 60,
        "bookkeeping_retry_interval": 1,
        "cast_timeout": 3,
    },
    "zookeeper": {"session_timeout": 6},
    "servicegroup": {"recovery_grace": 10},
    "scheduler": {"host_state_refresh_interval": 1},
    "fake_driver": {"vcpus": 512, "memory_mb": 65536},
    # The ready configs give each process a metrics port; these runs need none.
    "metrics": {"port": 0},
}


@dataclasses.dataclass
class Proc:
    name: str
    binary: str
    files: list[Path]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclasses.dataclass
class Outcome:
    """What became of the create requests of one load run."""

    acknowledged: list[str]
    refused: int  # 503s
    other: list[str]  # any other answer: status and body, one line each
    write_latencies: list[float]
    read_latencies: list[float]
    read_failures: int


class FaultCloud:
    def __init__(self, run_dir: Path, db_url: str, rabbit_url: str, zk_hosts: str) -> None:
        self.run_dir = run_dir
        self.db_url = db_url
        self.tag = uuid.uuid4().hex[:8]
        self.url = f"http://127.0.0.1:{API_PORT}"
        common = {
            "DEFAULT": {
                "transport_url": rabbit_url,
                "state_path": run_dir / "state",
                **RUN_OPTIONS["DEFAULT"],
            },
            "database": {"connection": db_url},
            "zookeeper": {
                "hosts": zk_hosts,
                "chroot": f"/nubis-faults-{self.tag}",
                **RUN_OPTIONS["zookeeper"],
            },
            **{g: dict(v) for g, v in RUN_OPTIONS.items() if g not in ("DEFAULT", "zookeeper")},
        }
        write_config(run_dir / "run.conf", common)
        self.procs: dict[str, Proc] = {}
        for name, binary, ready in LAYOUT:
            own: dict[str, dict[str, Any]] = {"DEFAULT": {"host": name}}
            if binary == "nubis-compute":
                own["indirection"] = {"api": "conductor"}
                own["compute"] = {"virt_driver": "fake"}
            if binary == "nubis-api":
                own["api"] = {"port": API_PORT, "auth_strategy": "noauth", "threads": 16}
                own["database"] = {"max_retries": 1, "max_retry_interval": 0.5}
            write_config(run_dir / f"run-{name}.conf", own)
            files = [
                CONFIG_DIR / "nubis.conf",
                *(CONFIG_DIR / f for f in ready),
                run_dir / "run.conf",
                run_dir / f"run-{name}.conf",
            ]
            self.procs[name] = Proc(name, binary, files, run_dir / f"{name}.log")
        self.session = requests.Session()

    # --- processes ------------------------------------------------------------------------

    def manage(self, *args: str) -> str:
        cmd = [
            str(BIN / "nubis-manage"),
            *_config_args([CONFIG_DIR / "nubis.conf", self.run_dir / "run.conf"]),
            *args,
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise RuntimeError(f"nubis-manage {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def start(self, *names: str) -> None:
        for name in names or tuple(self.procs):
            proc = self.procs[name]
            assert not proc.running, f"{name} is running"
            with (self.run_dir / f"{name}.out").open("ab") as out:
                proc.popen = subprocess.Popen(
                    [
                        str(BIN / proc.binary),
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

    def stop(self, *names: str) -> list[str]:
        problems = []
        order = names or tuple(reversed(self.procs))
        for name in order:
            proc = self.procs[name]
            if not proc.running:
                continue
            assert proc.popen is not None
            proc.popen.send_signal(signal.SIGTERM)
        for name in order:
            proc = self.procs[name]
            if proc.popen is None:
                continue
            try:
                proc.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(STOP_TIMEOUT)
                problems.append(f"{name} ignored SIGTERM for {STOP_TIMEOUT:g} s")
        return problems

    def kill(self, name: str) -> None:
        """SIGKILL *name* (a crash) and reap it."""
        proc = self.procs[name]
        assert proc.popen is not None
        proc.popen.kill()
        proc.popen.wait(STOP_TIMEOUT)

    def exited(self) -> list[str]:
        """Processes that are not running (any exit is a failure here)."""
        return [
            f"{p.name} exited {p.popen.returncode if p.popen else 'never started'}"
            for p in self.procs.values()
            if not p.running
        ]

    def restarts(self) -> dict[str, int]:
        return {name: p.starts - 1 for name, p in self.procs.items() if p.starts > 1}

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Wait until the API answers and lists every service up; return the seconds."""
        started = time.monotonic()

        def ready() -> bool:
            assert not self.exited(), self.exited()
            try:
                answer = self.get("/v2.1/os-services", timeout=2)
            except requests.RequestException:
                return False
            if answer.status_code != 200:
                return False
            up: dict[str, int] = {}
            for service in answer.json()["services"]:
                if service["state"] == "up" and service["status"] == "enabled":
                    binary = service["binary"].removeprefix("nubis-")
                    up[binary] = up.get(binary, 0) + 1
            return all(up.get(b, 0) >= n for b, n in SERVICES.items())

        wait(ready, timeout, "every service up in the API's service list")
        return time.monotonic() - started

    def bring_up(self) -> None:
        self.manage("db", "sync")
        self.start()
        self.wait_ready()
        answer = self.post(
            "/v2.1/flavors",
            {"flavor": {"name": "tiny", "id": "tiny", "ram": 64, "vcpus": 1, "disk": 0}},
        )
        assert answer.status_code == 200, answer.text

    # --- the REST API ---------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": "admin:admin", "OpenStack-API-Version": "compute 2.60"}

    def get(self, path: str, timeout: float = 10) -> requests.Response:
        return requests.get(self.url + path, headers=self._headers(), timeout=timeout)

    def post(self, path: str, body: Any, timeout: float = 30) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self._headers(), timeout=timeout)

    def create(self, name: str, timeout: float = 30) -> requests.Response:
        body = {"server": {"name": name, "flavorRef": "tiny", "imageRef": "", "networks": "none"}}
        return self.post("/v2.1/servers", body, timeout)

    def drive(
        self,
        prefix: str,
        count: int,
        interval: float,
        *,
        during: Callable[[], None] | None = None,
        workers: int = 8,
        read_every: float = 0.25,
        burst: int = 0,
    ) -> Outcome:
        """Send *count* creates, one every *interval* s from *workers* threads, while
        *during* runs (the fault) and a reader lists servers every *read_every* s;
        return what the API answered. With *burst*, that many more creates are sent at
        once when the fault is due, and the fault starts as soon as half of them were
        acknowledged: their builds are in flight when it strikes."""
        acknowledged: list[str] = []
        other: list[str] = []
        refused = 0
        write_latencies: list[float] = []
        read_latencies: list[float] = []
        read_failures = 0
        lock = threading.Lock()
        stop_reading = threading.Event()

        def one(index: int) -> None:
            nonlocal refused
            began = time.monotonic()
            try:
                answer = self.create(f"{prefix}-{index}")
            except requests.RequestException as exc:
                with lock:
                    other.append(f"{type(exc).__name__}: {exc}")
                    write_latencies.append(time.monotonic() - began)
                return
            spent = time.monotonic() - began
            with lock:
                write_latencies.append(spent)
                if answer.status_code == 202:
                    acknowledged.append(answer.json()["server"]["id"])
                elif answer.status_code == 503:
                    refused += 1
                    assert answer.headers.get("Retry-After"), answer.headers
                    assert answer.json()["serviceUnavailable"]["message"]
                else:
                    other.append(f"{answer.status_code} {answer.text[:200]}")

        def reader() -> None:
            nonlocal read_failures
            while not stop_reading.wait(read_every):
                began = time.monotonic()
                try:
                    answer = self.get("/v2.1/servers?limit=5", timeout=5)
                    ok = answer.status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    read_latencies.append(time.monotonic() - began)
                    if not ok:
                        read_failures += 1

        fault_failed: list[BaseException] = []

        def run_fault() -> None:
            assert during is not None
            try:
                during()
            except BaseException as exc:  # reported by drive(), in the test's thread
                fault_failed.append(exc)

        reading = threading.Thread(target=reader, daemon=True)
        reading.start()
        fault = threading.Thread(target=run_fault, daemon=True) if during else None
        with concurrent.futures.ThreadPoolExecutor(max(workers, burst)) as pool:
            futures = []
            for index in range(count):
                futures.append(pool.submit(one, index))
                if index == count // 4 and fault is not None:
                    if burst:
                        futures += [pool.submit(one, count + i) for i in range(burst)]
                        wait(lambda: len(acknowledged) >= burst // 2, 30, "the burst's answers")
                    fault.start()
                time.sleep(interval)
            for future in futures:
                future.result()
        if fault is not None:
            fault.join(300)
        stop_reading.set()
        reading.join(10)
        if fault is not None and fault.is_alive():
            raise AssertionError("the fault (stop, wait, start) did not end within 300 s")
        if fault_failed:
            exc = fault_failed[0]
            raise AssertionError(f"the fault failed: {type(exc).__name__}: {exc}") from exc
        return Outcome(acknowledged, refused, other, write_latencies, read_latencies, read_failures)

    # --- verdicts from the database -------------------------------------------------------

    def states(self, uuids: list[str]) -> dict[str, tuple[str, str | None, int]]:
        """{uuid: (vm_state, task_state, faults)} of *uuids* (deleted ones too)."""
        engine = sqlalchemy.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sqlalchemy.text(
                        "SELECT i.uuid, i.vm_state, i.task_state, "
                        "(SELECT count(*) FROM instance_faults f WHERE f.instance_uuid = i.uuid "
                        "AND f.message <> '') FROM instances i WHERE i.uuid = ANY(:u)"
                    ),
                    {"u": list(uuids)},
                ).all()
        finally:
            engine.dispose()
        return {r[0]: (r[1], r[2], int(r[3])) for r in rows}

    def fault_messages(self, uuids: list[str]) -> collections.Counter[str]:
        """How many of *uuids* have each fault message (the first line, uuids blanked),
        so a report can say why builds ended in ERROR."""
        engine = sqlalchemy.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sqlalchemy.text(
                        "SELECT instance_uuid, message FROM instance_faults "
                        "WHERE instance_uuid = ANY(:u) AND message <> ''"
                    ),
                    {"u": list(uuids)},
                ).all()
        finally:
            engine.dispose()
        return collections.Counter(
            re.sub(
                r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32}", "<id>", message
            ).splitlines()[0][:200]
            for _, message in rows
        )

    def named(self, prefix: str) -> int:
        """Instances not deleted whose name starts with *prefix*."""
        engine = sqlalchemy.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        sqlalchemy.text(
                            "SELECT count(*) FROM instances "
                            "WHERE display_name LIKE :p AND deleted = 0"
                        ),
                        {"p": f"{prefix}-%"},
                    ).scalar()
                )
        finally:
            engine.dispose()

    def spawns(self, instance_uuid: str) -> int:
        """How many times a compute host logged spawning the instance's guest (each host
        logs it before it saves the instance ACTIVE)."""
        return sum(
            self.log_count(name, f"instance {instance_uuid} spawned on")
            for name in self.procs
            if name.startswith("compute")
        )

    def log_count(self, name: str, text: str) -> int:
        try:
            return self.procs[name].log.read_text(errors="replace").count(text)
        except OSError:
            return 0

    def settle(
        self, uuids: list[str], timeout: float
    ) -> tuple[dict[str, tuple[str, str | None, int]], float]:
        """Wait until every instance of *uuids* is ACTIVE or ERROR with no task; return
        the states and the seconds it took (the states as they are after *timeout*)."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            states = self.states(uuids)
            if all(s[0] in ("active", "error") and s[1] is None for s in states.values()) and len(
                states
            ) == len(uuids):
                return states, time.monotonic() - started
            if time.monotonic() > deadline:
                return states, time.monotonic() - started
            time.sleep(0.5)


def wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def tally(states: dict[str, tuple[str, str | None, int]]) -> dict[str, int]:
    """ACTIVE, ERROR-with-fault, ERROR without a fault, and stuck (anything else)."""
    counts = {"active": 0, "error_with_fault": 0, "error_without_fault": 0, "stuck": 0}
    for vm_state, task_state, faults in states.values():
        if vm_state == "active" and task_state is None:
            counts["active"] += 1
        elif vm_state == "error" and task_state is None:
            counts["error_with_fault" if faults else "error_without_fault"] += 1
        else:
            counts["stuck"] += 1
    return counts
