"""The servicegroup conformance suite runs against every installed driver.

``driver_name`` is parametrized over ``plugins.available("nubis.servicegroup")`` at
collection time, so a third party's driver installed in the environment is tested
too. What the suite needs to know about a driver's server lives in :data:`PROVISIONS`:
how to point the driver at it, how to take it away and bring it back (a real fault)
and how to see that ``leave`` left nothing behind. A driver without an entry runs
every test that needs no fault; the fault test calls ``missing()`` for it.

Each test gets an embedded deployment (``deployment``): a fresh SQLite database,
an in-process transport, the real ``conductor`` manager, report_interval=1 and
service_down_time=3, and a topic of its own. Members are real services started in
this process; observers are separate servicegroup APIs (separate driver instances,
as in another process).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubis.core import plugins
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.objects.service import Service as ServiceRecord
from nubis.core.service import Service
from nubis.core.servicegroup.api import API
from tests.fixtures import servers

REPORT_INTERVAL = 1
SERVICE_DOWN_TIME = 3
BINARY = "nubis-conductor"

DRIVERS = plugins.available("nubis.servicegroup")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll *predicate* until it is true (-> True) or *timeout* seconds pass (-> False)."""
    return servers.wait_until(lambda: bool(predicate()), timeout, interval)


# ------------------------------------------------------------------ per-driver knowledge


@dataclasses.dataclass
class Provision:
    """How the suite runs one driver against its real server."""

    #: configure(request, flags, tag) points the driver at its server (tag: unique id).
    configure: Callable[[pytest.FixtureRequest, Callable[..., None], str], None]
    #: fault(deployment) -> context manager: the server is away inside, back after.
    fault: Callable[[Deployment], contextlib.AbstractContextManager[None]] | None = None
    #: left_behind(deployment, host) -> what a left member still holds ("" if nothing).
    left_behind: Callable[[Deployment, str], str] | None = None
    #: teardown(request, tag) removes what configure created on the server.
    teardown: Callable[[pytest.FixtureRequest, str], None] | None = None


def _db_configure(request: pytest.FixtureRequest, flags: Callable[..., None], tag: str) -> None:
    return None


@contextlib.contextmanager
def _db_fault(deployment: Deployment) -> Iterator[None]:
    """Lock the SQLite database for writing from another connection (the DB "away")."""
    # One failed transaction is one failed report: no retrying on the locked database.
    deployment.flags(group="database", max_retries=0)
    locker = sqlite3.connect(deployment.db_path, isolation_level=None, timeout=10)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        locker.rollback()
        locker.close()


def _db_left_behind(deployment: Deployment, host: str) -> str:
    before = deployment.record(host).report_count
    time.sleep(REPORT_INTERVAL * 1.5)
    after = deployment.record(host).report_count
    return f"report_count still grows ({before} -> {after})" if after != before else ""


def _zk_configure(request: pytest.FixtureRequest, flags: Callable[..., None], tag: str) -> None:
    hosts = request.getfixturevalue("zookeeper")
    flags(
        group="zookeeper",
        hosts=[hosts],
        chroot=f"/nubis-conformance-{tag}",
        root="/services",
        session_timeout=2.0,
        connect_timeout=2.0,
    )


def _zk_client(hosts: str | None = None) -> Any:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts or ",".join(CONF.zookeeper.hosts), timeout=5)
    client.start(timeout=10)
    return client


@contextlib.contextmanager
def _zk_fault(deployment: Deployment) -> Iterator[None]:
    servers.stop_zookeeper()
    try:
        yield
    finally:
        servers.start_zookeeper()


def _zk_left_behind(deployment: Deployment, host: str) -> str:
    zk = CONF.zookeeper
    path = f"{zk.chroot}{zk.root}/{deployment.topic}/{host}"
    client = _zk_client()
    try:
        return f"node {path} still exists" if client.exists(path) else ""
    finally:
        client.stop()
        client.close()


