"""The private servers and the deployment the fault tests share (one of each per run)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cloud import API_PORT, FaultCloud
from tests.faults.servers import (
    PrivatePostgres,
    PrivateRabbit,
    PrivateZooKeeper,
    ServerError,
    ephemeral_port_clashes,
    fixed_ports,
    missing_binaries,
)
from tests.fixtures.require import missing


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)


class Servers:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.rabbit = PrivateRabbit(root)
        self.postgres = PrivatePostgres(root)
        self.zookeeper = PrivateZooKeeper(root)

    def start(self) -> None:
        self.zookeeper.start()
        self.postgres.start()
        self.rabbit.start()

    def ensure_up(self) -> None:
        """Bring back whatever a failed test left down."""
        from tests.faults.servers import PG_PORT, RABBIT_PORT, ZK_PORT, port_open

        if not port_open(ZK_PORT):
            self.zookeeper.start()
        if not port_open(PG_PORT):
            self.postgres.start_server()
        if not port_open(RABBIT_PORT):
            self.rabbit.start()

    def shutdown(self) -> None:
        for stop in (self.rabbit.shutdown, self.postgres.shutdown, self.zookeeper.shutdown):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - report, keep stopping the others
                print(f"stopping a private server: {exc}")


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    if os.geteuid() != 0:
        missing("the fault tests run the private servers as their users: run them as root")
    lacking = missing_binaries()
    if lacking:
        missing(f"fault tests need {', '.join(lacking)}; run tests/provisioning/provision.sh")
    clashes = ephemeral_port_clashes({**fixed_ports(), "nubis-api": API_PORT})
    if clashes:
        pytest.fail(
            f"{', '.join(clashes)}: inside this machine's ephemeral port range "
            "(net.ipv4.ip_local_port_range), where an outgoing connection may take the port "
            "while the server is stopped; choose ports below the range in "
            "tests/faults/servers.py or reserve them (net.ipv4.ip_local_reserved_ports)"
        )
    root = Path(tempfile.mkdtemp(prefix="nubis-faults-", dir="/var/tmp"))
    running = Servers(root)
    try:
        running.start()
    except ServerError as exc:
        running.shutdown()
        pytest.fail(f"private servers did not start: {exc}")
    try:
        yield running
    finally:
        running.shutdown()
        if os.environ.get("NUBIS_FAULTS_KEEP"):
            print(f"fault run kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def servers_up_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start again a private server that a failed test left stopped, so that the next
    test fails (or passes) for its own reasons, not for that one's."""
    running = request.getfixturevalue("servers") if "servers" in request.fixturenames else None
    yield
    if running is not None:
        running.ensure_up()


@pytest.fixture(scope="module")
def cloud(servers: Servers) -> Iterator[FaultCloud]:
    run_dir = servers.root / "run"
    run_dir.mkdir(mode=0o755)
    deployment = FaultCloud(
        run_dir, servers.postgres.url, servers.rabbit.url, servers.zookeeper.hosts
    )
    try:
        deployment.bring_up()
        yield deployment
    finally:
        servers.ensure_up()
        problems = deployment.stop()
        assert not problems, problems
