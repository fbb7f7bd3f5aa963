"""Helpers shared by the benchmarks: percentiles and a server in another process."""

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
