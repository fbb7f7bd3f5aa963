"""nubis-api's /healthcheck, served by a real nubis-api (waitress, in this process).

Each test starts its own nubis-api with the dependencies it needs reachable or not:
the machine's RabbitMQ, ZooKeeper and memcached for the passing cases; for the failing
ones a port of this test's own that refuses connections (a socket bound without
listening) or one that accepts them and never answers (listening, never accepted). The
shared servers are never stopped.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nubis.core import exception
from nubis.core.conf import CONF
from tests.fixtures.inproc_cloud import wait_for

#: [healthcheck] check_timeout in these tests.
CHECK_TIMEOUT = 1.0
#: The longest an answer may take: every one of the three nubis checks timing out, and
#: some slack for a loaded machine.
BOUND = 3 * CHECK_TIMEOUT + 2.0

ALL_UNREACHABLE = "database: unreachable\nbus: unreachable\nmembership: unreachable"


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections while the block runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield int(sock.getsockname()[1])


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)  # the kernel completes handshakes; nothing ever reads
        yield int(sock.getsockname()[1])


class Api:
    """One running nubis-api and a timed client of its /healthcheck."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.url = str(service.url)

    def get(self, path: str = "/healthcheck", **kwargs: Any) -> tuple[requests.Response, float]:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = requests.request(method, self.url + path, timeout=30, **kwargs)
        return response, time.monotonic() - started


@pytest.fixture
def start_api(tmp_path: Path, flags: Callable[..., None]) -> Iterator[Callable[..., Api]]:
    """``start_api(**groups)``: start nubis-api after setting each group's options
    (``DEFAULT={...}``, ``database={...}``, ...) on top of this module's defaults."""
    from nubis.core.api.service import APIService
    from nubis.core.db import engine

    started: list[Any] = []
    flags(state_path=str(tmp_path), transport_url="inproc://", graceful_shutdown_timeout=5)
    flags(group="api", port=0, auth_strategy="noauth")
    flags(group="database", connection=f"sqlite:///{tmp_path}/nubis.sqlite")
    flags(group="servicegroup", driver="db")
    flags(group="healthcheck", check_timeout=CHECK_TIMEOUT)

    def start(**groups: dict[str, Any]) -> Api:
        for group, values in groups.items():
            flags(group=None if group == "DEFAULT" else group, **values)
        service = APIService(CONF)
        service.start()
        started.append(service)
        return Api(service)

    yield start
    for service in reversed(started):
        service.stop()
    engine.reset()


