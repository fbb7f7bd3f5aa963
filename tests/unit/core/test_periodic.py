"""The periodic task decorator, its plugin contract and the runner."""

import threading
import time

from nubis.core import periodic


def test_decorator_defaults_and_disable():
    @periodic.periodic_task
    def a(manager, context): ...

    @periodic.periodic_task(spacing=-1)
    def b(manager, context): ...

    @periodic.periodic_task(spacing=5, run_immediately=True, name="custom")
    def c(manager, context): ...

    assert periodic.spec_of(a) == periodic.TaskSpec("a", 60.0, False, True)
    assert periodic.spec_of(b).enabled is False
    assert periodic.spec_of(c) == periodic.TaskSpec("custom", 5.0, True, True)


def test_check_task_contract():
    @periodic.periodic_task
    def good(manager, context): ...

    def undecorated(manager, context): ...

    @periodic.periodic_task
    def one_arg(manager): ...

    assert periodic.check_task(good) == []
    assert periodic.check_task(undecorated) == [
        "not decorated with nubis.core.periodic.periodic_task"
    ]
    assert periodic.check_task(one_arg) == ["must accept (manager, context)"]
    assert periodic.check_task(42) == ["expected a callable, got int"]


def _spec(name, spacing, immediately=False, enabled=True):
    return periodic.TaskSpec(name, spacing, immediately, enabled)


def test_runner_runs_on_schedule_and_skips_disabled():
    runs = {"fast": [], "slow": [], "off": []}
    runner = periodic.PeriodicRunner(
        [
            (_spec("fast", 0.05, immediately=True), lambda: runs["fast"].append(time.monotonic())),
            (_spec("slow", 0.3), lambda: runs["slow"].append(time.monotonic())),
            (_spec("off", 0.01, enabled=False), lambda: runs["off"].append(1)),
        ],
        interval_max=1,
    )
    start = time.monotonic()
    runner.start()
    time.sleep(0.5)
    runner.stop()
    assert runner.task_names == ["fast", "slow"]
    assert runs["off"] == []
    assert runs["fast"][0] - start < 0.05  # run_immediately
    assert 6 <= len(runs["fast"]) <= 12
    assert len(runs["slow"]) == 1 and runs["slow"][0] - start >= 0.29


def test_initial_delay_postpones_first_run():
    ran = threading.Event()
    runner = periodic.PeriodicRunner(
        [(_spec("t", 10, immediately=True), ran.set)], initial_delay=0.2
    )
    start = time.monotonic()
    runner.start()
    assert ran.wait(2)
    assert time.monotonic() - start >= 0.19
    runner.stop()


def test_failing_task_is_logged_and_others_go_on(caplog):
    good = []

    def bad():
        raise RuntimeError("boom")

    runner = periodic.PeriodicRunner(
        [(_spec("bad", 0.05, True), bad), (_spec("good", 0.05, True), lambda: good.append(1))]
    )
    runner.start()
    time.sleep(0.22)
    runner.stop()
    assert len(good) >= 3
    assert runner.runs["bad"] >= 3
    assert "periodic task bad failed" in caplog.text


def test_overrun_is_logged_and_not_run_twice_at_once(caplog):
    active = []
    overlap = []

    def slow():
        if active:
            overlap.append(1)
        active.append(1)
        time.sleep(0.25)
        active.pop()

    runner = periodic.PeriodicRunner([(_spec("slow", 0.05, True), slow)])
    runner.start()
    time.sleep(0.4)
    runner.stop()
    assert overlap == []
    assert "periodic task slow is still running" in caplog.text
    assert "skipping this run" in caplog.text
    assert "periodic task slow took" in caplog.text


def test_stop_interrupts_a_long_sleep():
    runner = periodic.PeriodicRunner([(_spec("t", 3600), lambda: None)], interval_max=3600)
    runner.start()
    began = time.monotonic()
    runner.stop()
    assert time.monotonic() - began < 1


def test_at_most_max_workers_run_at_once_and_no_thread_idles_after():
    lock = threading.Lock()
    active = [0]
    most = [0]
    release = threading.Event()
    done: list[str] = []

    def task(name):
        def run():
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            release.wait(5)
            with lock:
                active[0] -= 1
                done.append(name)

        return run

    runner = periodic.PeriodicRunner(
        [(_spec(n, 3600, immediately=True), task(n)) for n in ("a", "b", "c")], max_workers=2
    )
    runner.start()
    deadline = time.monotonic() + 5
    while active[0] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert active[0] == 2
    release.set()
    while len(done) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(done) == ["a", "b", "c"] and most[0] == 2
    runner.stop()
    assert [t.name for t in threading.enumerate() if t.name.startswith("nubis-periodic")] == []
