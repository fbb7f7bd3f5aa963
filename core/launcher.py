"""Run services in this process until a signal stops them.

:class:`Launcher` starts one service (``nubis-compute``) or several (the all-in-one) and
then waits in the main thread for signals:

* SIGTERM / SIGINT: stop every service gracefully (stop consuming, finish in-flight
  calls, ``cleanup_host``) in reverse start order, then return 0;
* SIGHUP: reload the configuration files (mutable options take effect) and call
  ``reset()`` on every service's manager.

Signal handlers only record the signal; the work happens in :meth:`Launcher.wait` on
the main thread, outside the handler.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from nubis.core.service import Service

LOG = logging.getLogger(__name__)


class Launcher:
    """Starts *services* in order and runs them until SIGTERM or SIGINT."""

    def __init__(self, services: Sequence[Service], conf: cfg.ConfigOpts | None = None) -> None:
        self.services = list(services)
        self.conf = conf or cfg.CONF
        self._signals: list[int] = []
        self._wakeup = threading.Event()
        self._started: list[Service] = []

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals.append(signum)
        self._wakeup.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def start(self) -> None:
        """Start every service; on a failure stop the ones already started and re-raise."""
        for service in self.services:
            try:
                service.start()
            except BaseException:
                self.stop()
                raise
            self._started.append(service)

    def stop(self) -> None:
        """Stop the started services gracefully, last started first."""
        while self._started:
            self._started.pop().stop()

    def reload(self) -> None:
        """SIGHUP: re-read configuration files, then reset every manager."""
        LOG.info("SIGHUP: reloading configuration")
        self.conf.mutate_config_files()
        for service in self._started:
            service.reset()

    def wait(self) -> int:
        """Serve until SIGTERM/SIGINT (handling SIGHUP meanwhile); return the exit code."""
        while True:
            self._wakeup.wait()
            self._wakeup.clear()
            while self._signals:
                signum = self._signals.pop(0)
                if signum == signal.SIGHUP:
                    self.reload()
                    continue
                LOG.info("%s: stopping", signal.Signals(signum).name)
                self.stop()
                return 0

    def run(self) -> int:
        """Install handlers, start everything and serve; return the exit code."""
        self.install_signal_handlers()
        self.start()
        return self.wait()
