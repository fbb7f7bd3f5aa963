"""A real service binary under a stand-in for systemd's notify socket: ``READY=1`` comes
once its services are up, ``WATCHDOG=1`` at half the ``WATCHDOG_USEC`` interval while
it serves, ``STOPPING=1`` on SIGTERM; a binary that refuses to start never says ready.

The binary is nubis-all-in-one running only a conductor on ``inproc://`` and SQLite (the
fastest to start, and it needs no server).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
HOST = "sd-host"
#: WATCHDOG_USEC for the binary: a ping every 0.2 s.
WATCHDOG_USEC = 400_000


@pytest.fixture
def notify_socket() -> Iterator[tuple[str, socket.socket]]:
    """``(path, bound datagram socket)`` in a short temporary directory (a socket path
    must fit in 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="nubis-sd-") as folder:
        path = str(Path(folder) / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            yield path, sock


def _config(tmp_path: Path, services: str = "conductor") -> Path:
    path = tmp_path / "nubis.conf"
    path.write_text(
        f"""[DEFAULT]
host = {HOST}
state_path = {tmp_path}/state
transport_url = inproc://
periodic_enable = false
graceful_shutdown_timeout = 20

[database]
connection = sqlite:///{tmp_path}/state/nubis.sqlite

[indirection]
api = local

[all_in_one]
services = {services}
"""
    )
    return path


def _start(config: Path, notify: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, NOTIFY_SOCKET=notify, WATCHDOG_USEC=str(WATCHDOG_USEC))
    env.pop("WATCHDOG_PID", None)
    with open(log, "wb") as out:  # a pipe nobody reads would fill up and block it
        return subprocess.Popen(
            [BIN / "nubis-all-in-one", "--config-file", config],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _next_message(
    sock: socket.socket, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> str:
    """The next datagram on *sock*; fail if *proc* exits or *timeout* passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(0.2)
        try:
            return sock.recv(4096).decode()
        except TimeoutError:
            if proc.poll() is not None:
                raise AssertionError(
                    f"exited {proc.returncode} without a message: {log.read_text()}"
                ) from None
    raise AssertionError(f"no message in {timeout} s: {log.read_text()}")


def _registered(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "state" / "nubis.sqlite") as db:
        return db.execute("SELECT binary, host FROM services WHERE deleted = 0").fetchall()


@pytest.mark.timeout(120)
def test_ready_watchdog_and_stopping(
    notify_socket: tuple[str, socket.socket], tmp_path: Path
) -> None:
    path, sock = notify_socket
    log = tmp_path / "service.log"
    proc = _start(_config(tmp_path), path, log)
    try:
        messages = [_next_message(sock, proc, log)]
        while not messages[-1].startswith("READY=1"):
            assert "STOPPING=1" not in messages[-1], log.read_text()
            messages.append(_next_message(sock, proc, log))
        assert messages[-1] == f"READY=1\nSTATUS=serving nubis-conductor on {HOST}"
        # Ready means started: the service is registered and has said it is up.
        assert _registered(tmp_path) == [("nubis-conductor", HOST)]
        assert f"nubis-conductor on {HOST} is up" in log.read_text()

        pings = [_next_message(sock, proc, log, timeout=10) for _ in range(3)]
        assert pings == ["WATCHDOG=1"] * 3

        proc.send_signal(signal.SIGTERM)
        message = _next_message(sock, proc, log, timeout=10)
        while message == "WATCHDOG=1":
            message = _next_message(sock, proc, log, timeout=10)
        assert message == f"STOPPING=1\nSTATUS=stopping nubis-conductor on {HOST}"
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(120)
def test_a_binary_that_refuses_to_start_never_says_ready(
    notify_socket: tuple[str, socket.socket], tmp_path: Path
) -> None:
    path, sock = notify_socket
    log = tmp_path / "service.log"
    proc = _start(_config(tmp_path, services="conductor, nonsense"), path, log)
    try:
        assert proc.wait(60) == 2, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    sock.setblocking(False)
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            break
    assert not any(m.startswith("READY=1") for m in messages), messages
    assert "error: " in log.read_text()
