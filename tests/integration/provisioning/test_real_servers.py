"""Real-server checks of tests/provisioning/provision.sh and tests/fixtures/real_servers.py.

Each test needs a server the provisioning script starts; a missing one skips locally and
fails under NUBIS_REQUIRE_SERVERS=1. None stops a shared server: how clients live through
a ZooKeeper or memcached restart is tested on private instances
(tests/faults/test_private_servers.py).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest

from tests.fixtures.real_servers import host_port, libvirt_domain_type, wait_until
from tests.fixtures.require import missing

# Fixtures (zookeeper, memcached, libvirt_uri) come from conftest.py.

try:
    from kazoo.client import KazooClient
except ImportError:  # reported per test through missing()
    KazooClient = None  # type: ignore[assignment,misc]
try:
    from pymemcache.client.base import Client as MemcacheClient
except ImportError:
    MemcacheClient = None  # type: ignore[assignment,misc]

FAST_RETRY = {"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0}


def _kazoo(hosts: str) -> KazooClient:
    """Return a started KazooClient with a 4 s session and reconnect attempts at most 1 s apart."""
    if KazooClient is None:
        missing("kazoo is not installed; pip install -e '.[test]'")
    client = KazooClient(hosts=hosts, timeout=4.0, connection_retry=FAST_RETRY)
    client.start(timeout=10)
    return client


def _memcache(server: str) -> MemcacheClient:
    """Return a pymemcache client for *server* with Nagle disabled and 2 s timeouts."""
    if MemcacheClient is None:
        missing("pymemcache is not installed; pip install -e '.[test]'")
    return MemcacheClient(host_port(server), no_delay=True, connect_timeout=2, timeout=2)


@pytest.mark.zookeeper
@pytest.mark.timeout(30)
def test_kazoo_ephemeral_node_lives_with_its_session(zookeeper):
    """An ephemeral node is visible to other clients and vanishes when its client stops."""
    path = f"/nubis-test/eph-{uuid.uuid4().hex}"
    owner, observer = _kazoo(zookeeper), _kazoo(zookeeper)
    try:
        owner.create(path, b"alive", ephemeral=True, makepath=True)
        data, stat = observer.get(path)
        assert data == b"alive" and stat.ephemeralOwner == owner.client_id[0]
        owner.delete(path)
        assert observer.exists(path) is None

        owner.create(path, b"again", ephemeral=True)
        owner.stop()
        assert wait_until(lambda: observer.exists(path) is None, timeout=5)
    finally:
        for client in (owner, observer):
            client.stop()
            client.close()


@pytest.mark.memcached
@pytest.mark.timeout(30)
def test_pymemcache_set_get_is_fast_with_no_delay(memcached):
    """set/get round-trip values; with no_delay=True 50 gets take well under Nagle's ~1.1 s."""
    client = _memcache(memcached)
    key = f"nubis-test-{uuid.uuid4().hex}"
    try:
        assert client.set(key, b"value", expire=60, noreply=False)
        assert client.get(key) == b"value"
        started = time.monotonic()
        for _ in range(50):
            client.get(key)
        assert time.monotonic() - started < 0.5
        assert client.delete(key, noreply=False)
        assert client.get(key) is None
    finally:
        client.close()


@pytest.mark.libvirtd
@pytest.mark.timeout(60)
def test_libvirt_runs_a_diskless_guest(libvirt_uri, tmp_path):
    """virsh can define, start, destroy and undefine a diskless 64 MiB guest."""
    if shutil.which("virsh") is None:
        missing("virsh is not installed; run tests/provisioning/provision.sh --only libvirt")
    name = f"nubis-test-{uuid.uuid4().hex[:8]}"
    xml = tmp_path / "guest.xml"
    xml.write_text(
        f"""<domain type='{libvirt_domain_type()}'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
"""
    )

    def virsh(*args: str) -> str:
        """Run ``virsh -c URI ARGS`` (20 s bound) and return its stdout; fail on error."""
        proc = subprocess.run(
            ["virsh", "-q", "-c", libvirt_uri, *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert proc.returncode == 0, f"virsh {' '.join(args)}: {proc.stderr.strip()}"
        return proc.stdout.strip()

    virsh("define", str(xml))
    try:
        virsh("start", name)
        assert virsh("domstate", name) == "running"
        virsh("destroy", name)
        assert virsh("domstate", name) == "shut off"
    finally:
        subprocess.run(
            ["virsh", "-q", "-c", libvirt_uri, "destroy", name],
            capture_output=True,
            timeout=20,
            check=False,
        )
        virsh("undefine", name)
