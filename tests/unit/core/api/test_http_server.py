"""nubis-api's HTTP server (waitress with a read deadline and a bounded drain), on a
tiny WSGI application over loopback sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from nubis.core.api.http_server import HTTPServer

READ_TIMEOUT = 1.0


class App:
    """Answers ``{"path": ...}``; ``/slow`` waits until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            self.entered.set()
            self.release.wait(30)
        body = json.dumps({"path": environ["PATH_INFO"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


class Running:
    def __init__(self, app: App, threads: int = 2) -> None:
        self.app = app
        self.server = HTTPServer(
            app,
            "127.0.0.1",
            0,
            threads=threads,
            idle_timeout=60,
            read_timeout=READ_TIMEOUT,
            max_connections=100,
            max_header_size=4096,
            max_body_size=1024,
        )
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.port}"

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=10)


@pytest.fixture
def running() -> Iterator[Running]:
    app = App()
    served = Running(app)
    yield served
    app.release.set()
    served.server.stop(2)


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_serves_requests(running: Running) -> None:
    response = requests.get(running.url + "/x", timeout=10)
    assert response.status_code == 200 and response.json() == {"path": "/x"}
    assert response.headers["Server"] == "nubis-api"


def test_a_request_not_sent_whole_in_time_is_closed_without_an_answer(running: Running) -> None:
    with running.connect() as slow:
        slow.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        assert slow.recv(1024) == b""  # closed by the server, no answer
        assert time.monotonic() - started < READ_TIMEOUT + 5
    with running.connect() as silent:  # a connection that never sends a byte
        assert silent.recv(1024) == b""


def test_slow_clients_do_not_take_the_workers(running: Running) -> None:
    slow = [running.connect() for _ in range(20)]  # 10 times the 2 workers
    try:
        for sock in slow:
            sock.sendall(b"GET /x HTTP/1.1\r\n")
        _wait(lambda: running.server.connections >= 20)
        for _ in range(5):
            response = requests.get(running.url + "/fast", timeout=5)
            assert response.status_code == 200
    finally:
        for sock in slow:
            sock.close()


def test_refusals_of_the_server_itself_are_json_faults(running: Running) -> None:
    big_header = requests.get(running.url + "/x", headers={"X-Big": "a" * 8000}, timeout=10)
    assert big_header.status_code == 431
    assert big_header.json()["overLimit"]["code"] == 431
    big_body = requests.post(running.url + "/x", data=b"a" * 2000, timeout=10)
    assert big_body.status_code == 413
    assert big_body.json()["overLimit"]["code"] == 413


def test_stop_lets_a_running_request_finish_within_the_timeout() -> None:
    app = App()
    served = Running(app)
    result: dict[str, Any] = {}

    def call() -> None:
        result["response"] = requests.get(served.url + "/slow", timeout=10)

    client = threading.Thread(target=call)
    client.start()
    assert app.entered.wait(10)
    threading.Timer(0.3, app.release.set).start()
    started = time.monotonic()
    assert served.server.stop(5) is True
    assert time.monotonic() - started < 5
    client.join(10)
    assert result["response"].status_code == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.server.port), timeout=2).close()


def test_stop_is_bounded_when_a_request_does_not_finish() -> None:
    app = App()
    served = Running(app)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(served.url + "/slow", timeout=20)
        except requests.RequestException as exc:
            failures.append(exc)

    client = threading.Thread(target=call)
    client.start()
    assert app.entered.wait(10)
    idle = served.connect()
    started = time.monotonic()
    assert served.server.stop(1.0) is False
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0, elapsed
    assert idle.recv(1) == b""  # idle connections are closed too
    client.join(10)
    assert failures, "the abandoned request's connection should have been closed"
    app.release.set()
