"""Nova side by side: ``ComputeNode.save()`` through Nova's conductor and through nubis's.

In one run, on the same transport (``kombu+memory:////``, the conductor in the caller's
process, as PEERS.md measured Nova) and the same SQLite settings (a file each in one
temporary folder, ``journal_mode=WAL``, ``synchronous=NORMAL``: nubis's settings, given
to Nova's engine too and read back from both engines before timing):

* Nova 34: ``node.vcpus_used = v; node.save()`` with ``NovaObject.indirection_api`` set
  to ``nova.conductor.rpcapi.ConductorAPI`` (as nova-compute sets it) and Nova's own
  conductor service (``nova.service.Service`` with ``ConductorManager``) serving it, in
  a process of the Nova venv's python (``bench/nova_peer_worker.py``; its docstring
  lists what it changes in Nova's stock path and why: the placement client stubbed,
  the indirection API per thread, no membership report, the SQLite pragmas);
* nubis: the same save with the ``conductor`` indirection plugin and nubis's conductor
  service (``Service.create("conductor")``) serving it, in a process of this python
  (this script with ``--serve-nubis``).

Both conductors run as their services do (service record, RPC server with the
service's endpoints) with membership reports and periodic tasks off (a report's write
between a save's read and write fails Nova's save on SQLite: see the worker); both
nodes carry ``_common.COMPUTE_NODE_FIELDS``.

The two sides take turns in rounds (``--round`` saves on one, then on the other, the
first side alternating), so that machine load affects both alike; a warm-up of
``--warmup`` saves per side is not counted. The side not taking its turn is stopped
(SIGSTOP): the in-memory transport's listeners poll without sleeping, and an idle
side's polling would otherwise take CPU from the side being timed. Every save is
checked on both sides (``_common.SaveSide.run``: the object, the row read back through
a separate SQLite connection, the conductor's count); a failed check ends the run with
exit 1 and no ratio.

After the rounds, with both sides stopped, two floors are timed in this process
(``transport_floors``; ``--calls`` calls each after the warm-up): a raw oslo.messaging
``call`` of an endpoint that does nothing, and of one that writes the value into a row
of a SQLite file with the same settings through a bare ``sqlite3`` UPDATE, on the same
transport. No conductor can save faster than the first, and none that writes the row
faster than the second, so ``Nova p50 / floor p50`` is the highest ratio any
implementation could reach on this transport, and ``Nova p50 / write floor p50`` the
highest for one that reaches the database; both are printed beside the ratios.

Prints p50/p99/mean of each side and the ratios Nova/nubis. Targets: nubis at least 5x
faster on p50 and 3x on p99; exit 0 when both are met, 1 otherwise, 2 when the Nova
venv is missing. ``make nova-venv`` (``NOVA_VENV=PATH``; default /var/tmp/nova-venv)
makes the venv: ``pip install nova==34.0.0`` brings all the conductor needs on SQLite.

Run: .venv/bin/python bench/nova_side_by_side.py [--nova-venv PATH] [--calls N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _common import COMPUTE_NODE_FIELDS, SaveSide, serve_side, summarize  # noqa: E402

TRANSPORT_URL = "kombu+memory:////"
NOVA_VERSION = "34.0.0"
TARGET_P50, TARGET_P99 = 5.0, 3.0
DEFAULT_NOVA_VENV = "/var/tmp/nova-venv"
START_TIMEOUT = 180.0  # imports and migrations on a loaded 2-core machine
RUN_TIMEOUT = 120.0


class NubisSide(SaveSide):
    """nubis's conductor service and a ComputeNode saved through it (``--serve-nubis``)."""

    label = "nubis"

    def __init__(self, workdir: Path) -> None:
        from remotable_save import _configure

        self.db_path = workdir / "nubis.sqlite"
        _configure(TRANSPORT_URL, f"sqlite:///{self.db_path}", "conductor")
        import sqlalchemy

        from nubis.core import objects
        from nubis.core.context import get_admin_context
        from nubis.core.db import engine, migration
        from nubis.core.objects import base
        from nubis.core.plugins import load_one
        from nubis.core.service import Service
        from nubis.core.version import VERSION

        migration.db_sync()
        base.set_indirection_api(None)  # create the node locally
        self.node = objects.ComputeNode(
            get_admin_context(), uuid=str(uuid.uuid4()), **COMPUTE_NODE_FIELDS
        )
        self.node.create()
        # As on Nova's side, no membership reports during the timed saves: the db driver
        # has no "off", so its one report comes in the warm-up.
        self.service = Service.create(
            "conductor", host="bench", report_interval=3600, periodic_enable=False
        )
        self.count_saves(self.service.manager)
        self.service.start()
        base.set_indirection_api(load_one("nubis.indirection", "conductor")())
        with engine.get_engine().connect() as conn:
            sqlite = {
                "journal_mode": conn.execute(sqlalchemy.text("PRAGMA journal_mode")).scalar(),
                "synchronous": conn.execute(sqlalchemy.text("PRAGMA synchronous")).scalar(),
            }
        self.info = {"version": VERSION, "sqlite": sqlite}

    def stop(self) -> None:
        from nubis.core.objects import base

        base.set_indirection_api(None)
        self.service.stop()


