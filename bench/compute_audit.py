"""nubis-compute's import, its cold start, and the cost of one resource audit.

0. Import: a new interpreter imports nubis-compute's console-script module, the
   launcher and service, the modules of every plugin it loads by default (compute
   manager, conductor indirection, db membership, the compute periodic tasks, libvirt
   driver) and the rabbit and inproc transport drivers; wall and CPU time from the
   first import to the last (median of 10 runs). Beside it, in the same run, the same
   imports as before nubis.core.native_threads: on oslo.service's eventlet backend,
   which drags in eventlet and dnspython (forced by hiding cotyledon, the threading
   backend's dependency). Target: under 0.4 s.
1. Cold start: ``nubis-compute`` as a new process (libvirt driver on libvirt's
   ``test:///default`` URI) until its log says the first resource audit completed
   (the audit runs in the manager's pre_start_hook, before RPC is served). Measured with
   the ``local`` indirection on SQLite (inproc://), and -- when the machine's RabbitMQ
   answers -- with ``[indirection] api = conductor`` and nubis-conductor already running
   in another process, which is how nubis-compute is deployed. PEERS.md's yardstick:
   Nova's cold *import* of nova.compute.manager alone takes 2.0 s on these machines.
2. The audit's cost as the host fills up: 10, 100 and 1,000 instances on one fake-driver
   node (guests running, records in SQLite), each audit finding nothing to save; through
   the ``local`` indirection and through a conductor in this process on inproc://.

Run: .venv/bin/python bench/compute_audit.py [--quick] [--import-only]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile  # noqa: E402

BIN = Path(sys.executable).parent
RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
NOVA_IMPORT_S = 2.0  # PEERS.md: cold import of nova.compute.manager on these machines
FIRST_AUDIT = "completed (first)"
SIZES = (10, 100, 1000)


def _configure(transport_url: str, db_url: str) -> Any:
    from nubis.core import objects, rpc
    from nubis.core.conf import CONF

    rpc.register_opts(CONF)
    if not CONF._args:
        CONF([], project="nubis")
    CONF.set_override("transport_url", transport_url)
    CONF.set_override("connection", db_url, group="database")
    objects.register_all()
    return CONF


def _rabbit_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


# --- 0. import ---------------------------------------------------------------------------

IMPORT_TARGET_S = 0.4
# Run with the backend and the module names as arguments; prints wall and CPU seconds,
# the module count and whether eventlet or dns got imported. CPU seconds are the steadier
# figure on a busy machine.
_IMPORT_PROBE = """
import sys, time
if sys.argv[1] == "eventlet":
    sys.modules["cotyledon"] = None  # nubis.core.native_threads then leaves oslo alone
import importlib
began, cpu = time.perf_counter(), time.process_time()
for name in sys.argv[2:]:
    importlib.import_module(name)
elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
unwanted = any(m.split(".")[0] in ("eventlet", "dns") and v is not None
               for m, v in sys.modules.items())
print(elapsed, cpu, len(sys.modules), int(unwanted))
"""


def compute_modules() -> list[str]:
    """nubis-compute's entry module, launcher and service, then the modules behind the
    entry points of the plugins it loads by default, and the rabbit and inproc
    transport drivers."""
    from importlib.metadata import entry_points

    wanted = {
        "nubis.managers": ["compute"],
        "nubis.indirection": ["conductor"],
        "nubis.servicegroup": ["db"],
        "nubis.periodic_tasks": [
            "update_available_resource",
            "sync_power_states",
            "reap_orphans",
            "build_timeout",
        ],
        "nubis.virt": ["libvirt"],
        "oslo.messaging.drivers": ["rabbit", "inproc"],
    }
    modules = ["nubis.core.cmd.services", "nubis.core.launcher", "nubis.core.service"]
    for group, names in wanted.items():
        found = {ep.name: ep.module for ep in entry_points(group=group)}
        modules.extend(found[name] for name in names if found[name] not in modules)
    return modules


def import_times(runs: int) -> dict[str, dict[str, float]]:
    """Per backend: median and least wall seconds, median CPU seconds, module count,
    and whether eventlet or dns came in."""
    modules = compute_modules()
    samples: dict[str, list[tuple[float, float, int, int]]] = {"threading": [], "eventlet": []}
    for _ in range(runs):
        for kind, rows in samples.items():  # alternate, so drift hits both alike
            out = subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE, kind, *modules],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout.split()
            rows.append((float(out[0]), float(out[1]), int(out[2]), int(out[3])))
    return {
        kind: {
            "median": statistics.median(r[0] for r in rows),
            "min": min(r[0] for r in rows),
            "cpu": statistics.median(r[1] for r in rows),
            "modules": statistics.median(r[2] for r in rows),
            "eventlet": max(r[3] for r in rows),
        }
        for kind, rows in samples.items()
    }


# --- 1. cold start ---------------------------------------------------------------------


def _write_conf(
    path: Path, workdir: Path, db_url: str, transport: str, indirection: str, topic: str
) -> None:
    path.write_text(
        f"""[DEFAULT]
