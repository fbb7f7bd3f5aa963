"""Tell systemd how a service binary is doing: the ``sd_notify`` protocol.

A unit of ``Type=notify`` (``etc/systemd/``) starts the binary with ``$NOTIFY_SOCKET``
naming a datagram socket: systemd counts the unit started when ``READY=1`` arrives
there -- :class:`~nubis.core.launcher.Launcher` sends it once every service of the
process has started -- and stopping at ``STOPPING=1``, sent when the stop begins. With
``WatchdogSec=`` systemd also sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``) and
restarts the unit when ``WATCHDOG=1`` stops coming; the launcher sends it from its main
loop, the one that handles signals, so a process whose main loop is stuck is restarted.
See sd_notify(3).

Without ``$NOTIFY_SOCKET`` (the binary was not started by such a unit) every method
here does nothing. Notifying never stops a service: a ``$NOTIFY_SOCKET`` that is not an
``AF_UNIX`` address (an absolute path, or ``@name`` for Linux's abstract namespace), a
malformed ``$WATCHDOG_USEC`` or a socket that refuses the message is one warning line,
once, and the service carries on.

Written here rather than taken from a library: the protocol is one datagram per
message; oslo.service's ``systemd`` module (installed with oslo.messaging) sends only
``READY=1``, and ``sdnotify`` on PyPI has not been released since 2017.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

LOG = logging.getLogger(__name__)

#: The longest a message may wait for room in systemd's socket queue.
SEND_TIMEOUT = 1.0


class Notifier:
    """The sd_notify messages of this process, to the socket *environ* names.

    *environ* defaults to ``os.environ``, read once, here. Methods return whether the
    message was sent. Meant for one thread (the launcher's main thread).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._warned = False
        self.address = self._address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_interval = self._watchdog_interval(env) if self.address else None
        self._last_keepalive: float | None = None

    @property
    def enabled(self) -> bool:
        """Whether systemd listens (``$NOTIFY_SOCKET`` names a usable address)."""
        return self.address is not None

    def ready(self, status: str = "") -> bool:
        """``READY=1``: every service of the process has started (with ``STATUS=``
        *status*, which ``systemctl status`` shows, when given)."""
        return self.notify("READY=1", *_status(status))

    def stopping(self, status: str = "") -> bool:
        """``STOPPING=1``: the process has begun to stop."""
        return self.notify("STOPPING=1", *_status(status))

    def keepalive(self) -> bool:
        """``WATCHDOG=1`` if systemd asked for it and :attr:`watchdog_interval` seconds
        (half of ``$WATCHDOG_USEC``) passed since the last one; call it at least that
        often."""
        if self.watchdog_interval is None:
            return False
        now = time.monotonic()
        if self._last_keepalive is not None and now - self._last_keepalive < (
            self.watchdog_interval
        ):
            return False
        self._last_keepalive = now
        return self.notify("WATCHDOG=1")

    def notify(self, *assignments: str) -> bool:
        """Send *assignments* (``KEY=value`` each) as one message; False when systemd
        does not listen or the send failed (warned once)."""
        if self.address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(SEND_TIMEOUT)
                sock.sendto(message, self.address)
        except OSError as exc:
            self._warn(
                "cannot notify systemd at NOTIFY_SOCKET %s: %s",
                _shown(self.address),
                exc.strerror or exc,
            )
            return False
        return True

    # --- the environment ---------------------------------------------------------------

    def _address(self, value: str) -> str | None:
        if not value:
            return None
        if value.startswith("/"):
            return value
        if value.startswith("@") and len(value) > 1:
            return "\0" + value[1:]
        self._warn(
            "NOTIFY_SOCKET %r is not an AF_UNIX socket address (an absolute path or "
            "@name); systemd is not told when this service is ready",
            value,
        )
        return None

    def _watchdog_interval(self, env: Mapping[str, str]) -> float | None:
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if not usec:
            return None
        if pid and pid != str(os.getpid()):
            return None  # the watchdog is another process's (a parent that set it)
        try:
            microseconds = int(usec)
        except ValueError:
            microseconds = 0
        if microseconds <= 0:
            self._warn("WATCHDOG_USEC %r is not a positive number; no watchdog pings", usec)
            return None
        return microseconds / 2e6

    def _warn(self, message: str, *args: object) -> None:
        if not self._warned:
            self._warned = True
            LOG.warning(message, *args)


def _status(status: str) -> tuple[str, ...]:
    return (f"STATUS={' '.join(status.split())}",) if status else ()


def _shown(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address
