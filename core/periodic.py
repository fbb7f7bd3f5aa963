"""Periodic tasks: the decorator, the plugin contract and the runner.

A periodic task is a callable decorated with :func:`periodic_task`. A manager's own
tasks are methods (``self, context``); plugin tasks in ``nubis.periodic_tasks`` are
functions that take ``(manager, context)`` and are chosen by ``[<service>]
periodic_tasks``.

Spacing: ``0`` means the default of :data:`DEFAULT_INTERVAL` seconds; a negative spacing
disables the task. A task first runs at start when ``run_immediately`` is set, otherwise
one spacing after start; after that it runs one spacing after its previous run *began*.

:class:`PeriodicRunner` sleeps until the next task is due (never longer than
``interval_max``), runs each due task in a thread of its own (at most ``max_workers`` at
once) so one slow task does not delay the others, never runs the same task twice at
once, logs a task that outlasts its spacing, and logs a failing task without stopping
the rest. Each run's duration, overrun and failure are recorded in
:mod:`nubis.core.metrics` under the task's name.
"""

from __future__ import annotations

import dataclasses
import heapq
import inspect
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from nubis.core import metrics

LOG = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0

_MARK = "_nubis_periodic"


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """How often and under what name a periodic task runs."""

    name: str
    spacing: float
    run_immediately: bool
    enabled: bool


def periodic_task(
    func: Callable[..., Any] | None = None,
    *,
    spacing: float = 0,
    run_immediately: bool = False,
    enabled: bool = True,
    name: str | None = None,
) -> Any:
    """Mark *func* as a periodic task (usable bare or with arguments).

    ``spacing`` 0 means every :data:`DEFAULT_INTERVAL` seconds; negative disables it.
    """

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        effective = DEFAULT_INTERVAL if spacing == 0 else float(spacing)
        spec = TaskSpec(
            name=name or f.__name__,
            spacing=effective,
            run_immediately=run_immediately,
            enabled=enabled and effective > 0,
        )
        setattr(f, _MARK, spec)
        return f

    if func is not None:
        return decorate(func)
    return decorate


def spec_of(func: Any) -> TaskSpec | None:
    """Return the TaskSpec of a decorated callable, or None."""
    return getattr(func, _MARK, None)


def check_task(plugin: Any) -> list[str]:
    """Contract of ``nubis.periodic_tasks``: what *plugin* lacks to be a task plugin."""
    problems = []
    if not callable(plugin):
        return [f"expected a callable, got {type(plugin).__name__}"]
    if spec_of(plugin) is None:
        problems.append("not decorated with nubis.core.periodic.periodic_task")
    try:
        inspect.signature(plugin).bind(object(), object())
    except TypeError:
        problems.append("must accept (manager, context)")
    except ValueError:
        pass
    return problems


@dataclasses.dataclass
class _Scheduled:
    spec: TaskSpec
    run: Callable[[], Any]
    running: bool = False
    last_started: float | None = None


class PeriodicRunner:
    """Runs a set of periodic tasks on their spacing until stopped.

    *tasks* are ``(TaskSpec, callable)`` pairs; each callable takes no arguments.
    """

    def __init__(
        self,
        tasks: list[tuple[TaskSpec, Callable[[], Any]]],
        initial_delay: float = 0.0,
        interval_max: float = DEFAULT_INTERVAL,
        max_workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tasks = [_Scheduled(spec, run) for spec, run in tasks if spec.enabled]
        self._initial_delay = initial_delay
        self._interval_max = interval_max
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # A thread per run rather than a pool: runs are seconds apart, and a pool's idle
        # workers (futurist's poll every second) would wake a thousand hosts' processes
        # thousands of times a second for nothing.
        self._slots = threading.BoundedSemaphore(max_workers)
        self._thread: threading.Thread | None = None
        self._in_flight: set[threading.Thread] = set()
        self.runs: dict[str, int] = {t.spec.name: 0 for t in self._tasks}

    @property
    def task_names(self) -> list[str]:
        return [t.spec.name for t in self._tasks]

    def start(self) -> None:
        """Start the scheduling thread (returns at once)."""
        self._thread = threading.Thread(target=self._loop, name="nubis-periodic", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop scheduling and wait up to *timeout* for running tasks to finish."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            in_flight = list(self._in_flight)
        deadline = None if timeout is None else time.monotonic() + timeout
        for run in in_flight:
            run.join(None if deadline is None else max(deadline - time.monotonic(), 0.0))

    def _loop(self) -> None:
        if self._initial_delay and self._stop.wait(self._initial_delay):
            return
        start = self._clock()
        queue: list[tuple[float, int]] = []
        for index, task in enumerate(self._tasks):
            first = start if task.spec.run_immediately else start + task.spec.spacing
            heapq.heappush(queue, (first, index))
        while not self._stop.is_set() and queue:
            due, index = queue[0]
            now = self._clock()
            if due > now:
                self._wake.wait(min(due - now, self._interval_max))
                self._wake.clear()
                continue
            heapq.heappop(queue)
            task = self._tasks[index]
            self._submit(task, now)
            heapq.heappush(queue, (now + task.spec.spacing, index))

    def _submit(self, task: _Scheduled, now: float) -> None:
        with self._lock:
            if task.running:
                LOG.warning(
                    "periodic task %s is still running after %.1f s, longer than its "
                    "%.1f s spacing; skipping this run",
                    task.spec.name,
                    now - (task.last_started or now),
                    task.spec.spacing,
                )
                return
            task.running = True
            task.last_started = now
        run = threading.Thread(
            target=self._run, args=(task,), name=f"nubis-periodic-{task.spec.name}", daemon=True
        )
        with self._lock:  # started under the lock: stop() joins only started threads
            self._in_flight = {t for t in self._in_flight if t.is_alive()}
            run.start()
            self._in_flight.add(run)

    def _run(self, task: _Scheduled) -> None:
        with self._slots:
            if self._stop.is_set():  # waited for a slot until the runner stopped
                with self._lock:
                    task.running = False
                return
            self._run_once(task)

    def _run_once(self, task: _Scheduled) -> None:
        began = self._clock()
        failed = False
        try:
            task.run()
        except Exception:
            failed = True
            LOG.exception("periodic task %s failed", task.spec.name)
        finally:
            took = self._clock() - began
            metrics.periodic_run(task.spec.name, took, task.spec.spacing, failed)
            with self._lock:
                task.running = False
                self.runs[task.spec.name] += 1
            if took > task.spec.spacing:
                LOG.warning(
                    "periodic task %s took %.1f s, longer than its %.1f s spacing",
                    task.spec.name,
                    took,
                    task.spec.spacing,
                )


def fuzzy_delay(maximum: float) -> float:
    """Return a random initial delay in [0, maximum]."""
    return random.uniform(0, maximum) if maximum > 0 else 0.0