def answer(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.text


# --- everything reachable ------------------------------------------------------------


def test_passes_with_the_embedded_defaults(start_api: Callable[..., Api]) -> None:
    api = start_api()
    response, elapsed = api.get()
    assert answer(response) == (200, "OK")
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert elapsed < BOUND

    head, _ = api.request("HEAD", "/healthcheck")
    assert (head.status_code, head.content) == (204, b"")

    as_json, _ = api.get(headers={"Accept": "application/json"})
    assert as_json.status_code == 200
    assert as_json.json() == {"detailed": False, "reasons": ["OK", "OK", "OK", "OK"]}


@pytest.mark.rabbit
@pytest.mark.zookeeper
@pytest.mark.memcached
@pytest.mark.parametrize("membership", ["zk", "mc"])
def test_passes_with_the_machines_servers(
    start_api: Callable[..., Api],
    rabbit_url: str,
    zookeeper: str,
    memcached: str,
    membership: str,
) -> None:
    api = start_api(
        DEFAULT={"transport_url": rabbit_url},
        servicegroup={"driver": membership},
        zookeeper={"hosts": [zookeeper]},
        memcache={"servers": [memcached]},
    )
    for _ in range(2):  # the first answer opens the membership session, the next reuses it
        response, elapsed = api.get()
        assert answer(response) == (200, "OK")
        assert elapsed < BOUND


def test_needs_no_authentication(start_api: Callable[..., Api], sqlite_db_url: str) -> None:
    api = start_api(api={"auth_strategy": "local"}, database={"connection": sqlite_db_url})
    servers, _ = api.get("/v2.1/servers")
    assert servers.status_code == 401
    response, _ = api.get()
    assert answer(response) == (200, "OK")


# --- one dependency unreachable at a time ----------------------------------------------


def test_database_unreachable(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        url = f"postgresql+psycopg2://nubis:s3cret@127.0.0.1:{port}/nubis"
        api = start_api(database={"connection": url})
        response, elapsed = api.get()
        assert answer(response) == (503, "database: unreachable")
        assert elapsed < BOUND

        head, _ = api.request("HEAD", "/healthcheck")
        assert (head.status_code, head.content) == (503, b"")


def test_bus_unreachable(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        api = start_api(DEFAULT={"transport_url": f"rabbit://guest:guest@127.0.0.1:{port}/"})
        response, elapsed = api.get()
        assert answer(response) == (503, "bus: unreachable")
        assert elapsed < BOUND


def test_membership_zookeeper_unreachable(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        api = start_api(
            servicegroup={"driver": "zk"},
            zookeeper={"hosts": [f"127.0.0.1:{port}"], "connect_timeout": 0.3},
        )
        for _ in range(2):  # the first waits connect_timeout, the next knows at once
            response, elapsed = api.get()
            assert answer(response) == (503, "membership: unreachable")
            assert elapsed < BOUND


def test_membership_memcached_unreachable(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        api = start_api(servicegroup={"driver": "mc"}, memcache={"servers": [f"127.0.0.1:{port}"]})
        response, elapsed = api.get()
        assert answer(response) == (503, "membership: unreachable")
        assert elapsed < BOUND


def test_everything_unreachable(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        closed = f"127.0.0.1:{port}"
        api = start_api(
            DEFAULT={"transport_url": f"rabbit://guest:guest@{closed}/"},
            database={"connection": f"postgresql+psycopg2://nubis:s3cret@{closed}/nubis"},
            servicegroup={"driver": "mc"},
            memcache={"servers": [closed]},
        )
        response, elapsed = api.get()
        assert answer(response) == (503, ALL_UNREACHABLE)
        assert elapsed < BOUND


# --- a backend that never answers -------------------------------------------------------


def _probe_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"nubis-healthcheck-{name}"]


def _silent(check: str, port: int) -> dict[str, dict[str, Any]]:
    address = f"127.0.0.1:{port}"
    if check == "database":
        return {"database": {"connection": f"postgresql+psycopg2://nubis:s3cret@{address}/nubis"}}
    if check == "bus":
        return {"DEFAULT": {"transport_url": f"rabbit://guest:guest@{address}/"}}
    return {
        "servicegroup": {"driver": "mc"},
        "memcache": {"servers": [address], "connect_timeout": 60, "timeout": 60},
    }


@pytest.mark.parametrize("check", ["database", "bus", "membership"])
def test_a_silent_backend_costs_the_timeout_and_one_thread(
    start_api: Callable[..., Api], check: str
) -> None:
    with silent_port() as port:
        api = start_api(healthcheck={"check_timeout": 0.5}, **_silent(check, port))
        for _ in range(2):
            response, elapsed = api.get()
            assert answer(response) == (503, f"{check}: no answer within 0.5 s")
            assert 0.5 <= elapsed < 0.5 + 2.0
        # Both requests waited for the same probe, still stuck on the silent port.
        assert len(_probe_threads(check)) == 1
    # Closing the port ends the stuck probe.
    wait_for(lambda: not _probe_threads(check), timeout=10, what="the probe to end")


# --- drain, details, options -----------------------------------------------------------


def test_the_drain_file_takes_the_node_out(start_api: Callable[..., Api], tmp_path: Path) -> None:
    api = start_api()
    drain = tmp_path / "healthcheck_disable"  # $state_path/healthcheck_disable
    drain.touch()
    response, _ = api.get()
    assert answer(response) == (503, "DISABLED BY FILE")
    drain.unlink()
    response, _ = api.get()
    assert answer(response) == (200, "OK")


def test_details_only_when_asked_for(start_api: Callable[..., Api]) -> None:
    with refusing_port() as port:
        url = f"postgresql+psycopg2://nubis:s3cret@127.0.0.1:{port}/nubis"
        api = start_api(database={"connection": url})
        plain, _ = api.get(headers={"Accept": "application/json"})
        assert plain.json() == {
            "detailed": False,
            "reasons": ["OK", "database: unreachable", "OK", "OK"],
        }

        detailed = start_api(healthcheck={"detailed": True})
        response, _ = detailed.get(headers={"Accept": "application/json"})
    body = response.json()
    assert response.status_code == 503
    details = {r["reason"]: r["details"] for r in body["reasons"]}
    assert details["database: unreachable"].startswith(
        f"postgresql+psycopg2://nubis:***@127.0.0.1:{port}/nubis: (psycopg2.OperationalError)"
    )
    assert "s3cret" not in json.dumps(body)


def test_other_methods_and_paths(start_api: Callable[..., Api]) -> None:
    api = start_api(healthcheck={"path": "/health"})
    response, _ = api.get("/health")
    assert answer(response) == (200, "OK")
    post, _ = api.request("POST", "/health")
    assert post.status_code == 405
    assert post.headers["Allow"] == "GET, HEAD"
    assert post.text == "Method POST is not allowed on /health; use GET or HEAD.\n"
    old, _ = api.get("/healthcheck")
    assert old.status_code == 404


def test_requests_from_outside_the_allowed_ranges_go_on_to_the_api(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(healthcheck={"allowed_source_ranges": ["10.0.0.0/8"]})
    response, _ = api.get()
    assert response.status_code == 404


def test_an_unknown_check_stops_the_start(start_api: Callable[..., Api]) -> None:
    with pytest.raises(exception.PluginNotFound) as raised:
        start_api(healthcheck={"backends": ["nubis_database", "nubis_databse"]})
    message = str(raised.value)
    assert message.startswith(
        "no plugin 'nubis_databse' in oslo.middleware.healthcheck (chosen by "
        "[healthcheck] backends); available: disable_by_file, "
    )
    assert "nubis_bus, nubis_database, nubis_membership" in message


def test_contradictory_checks_stop_the_start(start_api: Callable[..., Api]) -> None:
    with pytest.raises(exception.ConfigurationError, match=r"^\[healthcheck\] backends: "):
        start_api(healthcheck={"backends": ["disable_by_file", "enable_by_files"]})