class CheckFailed(RuntimeError):
    """A side failed a check or did not answer: the run has no ratio to print."""


class Worker:
    """A side in its own process, driven over JSON lines (``_common.serve_side``)."""

    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name, self.log_path = name, log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING="true"),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.info = self._answer(START_TIMEOUT)
        except CheckFailed:
            self.proc.kill()
            self.proc.wait(10)
            self._log.close()
            raise
        self.pause()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _answer(self, timeout: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise CheckFailed(f"{self.name}: no answer in {timeout:.0f} s") from None
        if line is None:
            tail = self.log_path.read_text().strip().splitlines()[-15:]
            raise CheckFailed(f"{self.name} worker exited:\n  " + "\n  ".join(tail))
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise CheckFailed(answer["error"])
        return answer

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def run(self, values: list[int]) -> list[float]:
        """Resume the side, have it save *values*, stop it again; the samples (ms)."""
        assert self.proc.stdin is not None
        self.proc.send_signal(signal.SIGCONT)
        try:
            self.proc.stdin.write(json.dumps({"op": "run", "values": values}) + "\n")
            self.proc.stdin.flush()
            samples: list[float] = self._answer(RUN_TIMEOUT)["samples"]
        finally:
            self.pause()
        return samples

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "stop"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def alternate(
    nova: Worker, nubis: Worker, calls: int, round_size: int, warmup: int
) -> dict[str, list[float]]:
    """Warm both sides up, then time *calls* saves each in alternating rounds.

    Every save writes a value no earlier save wrote, so a save that wrote nothing
    cannot pass the read-back check.
    """
    counter = iter(range(1, 10**9))

    def values(count: int) -> list[int]:
        return [next(counter) for _ in range(count)]

    nova.run(values(warmup))
    nubis.run(values(warmup))
    samples: dict[str, list[float]] = {"nova": [], "nubis": []}
    done, turn = 0, 0
    while done < calls:
        size = min(round_size, calls - done)
        for side in (nova, nubis) if turn % 2 == 0 else (nubis, nova):
            samples[side.name] += side.run(values(size))
        done, turn = done + size, turn + 1
    return samples


def transport_floors(calls: int, warmup: int, workdir: Path) -> dict[str, list[float]]:
    """Time raw oslo.messaging calls on TRANSPORT_URL, server and client in this process
    as on the sides (ms each), of two endpoints:

    * ``floor``: an endpoint that does nothing;
    * ``floor_write``: an endpoint that writes the value into one row of a SQLite file
      with the sides' settings (a plain ``sqlite3`` UPDATE in autocommit, a connection
      per server thread) and returns it: the least work any conductor must do for a
      save that reaches the database.

    *calls* calls of each after *warmup* not counted; every answer is checked.
    """
    import sqlite3
    import time

    import oslo_messaging as messaging
    from oslo_config import cfg

    db_path = workdir / "floor.sqlite"
    setup = sqlite3.connect(db_path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE row (id INTEGER PRIMARY KEY, value INTEGER)")
    setup.execute("INSERT INTO row VALUES (1, 0)")
    setup.close()
    local = threading.local()

    class Floor:
        target = messaging.Target(version="1.0")

        def nothing(self, ctxt: Any, value: int) -> int:
            return value

        def write(self, ctxt: Any, value: int) -> int:
            db = getattr(local, "db", None)
            if db is None:
                db = local.db = sqlite3.connect(db_path, isolation_level=None)
                db.execute("PRAGMA synchronous=NORMAL")
            db.execute("UPDATE row SET value = ? WHERE id = 1", (value,))
            return value

    conf = cfg.CONF  # oslo.messaging registers some of its options on the global one only
    conf([], project="nubis-bench-floor", default_config_files=[], default_config_dirs=[])
    transport = messaging.get_rpc_transport(conf, url=TRANSPORT_URL)
    target = messaging.Target(topic=f"floor-{uuid.uuid4().hex[:8]}", server="floor")
    server = messaging.get_rpc_server(transport, target, [Floor()], executor="threading")
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic=target.topic))
    reader = sqlite3.connect(db_path)
    try:
        floors: dict[str, list[float]] = {}
        for name, method in (("floor", "nothing"), ("floor_write", "write")):
            for value in range(warmup):
                client.call({}, method, value=value)
            samples = floors[name] = []
            for value in range(warmup, warmup + calls):
                began = time.perf_counter()
                answer = client.call({}, method, value=value)
                samples.append((time.perf_counter() - began) * 1000)
                if answer != value:
                    raise CheckFailed(f"the floor's {method} answered {answer} for {value}")
            if method == "write":
                row = reader.execute("SELECT value FROM row WHERE id = 1").fetchone()
                if row != (warmup + calls - 1,):
                    raise CheckFailed(f"the floor's writes left {row} in the row")
        return floors
    finally:
        reader.close()
        server.stop()
        server.wait()
        transport.cleanup()


