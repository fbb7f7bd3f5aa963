"""How the conformance kit runs nubis's own plugins on this project's machines.

A pytest plugin module answering the kit's ``pytest_nubis_conformance_targets`` hook
for the in-tree plugins (and the RabbitMQ reference transport), using the real
servers of tests/fixtures. tests/conformance/conftest.py uses it; so can the command
line, from the repository root::

    .venv/bin/nubis-conformance --namespace nubis.virt --plugin libvirt \\
        --environment tests.conformance.environment

Targets:

* ``nubis.virt``: ``fake`` (a second fake host in-process is the migration peer);
  ``libvirt`` as ``libvirt-test`` (libvirt's test driver on
  ``test:///<libvirt-test-node.xml>``, every connection a private simulated host; it
  withdraws live migration) and ``libvirt-qemu`` (diskless 64 MiB guests on the
  machine's ``qemu:///system``, kvm where /dev/kvm works; the peer is a second
  libvirtd in its own mount namespace, tests/fixtures/libvirt_hosts.py).
* ``nubis.servicegroup``: ``db`` (fault: the SQLite database locked for writing),
  ``zk`` (ZooKeeper under a chroot of the test's own; fault: ZooKeeper stopped),
  ``mc`` (memcached; fault: memcached killed), each with its ``left_behind`` check.
  ZooKeeper and memcached are private instances of this session
  (:data:`CONFORMANCE_ZK_PORT`, :data:`CONFORMANCE_MC_PORT`, data under /var/tmp),
  started when a target first needs them: a fault stops those, never the machine's.
* ``oslo.messaging.drivers``: ``inproc`` in both delivery modes; ``rabbit`` on the
  machine's RabbitMQ (the reference the in-process transport is held to).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conformance import Target
from tests.faults.servers import (
    CONFORMANCE_MC_PORT,
    CONFORMANCE_ZK_PORT,
    ZK_SERVER_SH,
    PrivateMemcached,
    PrivateZooKeeper,
    ServerError,
)
from tests.fixtures import real_servers as servers
from tests.fixtures.libvirt_hosts import second_libvirt_host  # noqa: F401 - a fixture
from tests.fixtures.real_servers import libvirt_uri  # noqa: F401 - a fixture
from tests.fixtures.require import missing, require_port

NODE_XML = Path(__file__).parent.joinpath("virt", "libvirt-test-node.xml").resolve()

# --------------------------------------------------------------------------- nubis.virt


def _fake_options(request: Any) -> dict[str, Any]:
    return {
        "fake_driver": {"live_migration_seconds": 0.2, "images_path": _instances_dir(request)}
    }


def _instances_dir(request: Any) -> str:
    # QEMU runs as libvirt-qemu: the directory must be traversable by it.
    path = tempfile.mkdtemp(prefix="nubis-cf-", dir="/var/tmp")
    os.chmod(path, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def _libvirt_test_options(request: Any) -> dict[str, Any]:
    # Spawn makes each guest's directory (and overlay disk) under instances_path, and
    # snapshots are written to images_path: private directories, not /var/lib/nubis.
    return {
        "libvirt": {
            "virt_type": "test",
            "connection_uri": f"test://{NODE_XML}",
            "instances_path": _instances_dir(request),
            "images_path": _instances_dir(request),
        }
    }


def _libvirt_qemu_options(request: Any) -> dict[str, Any]:
    request.getfixturevalue("libvirt_uri")  # skips (or fails in CI) without libvirtd
    return {
        "libvirt": {
            "virt_type": servers.libvirt_domain_type(),
            "connection_uri": "qemu:///system",
            "instances_path": _instances_dir(request),
            "images_path": _instances_dir(request),
            "wait_soft_reboot_seconds": 1,
            # A diskless guest's memory is mostly zero pages: at full speed the copy is
            # over before the first progress sample, and libvirt answers no jobStats()
            # during the switch-over. 1 MiB/s stretches the copy to about 2 s.
            "live_migration_bandwidth": 1,
            "live_migration_progress_interval": 0.2,
            # libvirt 9.0 here now and then never ends an aborted job (see
            # nubis.plugins.virt.libvirt.migration); a normal abort takes ~2.5 s.
            "live_migration_abort_timeout": 6,
        }
    }


def _libvirt_qemu_peer_options(request: Any) -> dict[str, Any]:
    second = request.getfixturevalue("second_libvirt_host")
    options = _libvirt_qemu_options(request)
    options["libvirt"].update(connection_uri=second.uri, live_migration_uri=second.uri)
    return options


VIRT = {
    "fake": [Target("fake", _fake_options, {"peer_options": _fake_options})],
    "libvirt": [
        Target("libvirt-test", _libvirt_test_options),
        Target(
            "libvirt-qemu",
            _libvirt_qemu_options,
            {"peer_options": _libvirt_qemu_peer_options},
            marks=(pytest.mark.libvirtd,),
        ),
    ],
}

# --------------------------------------------------------------------------- nubis.servicegroup


@contextlib.contextmanager
def _db_fault(deployment: Any) -> Iterator[None]:
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


def _db_left_behind(deployment: Any, host: str) -> str:
    # The db driver runs one report thread per joined member (nubis.plugins.servicegroup.db).
    service = deployment.members.get(host)
    if service is None or host not in deployment.stopped:
        return ""
    api = service.servicegroup_api
    if api is not None and api.driver.reporter(host, deployment.topic) is not None:
        return "its reporter"
    if set(deployment.members) <= deployment.stopped:
        name = f"nubis-report-{service.binary}"
        if any(t.name == name for t in threading.enumerate()):
            return f"a report thread ({name}) running"
    return ""


# ------------------------------------------------------------- private membership servers

_PRIVATE: dict[str, PrivateZooKeeper | PrivateMemcached] = {}
"""The private servers started, by the address the targets' options name."""


