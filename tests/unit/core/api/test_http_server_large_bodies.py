"""nubis-api's HTTP server lets the requests its large-body rule picks (image uploads)
send bodies past ``max_body_size``, up to their own limit, with a deadline counted from
the last data received; every other request keeps the small limit."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from nubis.core.api.http_server import HTTPServer

LARGE = 64 * 1024
READ_TIMEOUT = 1.0


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers the MD5 of the body it read and its length."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    while chunk := environ["wsgi.input"].read(8192):
        digest.update(chunk)
        size += len(chunk)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{size} {digest.hexdigest()}".encode()]


@pytest.fixture
def url() -> Iterator[str]:
    server = HTTPServer(
        app,
        "127.0.0.1",
        0,
        threads=2,
        idle_timeout=60,
        read_timeout=READ_TIMEOUT,
        max_connections=10,
        max_header_size=4096,
        max_body_size=1024,
        large_bodies=(
            lambda method, path: method == "PUT" and path.endswith("/file"),
            LARGE,
            "the image data is larger than the limit",
        ),
    )
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop(2)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_large_bodies_only_where_the_rule_says(url: str) -> None:
    data = b"x" * LARGE
    response = requests.put(url + "/image/1/file", data=data, timeout=10)
    assert response.text == f"{LARGE} {_md5(data)}"
    assert requests.put(url + "/image/1/meta", data=data, timeout=10).status_code == 413
    assert requests.post(url + "/image/1/file", data=data, timeout=10).status_code == 413
    assert requests.put(url + "/image/1/meta", data=b"y" * 1000, timeout=10).status_code == 200


def test_past_the_large_limit_the_refusal_says_why(url: str) -> None:
    response = requests.put(url + "/x/file", data=b"x" * (LARGE + 1), timeout=10)
    assert response.status_code == 413
    assert "the image data is larger than the limit" in response.json()["overLimit"]["message"]

    def chunks() -> Iterator[bytes]:
        for _ in range(LARGE // 4096 + 2):
            yield b"z" * 4096

    chunked = requests.put(url + "/x/file", data=chunks(), timeout=10)  # no Content-Length
    assert chunked.status_code == 413


def test_a_large_upload_that_keeps_moving_outlives_the_read_deadline(url: str) -> None:
    """Sent in pieces over about three read deadlines, but never idle for one."""
    piece = b"p" * 4096
    count = 12
    head = (
        f"PUT /slow/file HTTP/1.1\r\nHost: x\r\nContent-Length: {len(piece) * count}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(head)
        for _ in range(count):
            sock.sendall(piece)
            time.sleep(READ_TIMEOUT / 4)
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 200"), answer
    assert answer.endswith(f"{len(piece) * count} {_md5(piece * count)}")