def _zk_teardown(request: pytest.FixtureRequest, tag: str) -> None:
    from kazoo.exceptions import NoNodeError

    client = _zk_client(request.getfixturevalue("zookeeper"))
    try:
        client.delete(f"/nubis-conformance-{tag}", recursive=True)
    except NoNodeError:
        pass
    finally:
        client.stop()
        client.close()


def _mc_configure(request: pytest.FixtureRequest, flags: Callable[..., None], tag: str) -> None:
    flags(group="memcache", servers=[request.getfixturevalue("memcached")])


@contextlib.contextmanager
def _mc_fault(deployment: Deployment) -> Iterator[None]:
    servers.stop_memcached()
    try:
        yield
    finally:
        servers.start_memcached()


def _mc_left_behind(deployment: Deployment, host: str) -> str:
    from pymemcache.client.base import Client

    key = f"{deployment.topic}:{host}"
    client = Client(CONF.memcache.servers[0], no_delay=True, connect_timeout=2, timeout=2)
    try:
        return f"key {key} still exists" if client.get(key) is not None else ""
    finally:
        client.close()


PROVISIONS: dict[str, Provision] = {
    "db": Provision(_db_configure, _db_fault, _db_left_behind),
    "zk": Provision(_zk_configure, _zk_fault, _zk_left_behind, _zk_teardown),
    "mc": Provision(_mc_configure, _mc_fault, _mc_left_behind),
}


# ------------------------------------------------------------------ the deployment


class Deployment:
    """One embedded deployment: members (services) and observers of one topic."""

    def __init__(self, driver_name: str, topic: str, db_path: str, flags: Callable[..., None]):
        self.driver_name = driver_name
        self.provision = PROVISIONS.get(driver_name)
        self.topic = topic
        self.db_path = db_path
        self.flags = flags
        self.members: dict[str, Service] = {}
        self._observers: list[API] = []

    def start(self, host: str) -> Service:
        """Start a real service (the conductor manager) on *host*; it joins the topic."""
        service = Service.create("conductor", host=host, topic=self.topic)
        self.members[host] = service
        service.start()
        return service

    def stop(self, host: str) -> None:
        self.members[host].stop()

    def observer(self) -> API:
        """A servicegroup API with its own driver instance, as another process has."""
        api = API()
        self._observers.append(api)
        return api

    def record(self, host: str) -> Any:
        """The service record of *host* as the database has it now."""
        record = ServiceRecord.get_by_host_and_binary(get_admin_context(), host, BINARY)
        assert record is not None, f"no service record for {host}"
        return record

    def close(self) -> None:
        for service in self.members.values():
            service.stop()
        for api in self._observers:
            api.driver.cleanup()


@pytest.fixture(params=DRIVERS)
def driver_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def deployment(
    driver_name: str, request: pytest.FixtureRequest, flags: Callable[..., None], tmp_path: Any
) -> Iterator[Deployment]:
    from nubis.core.db import engine, migration
    from nubis.core.objects.base import install_indirection

    tag = uuid.uuid4().hex[:8]
    flags(
        transport_url=f"inproc:///{uuid.uuid4().hex}",
        report_interval=REPORT_INTERVAL,
        service_down_time=SERVICE_DOWN_TIME,
        periodic_enable=False,
        graceful_shutdown_timeout=5,
    )
    db_path = str(tmp_path / "nubis.sqlite")
    flags(group="database", connection=f"sqlite:///{db_path}")
    flags(group="indirection", api="local")
    flags(group="servicegroup", driver=driver_name)
    provision = PROVISIONS.get(driver_name)
    if provision is not None:
        provision.configure(request, flags, tag)
    migration.db_sync()
    install_indirection()
    deployment = Deployment(driver_name, f"sg-{tag}", db_path, flags)
    try:
        yield deployment
    finally:
        deployment.close()
        engine.reset()
        if provision is not None and provision.teardown is not None:
            provision.teardown(request, tag)


def driver_logger(driver_name: str) -> str:
    """The logger a driver's module logs to (its reachability lines)."""
    cls = plugins.load_one("nubis.servicegroup", driver_name)
    return str(cls.__module__)


@pytest.fixture
def blackhole() -> Iterator[str]:
    """``host:port`` of a server that accepts connections and never answers."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"
