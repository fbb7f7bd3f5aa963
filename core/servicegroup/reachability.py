"""Whether a membership driver's server answers, logged once when it goes and once when
it returns (the rule every driver that talks to a server follows)."""

from __future__ import annotations

import logging
import threading


class Reachability:
    """The reachability of one server (*what*, e.g. ``"memcached at 127.0.0.1:11211"``).

    :meth:`lose` logs ``<what> unreachable (<reason>); <consequence>`` at ERROR on
    *log* the first time after the server was reachable, and nothing while it stays
    lost; :meth:`regain` logs ``<what> reachable again`` at INFO once when it returns.
    Both are safe to call from any thread, as often as every request.
    """

    def __init__(self, what: str, consequence: str, log: logging.Logger) -> None:
        self.what = what
        self.consequence = consequence
        self.lost = False
        self._log = log
        self._lock = threading.Lock()

    def lose(self, reason: str) -> None:
        """Record a failed request; *reason* is folded to one line."""
        with self._lock:
            if self.lost:
                return
            self.lost = True
        self._log.error(
            "%s unreachable (%s); %s", self.what, " ".join(reason.split()), self.consequence
        )

    def regain(self, detail: str = "") -> None:
        """Record a request that succeeded; *detail* is added to the log line."""
        with self._lock:
            if not self.lost:
                return
            self.lost = False
        self._log.info("%s reachable again%s", self.what, f"; {detail}" if detail else "")