host = bench-compute
transport_url = {transport}
log_file = {workdir}/compute.log
periodic_fuzzy_delay = 0
report_interval = 60
[database]
connection = {db_url}
[indirection]
api = {indirection}
[conductor]
topic = {topic}
[compute]
topic = compute-{topic}
virt_driver = libvirt
[libvirt]
virt_type = test
connection_uri = test:///default
instances_path = {workdir}/instances
"""
    )


def _cold_start(conf: Path, log: Path, timeout: float = 60.0) -> float:
    """Seconds from spawning nubis-compute to its first completed resource audit."""
    log.unlink(missing_ok=True)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "nubis-compute"), "--config-file", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if log.exists() and FIRST_AUDIT in log.read_text(errors="replace"):
                return time.perf_counter() - began
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"nubis-compute exited {proc.returncode}: {err}{tail}")
            time.sleep(0.002)
        raise RuntimeError(f"no completed resource audit within {timeout} s; see {log}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def cold_start(workdir: Path, runs: int) -> list[tuple[str, list[float]]]:
    from nubis.core.db import migration

    db_url = f"sqlite:///{workdir}/cold.sqlite"
    _configure("inproc://", db_url)
    migration.db_sync()
    results = []
    conf = workdir / "compute-local.conf"
    _write_conf(conf, workdir, db_url, "inproc://", "local", f"c-{uuid.uuid4().hex[:6]}")
    results.append(
        (
            "local indirection, SQLite, inproc://",
            [_cold_start(conf, workdir / "compute.log") for _ in range(runs)],
        )
    )
    if not _rabbit_up():
        results.append(("conductor indirection over RabbitMQ: skipped (no RabbitMQ)", []))
        return results
    topic = f"c-{uuid.uuid4().hex[:6]}"
    cond_conf = workdir / "conductor.conf"
    cond_conf.write_text(
        f"[DEFAULT]\nhost = bench-conductor\ntransport_url = {RABBIT}\n"
        f"log_file = {workdir}/conductor.log\n[database]\nconnection = {db_url}\n"
        f"[conductor]\ntopic = {topic}\n"
    )
    conductor = subprocess.Popen(
        [str(BIN / "nubis-conductor"), "--config-file", str(cond_conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        log = workdir / "conductor.log"
        deadline = time.monotonic() + 60
        while not (log.exists() and "is up" in log.read_text(errors="replace")):
            if time.monotonic() > deadline or conductor.poll() is not None:
                raise RuntimeError(f"nubis-conductor did not come up; see {log}")
            time.sleep(0.05)
        conf = workdir / "compute-conductor.conf"
        _write_conf(conf, workdir, db_url, RABBIT, "conductor", topic)
        results.append(
            (
                "conductor indirection, nubis-conductor in another process, RabbitMQ",
                [_cold_start(conf, workdir / "compute.log") for _ in range(runs)],
            )
        )
    finally:
        conductor.send_signal(signal.SIGTERM)
        try:
            conductor.wait(30)
        except subprocess.TimeoutExpired:
            conductor.kill()
    return results


# --- 2. the audit's cost -----------------------------------------------------------------


def _fill_host(context: Any, driver: Any, host: str, count: int) -> None:
    from nubis.core import objects

    for i in range(count):
        inst = objects.Instance(context)
        inst.uuid = str(uuid.uuid4())
        inst.display_name = f"vm-{i}"
        inst.host = inst.node = host
        inst.memory_mb, inst.vcpus, inst.root_gb, inst.ephemeral_gb = 64, 1, 1, 0
        inst.image_ref = ""
        inst.vm_state, inst.task_state, inst.power_state = "active", None, 1
        inst.create()
        driver.spawn(context, inst)
    # One guest the database does not know, so the orphan path runs too.
    driver.spawn(
        context,
        types.SimpleNamespace(
            uuid=str(uuid.uuid4()),
            name="stray",
            memory_mb=64,
            vcpus=1,
            root_gb=0,
            image_ref="",
            host=None,
            node=None,
            power_state=0,
        ),
    )


def audit_curve(workdir: Path, repeats: int) -> list[dict[str, Any]]:
    import oslo_messaging as messaging
    from oslo_config import cfg

    from nubis.core import plugins, rpc
    from nubis.core.context import get_admin_context
    from nubis.core.db import migration
    from nubis.core.objects import base

    db_url = f"sqlite:///{workdir}/audit.sqlite"
    conf = _configure("inproc://", db_url)
    migration.db_sync()
    topic = f"cond-{uuid.uuid4().hex[:6]}"
    conf.set_override("topic", topic, group="conductor")
    local = plugins.load_one("nubis.indirection", "local")()
    remote = plugins.load_one("nubis.indirection", "conductor")()
    conductor = plugins.load_one("nubis.managers", "conductor")(host="bench")
    server = rpc.get_server(messaging.Target(topic=topic, server="bench"), [conductor])
    server.start()
    driver_cls = plugins.load_one("nubis.virt", "fake")
    manager_cls = plugins.load_one("nubis.managers", "compute")
    audit = plugins.load_one("nubis.periodic_tasks", "update_available_resource")
    rows = []
    try:
        for count in SIZES:
            base.set_indirection_api(local)
            host = f"bench-{count}-{uuid.uuid4().hex[:4]}"
            driver_conf = cfg.ConfigOpts()
            driver_conf(args=[], default_config_files=[])
            driver = driver_cls(driver_conf)
            manager = manager_cls(host=host, driver=driver)
            manager.init_host()
            context = get_admin_context()
            _fill_host(context, driver, host, count)
            first = time.perf_counter()
            audit(manager, context)  # creates the node
            created_ms = (time.perf_counter() - first) * 1000
            row: dict[str, Any] = {"instances": count, "create_ms": created_ms}
            for label, api in (("local", local), ("conductor", remote)):
                base.set_indirection_api(api)
                samples = []
                for _ in range(repeats):
                    began = time.perf_counter()
                    results = audit(manager, get_admin_context())
                    samples.append((time.perf_counter() - began) * 1000)
                    (result,) = results.values()
                    assert not result.saved and result.instances == count, result
                row[label] = percentile(samples, 50)
                row[f"{label}_min"] = min(samples)
            rows.append(row)
            base.set_indirection_api(local)
            manager.cleanup_host()
    finally:
        base.set_indirection_api(None)
        server.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--import-only", action="store_true", help="only the import (0.)")
    args = parser.parse_args()
    runs, repeats, import_runs = (2, 5, 5) if args.quick else (5, 20, 10)
    imports = import_times(import_runs)
    now, before = imports["threading"], imports["eventlet"]
    print(f"import of nubis-compute's modules (median of {import_runs} runs)")
    print(f"{'':<52}{'median s':>10}{'min s':>8}{'CPU s':>8}{'modules':>9}{'eventlet/dns':>14}")
    for label, row in (
        ("now: oslo.service threading backend, no eventlet", now),
        ("before: oslo.service eventlet backend", before),
    ):
        print(
            f"{label:<52}{row['median']:>10.3f}{row['min']:>8.3f}{row['cpu']:>8.3f}"
            f"{row['modules']:>9.0f}{'yes' if row['eventlet'] else 'no':>14}"
        )
    print(
        f"{before['median'] / now['median']:.2f}x faster, "
        f"{before['modules'] - now['modules']:.0f} fewer modules; target "
        f"< {IMPORT_TARGET_S} s: {'met' if now['median'] < IMPORT_TARGET_S else 'MISSED'}; "
        f"Nova's import of nova.compute.manager: {NOVA_IMPORT_S} s "
        f"({NOVA_IMPORT_S / now['median']:.1f}x ours)"
    )
    if args.import_only:
        return 0
    print()
    workdir = Path(tempfile.mkdtemp(prefix="nubis-bench-audit-"))
    os.makedirs(workdir / "instances", exist_ok=True)

    starts = cold_start(workdir, runs)
    print(f"nubis-compute cold start to its first completed resource audit ({runs} runs)")
    print(f"{'':<70}{'median s':>10}{'min s':>8}{'vs Nova import':>16}")
    for label, samples in starts:
        if not samples:
            print(f"{label:<70}")
            continue
        median = statistics.median(samples)
        print(f"{label:<70}{median:>10.2f}{min(samples):>8.2f}{median / NOVA_IMPORT_S:>15.2f}x")
    print(f"(Nova: cold import of nova.compute.manager alone, {NOVA_IMPORT_S} s, PEERS.md)")

    print()
    rows = audit_curve(workdir, repeats)
    print(
        f"one resource audit, fake driver, SQLite, nothing to save (p50 of {repeats}; "
        "+1 orphan guest)"
    )
    print(
        f"{'instances':>10}{'local ms':>11}{'us/inst':>9}{'via conductor ms':>18}"
        f"{'us/inst':>9}{'first audit ms':>16}"
    )
    for row in rows:
        n = row["instances"]
        print(
            f"{n:>10}{row['local']:>11.2f}{row['local'] * 1000 / n:>9.0f}"
            f"{row['conductor']:>18.2f}{row['conductor'] * 1000 / n:>9.0f}"
            f"{row['create_ms']:>16.1f}"
        )
    small, big = rows[0], rows[-1]
    growth = big["conductor"] / small["conductor"]
    print(
        f"{SIZES[-1] // SIZES[0]}x the instances cost {growth:.1f}x the time through the "
        f"conductor ({big['local'] / small['local']:.1f}x locally)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
