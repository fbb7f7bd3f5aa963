"""nubis.core.systemd against a real datagram socket standing in for systemd's."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nubis.core.systemd import Notifier


@pytest.fixture
def listener() -> Iterator[tuple[str, socket.socket]]:
    """``(NOTIFY_SOCKET value, bound socket)`` in a short temporary directory (a socket
    path must fit in 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="nubis-sd-") as folder:
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(5)
            yield path, sock


def _pending(sock: socket.socket) -> list[bytes]:
    """Every message already queued on *sock*."""
    sock.setblocking(False)
    try:
        messages = []
        while True:
            try:
                messages.append(sock.recv(4096))
            except BlockingIOError:
                return messages
    finally:
        sock.settimeout(5)


def test_ready_and_stopping_reach_the_socket(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled and notifier.watchdog_interval is None
    assert notifier.ready("serving  nubis-conductor\non aio")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving nubis-conductor on aio"
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"


def test_an_abstract_socket_is_named_with_a_leading_at() -> None:
    name = f"nubis-sd-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_notify_socket_nothing_is_sent(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    assert not notifier.ready("x") and not notifier.stopping() and not notifier.keepalive()
    assert caplog.records == []


def test_the_watchdog_pings_at_half_the_interval(
    listener: tuple[str, socket.socket],
) -> None:
    path, sock = listener
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    assert notifier.watchdog_interval == 30.0
    assert notifier.keepalive()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert not notifier.keepalive()  # 30 s have not passed
    assert _pending(sock) == []

    short = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1"})
    assert short.keepalive() and short.keepalive()  # 0.5 us: due at every call
    assert _pending(sock) == [b"WATCHDOG=1", b"WATCHDOG=1"]


def test_another_process_watchdog_is_not_ours(listener: tuple[str, socket.socket]) -> None:
    path, _ = listener
    notifier = Notifier(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    )
    assert notifier.watchdog_interval is None and not notifier.keepalive()


@pytest.mark.parametrize(
    ("env", "warning"),
    [
        (
            {"NOTIFY_SOCKET": "vsock:2:1234"},
            "NOTIFY_SOCKET 'vsock:2:1234' is not an AF_UNIX socket address (an absolute "
            "path or @name); systemd is not told when this service is ready",
        ),
        (
            {"NOTIFY_SOCKET": "@"},
            "NOTIFY_SOCKET '@' is not an AF_UNIX socket address (an absolute path or "
            "@name); systemd is not told when this service is ready",
        ),
        (
            {"NOTIFY_SOCKET": "/nonexistent/notify", "WATCHDOG_USEC": "soon"},
            "WATCHDOG_USEC 'soon' is not a positive number; no watchdog pings",
        ),
    ],
)
def test_a_bad_environment_is_one_warning(
    env: dict[str, str], warning: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="nubis.core.systemd"):
        notifier = Notifier(env)
        assert notifier.watchdog_interval is None
    assert [r.getMessage() for r in caplog.records] == [warning]


def test_a_socket_nobody_listens_on_is_one_warning_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with tempfile.TemporaryDirectory(prefix="nubis-sd-") as folder:
        path = str(Path(folder) / "gone")
        notifier = Notifier({"NOTIFY_SOCKET": path})
        with caplog.at_level(logging.WARNING, logger="nubis.core.systemd"):
            assert not notifier.ready()
            assert not notifier.stopping()
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot notify systemd at NOTIFY_SOCKET {path}: No such file or directory"
    ]
