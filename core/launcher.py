"""Run services in this process until a signal stops them.

:class:`Launcher` starts one service (``nubis-compute``) or several (the all-in-one) and
serves them until SIGTERM or SIGINT. :meth:`Launcher.run` keeps the main thread free for
signals in every phase: the start-up (the preparation a binary hands it -- the
configuration check, the waits for the message bus, a conductor and the database --
and each service's ``start()``) runs in a thread of its own, and so does the stop.
The process's metrics endpoint (:func:`nubis.core.metrics.serve`, ``[metrics] port``)
starts before the first service and stops after the last: one for the whole process.

Signals:

* SIGTERM / SIGINT while serving: stop every service gracefully (stop consuming,
  finish in-flight calls, ``cleanup_host``), last started first;
* SIGTERM / SIGINT during start-up: stop at once -- the services already started are
  stopped as above, the start-up step under way (say a wait for an unreachable broker)
  is abandoned;
* SIGHUP while serving: reload the configuration files (mutable options take effect)
  and call ``reset()`` on every service; during start-up it is ignored (the services
  read the files as they start);
* a second SIGTERM / SIGINT while stopping: give up waiting (as the timeout below).

The whole stop is bounded by ``graceful_shutdown_timeout`` (0: no bound). What is still
running then -- a call in flight, a service's ``cleanup_host`` -- is abandoned as a crash
would leave it; each service tidies up after such an end at its next start (the
compute service resets the task states of its instances, the conductor's
reconcile_builds task ends builds that made no progress).

Exit codes (:meth:`Launcher.run`'s return value; the binaries exit with it):

* :data:`EXIT_STOPPED` (0) -- stopped as asked by SIGTERM/SIGINT, whether it was serving
  or still starting, and everything stopped within ``graceful_shutdown_timeout``;
* :data:`EXIT_ABANDONED` (1) -- stopped as asked, but the timeout (or a second signal)
  came first and work was abandoned (:attr:`Launcher.abandoned` is set);
* a problem found at start-up (configuration, plugin, database, a wait that ran out)
  is raised to the caller; the binaries print it as one line and exit 2
  (:data:`nubis.core.cmd.common.EXIT_CONFIG`).

Under a systemd unit of ``Type=notify`` (:mod:`nubis.core.systemd`) :meth:`Launcher.run`
sends ``READY=1`` once every service has started, ``STOPPING=1`` when the stop begins,
and ``WATCHDOG=1`` from its main loop when the unit sets ``WatchdogSec=``.

Signal handlers only queue the signal (:class:`queue.SimpleQueue` is safe there); the
work happens on the main thread in :meth:`Launcher.run`, outside the handler.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from oslo_config import cfg

from nubis.core import metrics, native_threads
from nubis.core.service import Service
from nubis.core.systemd import Notifier

LOG = logging.getLogger(__name__)

EXIT_STOPPED = 0
EXIT_ABANDONED = 1

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How often the main thread looks up from its queue (signals wake it at once anyway).
_POLL_SECONDS = 1.0


class Launcher:
    """Starts *services* in order and runs them until SIGTERM or SIGINT."""

    def __init__(
        self, services: Sequence[Service] = (), conf: cfg.ConfigOpts | None = None
    ) -> None:
        self.services: list[Any] = list(services)
        self.conf = conf or cfg.CONF
        self.abandoned = False
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stopping = False
        self._started: list[Any] = []
        self._notifier = Notifier()

    # --- signals -------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._events.put(("signal", signum))

    def install_signal_handlers(self) -> None:
        for signum in (*_STOP_SIGNALS, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    # --- the synchronous API (tests, embedding) --------------------------------------

    def start(self) -> None:
        """Start every service in this thread; on a failure stop the ones already
        started and re-raise."""
        metrics.serve(self.conf)
        for service in self.services:
            try:
                service.start()
            except BaseException:
                self.stop()
                raise
            with self._lock:
                self._started.append(service)

    def stop(self) -> None:
        """Stop the started services gracefully, last started first (no overall bound)."""
        while True:
            with self._lock:
                if not self._started:
                    break
                service = self._started.pop()
            service.stop()
        metrics.stop()

    def reload(self) -> None:
        """SIGHUP: re-read configuration files, then reset every manager."""
        LOG.info("SIGHUP: reloading configuration")
        self.conf.mutate_config_files()
        with self._lock:
            started = list(self._started)
        for service in started:
            service.reset()

    # --- the binaries' API --------------------------------------------------------

    def run(self, prepare: Callable[[], Sequence[Any]] | None = None) -> int:
        """Install the handlers, start and serve until SIGTERM/SIGINT; return the exit
        code (see the module docstring).

        *prepare*, when given, runs first in the start-up thread and returns the
        services to start (the configuration check, the start-up waits and the
        composition of the services belong there, so that a signal stops them too).
        An exception from *prepare* or from a service's ``start()`` is re-raised here
        once the services already started are stopped.
        """
        if native_threads.skipped:
            LOG.warning(
                "eventlet is loaded in this process (%s); nubis still runs on native "
                "threads, only its start is slower",
                native_threads.skipped,
            )
        self.install_signal_handlers()
        starter = threading.Thread(
            target=self._start_in_background, args=(prepare,), name="nubis-start", daemon=True
        )
        starter.start()
        while True:
            kind, value = self._next_event()
            if kind == "started":
                with self._lock:
                    started = list(self._started)
                self._notifier.ready(f"serving {_names(started)}")
                break
            if kind == "failed":
                self._stop_within_timeout(reason="")
                raise value
            if kind == "signal" and value in _STOP_SIGNALS:
                LOG.info("%s during start-up: stopping", signal.Signals(value).name)
                return self._stop_within_timeout(reason="stopped during start-up")
            if kind == "signal":
                LOG.info("%s during start-up: ignored", signal.Signals(value).name)
        while True:
            kind, value = self._next_event()
            if kind != "signal":
                continue
            if value == signal.SIGHUP:
                self.reload()
                continue
            LOG.info("%s: stopping", signal.Signals(value).name)
            return self._stop_within_timeout(reason="stopped")

    def _next_event(self, timeout: float = _POLL_SECONDS) -> tuple[str, Any]:
        if self._notifier.watchdog_interval is not None:
            timeout = min(timeout, self._notifier.watchdog_interval)
        while True:
            self._notifier.keepalive()
            try:
                return self._events.get(timeout=timeout)
            except queue.Empty:
                continue

    def _start_in_background(self, prepare: Callable[[], Sequence[Any]] | None) -> None:
        try:
            if prepare is not None:
                services = list(prepare())
                with self._lock:
                    self.services = services
            metrics.serve(self.conf)
            for service in list(self.services):
                with self._lock:
                    if self._stopping:
                        return
                service.start()
                with self._lock:
                    late = self._stopping
                    if not late:
                        self._started.append(service)
                if late:  # the stop came while it started: it is ours to stop
                    service.stop()
                    return
        except BaseException as exc:
            with self._lock:
                stopping = self._stopping
            if stopping:
                LOG.info("start-up ended while stopping: %s", exc)
            else:
                self._events.put(("failed", exc))
            return
        self._events.put(("started", None))

    def _stop_within_timeout(self, reason: str) -> int:
        """Stop the started services in a thread, waiting at most
        ``graceful_shutdown_timeout`` for all of them; return the exit code."""
        with self._lock:
            self._stopping = True
            to_stop = list(reversed(self._started))
            self._started.clear()
        self._notifier.stopping(f"stopping {_names(to_stop)}" if to_stop else "stopping")
        timeout = float(self.conf.graceful_shutdown_timeout or 0) or None
        deadline = None if timeout is None else time.monotonic() + timeout
        stopping: list[Any] = list(to_stop)
        done = threading.Event()

        def stop_all() -> None:
            for service in to_stop:
                try:
                    service.stop()
                except Exception:
                    LOG.exception("stopping %s failed", getattr(service, "binary", service))
                stopping.remove(service)
            metrics.stop()
            done.set()
            self._events.put(("stopped", None))

        threading.Thread(target=stop_all, name="nubis-stop", daemon=True).start()
        while not done.is_set():
            wait = _POLL_SECONDS if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return self._abandon(stopping, f"graceful_shutdown_timeout ({timeout:g} s) passed")
            try:
                kind, value = self._events.get(timeout=min(wait, _POLL_SECONDS))
            except queue.Empty:
                continue
            if kind == "signal" and value in _STOP_SIGNALS:
                return self._abandon(stopping, f"a second {signal.Signals(value).name} came")
        if reason:
            LOG.info("%s", reason)
        return EXIT_STOPPED

    def _abandon(self, stopping: list[Any], why: str) -> int:
        self.abandoned = True
        names = _names(stopping)
        LOG.warning(
            "%s while stopping%s; abandoning what is still running (it is tidied up at "
            "the next start)",
            why,
            f" {names}" if names else "",
        )
        return EXIT_ABANDONED


def _names(services: Sequence[Any]) -> str:
    """``nubis-conductor on aio, nubis-api`` for *services*."""
    return ", ".join(
        f"{getattr(s, 'binary', s)}" + (f" on {s.host}" if getattr(s, "host", None) else "")
        for s in services
    )
