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
