"""The Launcher keeps the main thread free for signals in every phase: a stop during
start-up ends it at once, a stop while serving is bounded by graceful_shutdown_timeout
overall, a second signal gives up waiting. (The binaries are run for real in
tests/functional/test_startup_signals.py.)"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from nubis.core import exception
from nubis.core.conf import CONF
from nubis.core.launcher import EXIT_ABANDONED, EXIT_STOPPED, Launcher


class FakeService:
    """Records its life cycle; ``start``/``stop`` block while the given event is clear."""

    def __init__(self, name, start_gate=None, stop_gate=None):
        self.binary = name
        self.events = []
        self.started = threading.Event()
        self.reset_called = threading.Event()
        self.start_gate = start_gate
        self.stop_gate = stop_gate

    def start(self):
        self.events.append("start")
        if self.start_gate is not None:
            self.start_gate.wait()
        self.started.set()

    def stop(self):
        self.events.append("stop")
        if self.stop_gate is not None:
            self.stop_gate.wait()

    def reset(self):
        self.reset_called.set()


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def signal_when(event: threading.Event, *signums: int) -> None:
    """From a helper thread: once *event* is set, send *signums* to this process."""

    def send() -> None:
        assert event.wait(10)
        for signum in signums:
            os.kill(os.getpid(), signum)

    threading.Thread(target=send, daemon=True).start()


def timed_run(launcher, prepare=None):
    began = time.monotonic()
    code = launcher.run(prepare)
    return code, time.monotonic() - began


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_preparation_stops_at_once(flags, signum):
    flags(graceful_shutdown_timeout=30)
    waiting, never = threading.Event(), threading.Event()
    service = FakeService("late")

    def prepare():
        waiting.set()
        never.wait()  # a start-up wait that never ends by itself
        return [service]

    signal_when(waiting, signum)
    code, took = timed_run(Launcher(conf=CONF), prepare)
    never.set()  # let the abandoned start-up thread end
    assert (code, service.events) == (EXIT_STOPPED, [])
    assert took < 3


def test_a_signal_while_a_service_starts_stops_the_ones_started(flags):
    flags(graceful_shutdown_timeout=30)
    first = FakeService("first")
    second = FakeService("second", start_gate=threading.Event())
    signal_when(first.started, signal.SIGTERM)
    code, took = timed_run(Launcher([first, second], CONF))
    assert code == EXIT_STOPPED and took < 3
    assert first.events == ["start", "stop"]
    assert second.events == ["start"]
    second.start_gate.set()  # it finishes starting after all: it stops itself
    deadline = time.monotonic() + 5
    while second.events != ["start", "stop"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_the_whole_stop_is_bounded_by_graceful_shutdown_timeout(flags):
    flags(graceful_shutdown_timeout=1)
    stuck = FakeService("stuck", stop_gate=threading.Event())
    other = FakeService("other")
    launcher = Launcher([other, stuck], CONF)
    signal_when(stuck.started, signal.SIGTERM)
    code, took = timed_run(launcher)
    assert (code, launcher.abandoned) == (EXIT_ABANDONED, True)
    assert 0.9 < took < 3
    assert other.events == ["start"]  # stopped after the stuck one: never reached
    stuck.stop_gate.set()


def test_a_second_signal_gives_up_waiting(flags):
    flags(graceful_shutdown_timeout=60)
    stuck = FakeService("stuck", stop_gate=threading.Event())
    launcher = Launcher([stuck], CONF)
    signal_when(stuck.started, signal.SIGTERM, signal.SIGINT)
    code, took = timed_run(launcher)
    stuck.stop_gate.set()
    assert (code, launcher.abandoned) == (EXIT_ABANDONED, True)
    assert took < 3


def test_sighup_resets_and_sigterm_stops(flags):
    flags(graceful_shutdown_timeout=10)
    service = FakeService("svc")
    signal_when(service.started, signal.SIGHUP)
    signal_when(service.reset_called, signal.SIGTERM)
    code, _ = timed_run(Launcher([service], CONF))
    assert code == EXIT_STOPPED
    assert service.events == ["start", "stop"]


def test_a_failing_preparation_is_raised_after_stopping_nothing(flags):
    def prepare():
        raise exception.ConfigurationError(option="[api] port", reason="nope")

    with pytest.raises(exception.ConfigurationError, match=r"\[api\] port: nope"):
        Launcher(conf=CONF).run(prepare)


def test_a_failing_start_stops_the_services_started_and_is_raised(flags):
    flags(graceful_shutdown_timeout=10)
    first = FakeService("first")

    class Broken(FakeService):
        def start(self):
            raise exception.ServiceTimeout(what="nubis-conductor", timeout=1)

    with pytest.raises(exception.ServiceTimeout):
        Launcher([first, Broken("broken")], CONF).run()
    assert first.events == ["start", "stop"]
