"""Helpers shared by the benchmarks: percentiles, a server in another process, and
seeded servers for the API benchmarks."""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any


def percentile(samples: list[float], pct: float) -> float:
    """Return the *pct* percentile (0-100) of *samples*."""
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def time_calls(call: Callable[[], Any], count: int, warmup: int = 50) -> dict[str, float]:
    """Run *call* warmup+count times; return p50/p99/mean latency in milliseconds."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "mean": statistics.fmean(samples),
    }


def start_process(target: Callable[..., None], *args: Any) -> tuple[Any, Any]:
    """Start *target(ready, stop, *args)* in a spawned process; wait until it is ready.

    Returns (process, stop event). *target* sets ``ready`` when serving and returns
    when ``stop`` is set.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=target, args=(ready, stop, *args), daemon=True)
    proc.start()
    if not ready.wait(60):
        proc.kill()
        raise RuntimeError(f"benchmark server {target.__name__} did not start within 60 s")
    return proc, stop


def stop_process(proc: Any, stop: Any) -> None:
    stop.set()
    proc.join(30)
    if proc.is_alive():
        proc.kill()


def seed_servers(ctx: Any, project: str, count: int, host: str = "cmp1") -> Any:
    """Create a one-MiB flavor and *count* ACTIVE instances of *project* on *host*
    straight through the objects (no build); return the flavor."""
    import uuid

    from nubis.core import objects

    flavor = objects.Flavor(ctx)
    flavor.flavorid, flavor.name = "bench.tiny", "bench.tiny"
    flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb = 1, 1, 0, 0
    flavor.create()
    for index in range(count):
        instance = objects.Instance(ctx)
        instance.uuid = str(uuid.uuid4())
        instance.display_name = f"seed-{index}"
        instance.project_id, instance.user_id = project, "seed"
        instance.host = instance.node = host
        instance.flavor_id, instance.memory_mb, instance.vcpus = flavor.id, 1, 1
        instance.root_gb = instance.ephemeral_gb = 0
        instance.vm_state, instance.power_state = "active", 1
        instance.create()
    return flavor


# --- side by side with a peer in another venv (bench/nova_side_by_side.py) ---------
# Everything here imports only the standard library, so that a side's worker running
# under another project's python (bench/nova_peer_worker.py) shares it.

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
"""The SQLite settings nubis's engine gives a file database (nubis.core.db.engine); a
peer's engine is given the same ones."""

COMPUTE_NODE_FIELDS: dict[str, Any] = {
    "host": "cmp1",
    "hypervisor_hostname": "node-1.bench",
    "vcpus": 64,
    "memory_mb": 262144,
    "local_gb": 2000,
    "vcpus_used": 0,
    "memory_mb_used": 512,
    "local_gb_used": 0,
    "free_ram_mb": 261632,
    "free_disk_gb": 2000,
    "running_vms": 0,
    "disk_available_least": 1900,
    "hypervisor_type": "QEMU",
    "hypervisor_version": 8002000,
    "cpu_info": '{"arch": "x86_64", "model": "host-model", "vendor": "Intel"}',
    "host_ip": "192.0.2.10",
    "cpu_allocation_ratio": 4.0,
    "ram_allocation_ratio": 1.0,
    "disk_allocation_ratio": 1.0,
}
"""Fields both projects' ``ComputeNode`` has, as a compute host's audit sets them: both
sides of a side-by-side benchmark create their node with these."""


def summarize(samples: list[float]) -> dict[str, float]:
    """p50/p99/mean of *samples* (milliseconds), as ``time_calls`` reports them."""
    return {
        "p50": percentile(samples, 50),
        "p99": percentile(samples, 99),
        "mean": statistics.fmean(samples),
    }


class SaveSide:
    """One side of a side-by-side save benchmark: a saved object and its checks.

    A subclass sets up ``node`` (a ComputeNode whose ``save`` goes through its
    project's conductor), ``db_path`` (the SQLite file it lives in), ``info`` (what
    the ready line reports: at least ``sqlite``, the engine's journal mode and
    synchronous setting) and calls :meth:`count_saves` on the conductor manager.
    """

    label = "side"
    node: Any
    db_path: Any
    info: dict[str, Any]
    saves = 0

    def count_saves(self, manager: Any) -> None:
        """Make *manager*'s ``object_action`` count the saves of ``node`` it runs.

        It stays a bound method, so a project's own wrapping of RPC endpoint methods
        still applies to it.
        """
        import types

        object_action = manager.object_action
        node_uuid = self.node.uuid

        def counted(manager: Any, ctxt: Any, **kwargs: Any) -> Any:
            # Only this node's saves: the membership report saves objects too.
            if kwargs["objmethod"] == "save" and kwargs["objinst"].uuid == node_uuid:
                self.saves += 1
            return object_action(ctxt, **kwargs)

        manager.object_action = types.MethodType(counted, manager)

    def run(self, values: list[int]) -> list[float]:
        """``node.vcpus_used = v; node.save()`` for each value, timing the save alone.

        After each save, outside the timed span: the object is clean and holds the
        value, a separate SQLite connection reads the value back from the row, and the
        conductor ran this save (the count went up by one). Raises RuntimeError naming
        the side and what was wrong.
        """
        import sqlite3

        samples = []
        node = self.node
        reader = sqlite3.connect(self.db_path)
        try:
            for value in values:
                saves = self.saves
                began = time.perf_counter()
                node.vcpus_used = value
                node.save()
                samples.append((time.perf_counter() - began) * 1000)
                row = reader.execute(
                    "SELECT vcpus_used FROM compute_nodes WHERE id = ?", (node.id,)
                ).fetchone()
                if node.obj_what_changed() or node.vcpus_used != value:
                    raise RuntimeError(
                        f"{self.label}: after saving {value} the object holds "
                        f"{node.vcpus_used}, changed {sorted(node.obj_what_changed())}"
                    )
                if row != (value,):
                    raise RuntimeError(f"{self.label}: saved {value}, the row holds {row}")
                if self.saves != saves + 1:
                    raise RuntimeError(f"{self.label}: the save did not run on the conductor")
        finally:
            reader.close()
        return samples

    def stop(self) -> None:
        """Stop the conductor service."""


def serve_side(make_side: Callable[[], SaveSide]) -> int:
    """Run a side as a worker process speaking JSON lines on stdin/stdout.

    Answers one ``{"ready": true, ...side.info}`` line once ``make_side()`` returned,
    then ``{"samples": [...]}`` for each ``{"op": "run", "values": [...]}`` line (or
    ``{"error": "<one line>"}``, the traceback going to stderr), until ``{"op":
    "stop"}`` or the end of stdin. Anything else written to stdout goes to stderr.
    """
    import json
    import os
    import sys
    import traceback

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def answer(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")

    side = make_side()
    answer({"ready": True, **side.info})
    try:
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "stop":
                break
            try:
                answer({"samples": side.run(request["values"])})
            except Exception as exc:  # the parent reports it and abandons the run
                traceback.print_exc()  # in full to the worker's log
                first_line = (str(exc).splitlines() or [""])[0][:300]
                answer({"error": f"{type(exc).__name__}: {first_line}"})
    finally:
        side.stop()
    return 0
