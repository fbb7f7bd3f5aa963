"""What the membership drivers assume of their servers' clients through a restart, on
private servers (the machine's shared ones are never stopped):

* kazoo: stopping ZooKeeper suspends the client; starting it again reconnects it, with
  the persistent data intact;
* pymemcache: a memcached crash drops every key; an old client recovers after one
  failed call.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from pymemcache.client.base import Client as MemcacheClient
from pymemcache.exceptions import MemcacheError

from tests.faults.conftest import Servers
from tests.faults.servers import MC_PORT, PrivateMemcached, port_open
from tests.fixtures.real_servers import host_port

pytestmark = pytest.mark.timeout(90)

#: Not the memcached port of test_membership_outages.py, whose server lives per module.
MEMCACHED_PORT = MC_PORT + 1


def _memcache(address: str) -> MemcacheClient:
    return MemcacheClient(host_port(address), no_delay=True, connect_timeout=2, timeout=2)


@pytest.fixture
def memcached(tmp_path: Path) -> Iterator[PrivateMemcached]:
    server = PrivateMemcached(tmp_path, MEMCACHED_PORT)
    server.start()
    try:
        yield server
    finally:
        server.shutdown()


def test_zookeeper_stop_start_and_kazoo_reconnects(servers: Servers) -> None:
    zookeeper = servers.zookeeper
    states: list[str] = []
    suspended, reconnected = threading.Event(), threading.Event()

    def listener(state: str) -> None:
        states.append(state)
        if state == KazooState.SUSPENDED:
            suspended.set()
        elif state == KazooState.CONNECTED and suspended.is_set():
            reconnected.set()

    retry = {"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0}
    client = KazooClient(hosts=zookeeper.hosts, timeout=4.0, connection_retry=retry)
    client.start(timeout=10)
    client.add_listener(listener)
    path = f"/nubis-test/fault-{uuid.uuid4().hex}"
    try:
        client.create(path, b"before", makepath=True)
        zookeeper.stop(timeout=20)
        assert not port_open(zookeeper.port)
        assert suspended.wait(10), f"kazoo never saw the loss of ZooKeeper: {states}"

        zookeeper.start(timeout=30)
        assert reconnected.wait(20), f"kazoo did not reconnect after the restart: {states}"
        assert client.get(path)[0] == b"before"
        client.set(path, b"after")
        assert client.get(path)[0] == b"after"
        client.delete(path)
    finally:
        client.stop()
        client.close()
        servers.ensure_up()


def test_memcached_crash_loses_keys_and_an_old_client_recovers(
    memcached: PrivateMemcached,
) -> None:
    client = _memcache(memcached.address)
    key = f"nubis-test-{uuid.uuid4().hex}"
    try:
        assert client.set(key, b"v", noreply=False)
        memcached.kill()
        memcached.start()
        try:
            value = client.get(key)
        except (OSError, MemcacheError):
            value = client.get(key)  # pymemcache closed the dead socket; this reconnects
        assert value is None
        assert client.set(key, b"v2", noreply=False)
        assert _memcache(memcached.address).get(key) == b"v2"
    finally:
        client.close()