def nova_python(venv: Path) -> Path | None:
    """The venv's python if Nova NOVA_VERSION is installed there, else None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('nova'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return python if probe.stdout.strip() == NOVA_VERSION else None


def report(samples: dict[str, list[float]], infos: dict[str, Any], args: Any) -> bool:
    """Print the table and the ratios; return whether both targets are met."""
    nova, nubis = summarize(samples["nova"]), summarize(samples["nubis"])
    floor, floor_write = summarize(samples["floor"]), summarize(samples["floor_write"])
    p50_ratio, p99_ratio = nova["p50"] / nubis["p50"], nova["p99"] / nubis["p99"]
    sqlite = ", ".join(f"{key}={value}" for key, value in infos["nubis"]["sqlite"].items())
    print(
        f"ComputeNode.save() through the conductor on {TRANSPORT_URL}, SQLite file ({sqlite}); "
        f"{len(samples['nubis'])} checked saves a side in rounds of {args.round}, "
        f"{args.warmup} warm-up saves not counted"
    )
    print(f"{'side':<46}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    rows = (
        (f"Nova {infos['nova']['version']} (nova.conductor)", nova),
        (f"nubis {infos['nubis']['version']} (conductor indirection)", nubis),
        ("floor: raw oslo.messaging call, no work", floor),
        ("floor: raw call, one sqlite3 UPDATE", floor_write),
    )
    for label, stats in rows:
        print(f"{label:<46}{stats['p50']:>9.3f}{stats['p99']:>9.3f}{stats['mean']:>9.3f}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"nubis above the floor: p50 +{nubis['p50'] - floor['p50']:.3f} ms, "
        f"Nova +{nova['p50'] - floor['p50']:.3f} ms; the highest p50 ratio this transport "
        f"allows: {nova['p50'] / floor['p50']:.1f}x, to a conductor that writes the row: "
        f"{nova['p50'] / floor_write['p50']:.1f}x"
    )
    met = p50_ratio >= TARGET_P50 and p99_ratio >= TARGET_P99
    print(
        f"nubis faster: p50 {p50_ratio:.1f}x (target >= {TARGET_P50:g}x), "
        f"p99 {p99_ratio:.1f}x (target >= {TARGET_P99:g}x)  {'PASS' if met else 'FAIL'}"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nova-venv",
        type=Path,
        default=Path(os.environ.get("NOVA_VENV") or DEFAULT_NOVA_VENV),
        help=f"a venv with nova=={NOVA_VERSION} (default: $NOVA_VENV or {DEFAULT_NOVA_VENV})",
    )
    parser.add_argument("--calls", type=int, default=1000, help="timed saves a side")
    parser.add_argument("--round", type=int, default=50, help="saves a side per turn")
    parser.add_argument("--warmup", type=int, default=50, help="saves a side not counted")
    parser.add_argument("--quick", action="store_true", help="200 timed saves a side")
    parser.add_argument("--serve-nubis", type=Path, metavar="WORKDIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_nubis:
        return serve_side(lambda: NubisSide(args.serve_nubis))
    calls = 200 if args.quick else args.calls
    for name, value in (("calls", calls), ("round", args.round), ("warmup", args.warmup)):
        if value < 1:
            parser.error(f"--{name} must be a whole number of at least 1, got {value}")

    python = nova_python(args.nova_venv)
    if python is None:
        print(
            f"nova_side_by_side: no nova=={NOVA_VERSION} in the venv {args.nova_venv} "
            f"(--nova-venv PATH, or NOVA_VENV; default {DEFAULT_NOVA_VENV}). Make it with: "
            f"make nova-venv NOVA_VENV={args.nova_venv}",
            file=sys.stderr,
        )
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="nubis-nova-bench-"))
    workers: dict[str, Worker] = {}
    try:
        workers["nova"] = Worker(
            "nova",
            [str(python), str(BENCH / "nova_peer_worker.py"), "--workdir", str(workdir)],
            workdir / "nova-worker.log",
        )
        workers["nubis"] = Worker(
            "nubis",
            [sys.executable, str(Path(__file__).resolve()), "--serve-nubis", str(workdir)],
            workdir / "nubis-worker.log",
        )
        infos = {name: worker.info for name, worker in workers.items()}
        if infos["nova"]["sqlite"] != infos["nubis"]["sqlite"]:
            raise CheckFailed(
                f"SQLite settings differ: nova {infos['nova']['sqlite']}, "
                f"nubis {infos['nubis']['sqlite']}"
            )
        samples = alternate(workers["nova"], workers["nubis"], calls, args.round, args.warmup)
        samples.update(transport_floors(calls, args.warmup, workdir))
    except CheckFailed as exc:
        print(f"nova_side_by_side: run abandoned, no ratio: {exc}", file=sys.stderr)
        print(f"(worker logs in {workdir})", file=sys.stderr)
        return 1
    finally:
        for worker in workers.values():
            worker.stop()
    shutil.rmtree(workdir, ignore_errors=True)  # kept above, for its logs, when a run fails
    return 0 if report(samples, infos, args) else 1


if __name__ == "__main__":
    sys.exit(main())
