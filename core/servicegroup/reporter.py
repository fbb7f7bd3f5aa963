"""A background thread that runs a membership driver's state report on a schedule.

Drivers that refresh liveness themselves (``db`` through the service record, ``mc``
through a key with a TTL) run one :class:`ReportLoop` per joined member.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ReportLoop:
    """Calls *report* every *interval* seconds, the first time after *initial_delay*,
    until :meth:`stop`. *report* returns whether the report succeeded; successes are
    counted in :attr:`reports`. *report* must bound its own waiting: :meth:`stop`
    waits at most *join_timeout* for a report in progress."""

    def __init__(
        self,
        name: str,
        interval: float,
        report: Callable[[], bool],
        initial_delay: float = 0.0,
        join_timeout: float | None = None,
    ) -> None:
        self.interval = interval
        self.reports = 0
        self._report = report
        self._initial_delay = initial_delay
        self._join_timeout = interval + 1 if join_timeout is None else join_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop reporting; safe to call from the report itself."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(self._join_timeout)

    def _loop(self) -> None:
        delay = self._initial_delay
        while not self._stop.wait(delay):
            if self._report():
                self.reports += 1
            delay = self.interval
