"""Fixtures of the redis driver's own tests: a configuration, drivers, a private Redis.

The tests talk to the machine's Redis (``$NUBIS_REDIS_URL``, default
``redis://127.0.0.1:6379/0``) under a key prefix of their own; the server-restart test
runs a private ``redis-server`` child on a free port instead, so that stopping it
disturbs nobody. Without a Redis the tests skip, or fail when
``NUBIS_REQUIRE_SERVERS=1`` (as nubis's CI sets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from nubis_servicegroup_redis import conf as redis_conf
from nubis_servicegroup_redis.conformance import URL, admin_client
from nubis_servicegroup_redis.driver import RedisDriver
from oslo_config import cfg

from nubis.core.conf import service as service_conf

REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3


def missing(reason: str) -> None:
    """Skip for a missing server, or fail when servers are required (CI)."""
    if os.environ.get("NUBIS_REQUIRE_SERVERS", "") not in ("", "0", "false"):
        pytest.fail(f"required server missing (NUBIS_REQUIRE_SERVERS=1): {reason}")
    pytest.skip(reason)


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll *predicate* until true (-> True) or *timeout* seconds pass (-> False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = admin_client(URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        missing(f"no Redis at {URL} ($NUBIS_REDIS_URL): {exc}")
    finally:
        client.close()
    return URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of the test's own; its keys are deleted afterwards."""
    value = f"nubis-test:{uuid.uuid4().hex[:8]}"
    yield value
    client = admin_client(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{value}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def make_driver(redis_url: str, prefix: str) -> Iterator[Callable[..., RedisDriver]]:
    """``make_driver(**redis_servicegroup options)`` -> a driver; cleaned up afterwards."""
    drivers: list[RedisDriver] = []

    def make(**options: Any) -> RedisDriver:
        conf = cfg.ConfigOpts()
        service_conf.register_opts(conf)
        conf(args=[], default_config_files=[])
        conf.set_override("report_interval", REPORT_INTERVAL)
        conf.set_override("service_down_time", SERVICE_DOWN_TIME)
        redis_conf.register_opts(conf)
        values = {"url": redis_url, "key_prefix": prefix, **options}
        for name, value in values.items():
            conf.set_override(name, value, group="redis_servicegroup")
        driver = RedisDriver(conf)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.cleanup()


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = admin_client(redis_url)
    yield client
    client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server child of this process on its own port (nothing kept on disk)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server is not installed (Debian: redis-server)")
            return
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        with log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.directory),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = admin_client(self.url)
        try:
            if not wait_until(lambda: _pings(client), timeout):
                raise RuntimeError(f"redis-server on port {self.port} did not start in {timeout} s")
        finally:
            client.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
        self.proc = None


def _pings(client: redis.Redis) -> bool:
    with contextlib.suppress(redis.RedisError):
        return bool(client.ping())
    return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
