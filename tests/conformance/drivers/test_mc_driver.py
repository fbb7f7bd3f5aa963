"""What only the mc driver promises: several memcached servers (pymemcache HashClient).

Two memcached processes of the test's own (on free ports) hold the keys; the members'
keys spread over both, get_all sees all of them, and when one server dies its members'
keys move to the other, so they are up again without a restart.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from pymemcache.client.base import Client
from pymemcache.client.rendezvous import RendezvousHash

from nubis.core.conformance.harness import wait_until
from nubis.core.conformance.suites.servicegroup.fixtures import REPORT_INTERVAL, Deployment
from tests.fixtures.require import missing, port_open

pytestmark = [pytest.mark.timeout(60)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def two_memcached() -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    binary = shutil.which("memcached")
    if binary is None:
        missing("memcached is not installed; run tests/provisioning/provision.sh")
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(2):
            port = _free_port()
            proc = subprocess.Popen(
                [str(binary), "-u", "root", "-l", "127.0.0.1", "-p", str(port), "-U", "0"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append((f"127.0.0.1:{port}", proc))
            assert wait_until(lambda p=port: port_open("127.0.0.1", p, 0.2), 10)
        yield started
    finally:
        for _, proc in started:
            proc.kill()
            proc.wait(10)


def _spread(servers: list[str], topic: str, per_server: int) -> dict[str, list[str]]:
    """Member names whose keys the HashClient places *per_server* on each server."""
    hasher = RendezvousHash(nodes=list(servers))
    placement: dict[str, list[str]] = {server: [] for server in servers}
    for index in range(10_000):
        host = f"h{index}"
        server = hasher.get_node(f"{topic}:{host}")
        if len(placement[server]) < per_server:
            placement[server].append(host)
        if all(len(v) == per_server for v in placement.values()):
            return placement
    raise AssertionError(f"no spread over {servers} in 10000 names")


def _keys_on(server: str, keys: list[str]) -> list[str]:
    client = Client(server, no_delay=True, connect_timeout=2, timeout=2)
    try:
        return sorted(client.get_many(keys))
    finally:
        client.close()


def test_members_spread_over_several_servers_and_survive_one(
    mc_deployment: Deployment, two_memcached: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    servers = [address for address, _ in two_memcached]
    mc_deployment.flags(group="memcache", servers=servers, dead_timeout=3.0)
    # Members chosen by the hashing itself (pymemcache's rendezvous hash over the same
    # server names the driver's HashClient uses): four keys on each server, whatever
    # the random ports -- eight arbitrary names could all hash to one server.
    placement = _spread(servers, mc_deployment.topic, per_server=4)
    hosts = sorted(h for on_server in placement.values() for h in on_server)
    for host in hosts:
        mc_deployment.start(host)
    observer = mc_deployment.observer()
    assert type(observer.driver.client).__name__ == "HashClient"
    assert wait_until(lambda: observer.get_all(mc_deployment.topic) == hosts, 5)
    assert all(observer.is_up(mc_deployment.record(h)) for h in hosts)

    keys = [f"{mc_deployment.topic}:{h}" for h in hosts]
    for server in servers:
        expected = sorted(f"{mc_deployment.topic}:{h}" for h in placement[server])
        assert _keys_on(server, keys) == expected, f"{server} does not hold its members' keys"

    # The first server dies: its members' keys move to the second one.
    _, proc = two_memcached[0]
    proc.kill()
    proc.wait(10)
    assert wait_until(lambda: _keys_on(servers[1], keys) == sorted(keys), 20), (
        "the keys of the dead server's members did not move to the other one"
    )
    assert wait_until(lambda: observer.get_all(mc_deployment.topic) == hosts, 10)


def test_a_server_that_never_answers_blocks_nothing(
    mc_deployment: Deployment, blackhole: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nubis.plugins.servicegroup.mc")
    mc_deployment.flags(group="memcache", servers=[blackhole], connect_timeout=0.3, timeout=0.3)
    began = time.monotonic()
    service = mc_deployment.start("h1")
    assert time.monotonic() - began < 0.5, "join waited for memcached"
    api = service.servicegroup_api
    began = time.monotonic()
    assert not api.is_up(mc_deployment.record("h1"))
    assert api.get_all(mc_deployment.topic) == []
    assert time.monotonic() - began < 2 * (0.3 + 0.3) + 0.5
    time.sleep(REPORT_INTERVAL * 2.5)  # several failed reports
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "unreachable" in errors[0], errors
    began = time.monotonic()
    mc_deployment.stop("h1")
    assert time.monotonic() - began < 3