def _private(
    make: Callable[[Path], PrivateZooKeeper | PrivateMemcached], what: str, installed: bool
) -> Iterator[str]:
    """Start the server *make* returns in a temporary directory; yield its address and
    remember it for the faults; stop it and remove the directory afterwards."""
    if not installed:
        missing(f"{what} is not installed; run tests/provisioning/provision.sh")
    root = Path(tempfile.mkdtemp(prefix="nubis-cf-", dir="/var/tmp"))
    server = make(root)
    address = server.hosts if isinstance(server, PrivateZooKeeper) else server.address
    try:
        try:
            server.start()
        except ServerError as exc:
            missing(f"cannot start a private {what} for the conformance suite: {exc}")
        _PRIVATE[address] = server
        yield address
    finally:
        _PRIVATE.pop(address, None)
        try:
            server.shutdown()
        except ServerError as exc:
            print(f"stopping the private {what}: {exc}")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def conformance_zookeeper() -> Iterator[str]:
    """The ``host:port`` of a ZooKeeper of this session's own."""
    yield from _private(
        lambda root: PrivateZooKeeper(root, CONFORMANCE_ZK_PORT),
        "ZooKeeper",
        Path(ZK_SERVER_SH).exists(),
    )


@pytest.fixture(scope="session")
def conformance_memcached() -> Iterator[str]:
    """The ``host:port`` of a memcached of this session's own."""
    yield from _private(
        lambda root: PrivateMemcached(root, CONFORMANCE_MC_PORT),
        "memcached",
        shutil.which("memcached") is not None,
    )


def _private_of(address: str) -> Any:
    server = _PRIVATE.get(address)
    if server is None:
        raise RuntimeError(f"{address} is not a private server of the conformance suite")
    return server


def _zk_options(request: Any) -> dict[str, Any]:
    hosts = request.getfixturevalue("conformance_zookeeper")
    chroot = f"/nubis-conformance-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: _zk_delete(hosts, chroot))
    return {
        "zookeeper": {
            "hosts": [hosts],
            "chroot": chroot,
            "root": "/services",
            "session_timeout": 2.0,
            "connect_timeout": 2.0,
        }
    }


def _zk_client(hosts: str) -> Any:
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts, timeout=5)
    client.start(timeout=10)
    return client


def _zk_delete(hosts: str, chroot: str) -> None:
    from kazoo.exceptions import NoNodeError

    client = _zk_client(hosts)
    try:
        client.delete(chroot, recursive=True)
    except NoNodeError:
        pass
    finally:
        client.stop()
        client.close()


@contextlib.contextmanager
def _zk_fault(deployment: Any) -> Iterator[None]:
    from nubis.core.conf import CONF

    zookeeper = _private_of(CONF.zookeeper.hosts[0])
    zookeeper.stop()
    try:
        yield
    finally:
        zookeeper.start()


def _zk_left_behind(deployment: Any, host: str) -> str:
    from nubis.core.conf import CONF

    zk = CONF.zookeeper
    path = f"{zk.chroot}{zk.root}/{deployment.topic}/{host}"
    client = _zk_client(",".join(zk.hosts))
    try:
        return f"node {path}" if client.exists(path) else ""
    finally:
        client.stop()
        client.close()


def _mc_options(request: Any) -> dict[str, Any]:
    return {"memcache": {"servers": [request.getfixturevalue("conformance_memcached")]}}


@contextlib.contextmanager
def _mc_fault(deployment: Any) -> Iterator[None]:
    from nubis.core.conf import CONF

    memcached = _private_of(CONF.memcache.servers[0])
    memcached.kill()
    try:
        yield
    finally:
        memcached.start()


def _mc_left_behind(deployment: Any, host: str) -> str:
    from pymemcache.client.base import Client

    from nubis.core.conf import CONF

    key = f"{deployment.topic}:{host}"
    client = Client(CONF.memcache.servers[0], no_delay=True, connect_timeout=2, timeout=2)
    try:
        return f"key {key}" if client.get(key) is not None else ""
    finally:
        client.close()


SERVICEGROUP = {
    "db": [Target("db", None, {"fault": _db_fault, "left_behind": _db_left_behind})],
    "zk": [
        Target(
            "zk",
            _zk_options,
            {"fault": _zk_fault, "left_behind": _zk_left_behind},
            marks=(pytest.mark.zookeeper,),
        )
    ],
    "mc": [
        Target(
            "mc",
            _mc_options,
            {"fault": _mc_fault, "left_behind": _mc_left_behind},
            marks=(pytest.mark.memcached,),
        )
    ],
}

# --------------------------------------------------------------------------- transports


def _rabbit_url(request: Any) -> str:
    require_port("RabbitMQ", *servers.RABBIT_ADDR)
    return servers.servers_env()["NUBIS_RABBIT_URL"]


TRANSPORTS = {
    # inproc's default (direct hand-off) delivery, and its poll-style listeners on a
    # virtual host of their own.
    "inproc": [
        Target("inproc", extras={"url": "inproc://"}),
        Target("inproc-poll", extras={"url": "inproc:///conformance-poll?delivery=poll"}),
    ],
    "rabbit": [Target("rabbit", extras={"url": _rabbit_url}, marks=(pytest.mark.rabbit,))],
}

TARGETS = {
    "nubis.virt": VIRT,
    "nubis.servicegroup": SERVICEGROUP,
    "oslo.messaging.drivers": TRANSPORTS,
}


def pytest_nubis_conformance_targets(config: Any, namespace: str, plugin: str) -> Any:
    """The in-tree plugins' targets; None (the kit's default) for any other plugin."""
    return TARGETS.get(namespace, {}).get(plugin)
