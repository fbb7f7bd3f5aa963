"""The ``openstack`` CLI and openstacksdk against nubis-api on the multi-process
deployment of etc/nubis/deployment (tests/fixtures/deployment.py): two conductors, the
scheduler and two nubis-compute processes on RabbitMQ, PostgreSQL and ZooKeeper, with
real QEMU guests on the machine's libvirtd (compute-1) and a second libvirtd
(compute-2).

nubis-api runs in this process (the deployment's "API" side, ``[indirection] api =
conductor``), with the embedded identity service; clients reach it over HTTP through a
clouds.yaml. The image registry's directory is compute-1's ``images_path`` and the
image file is copied to compute-2's as well, as shared storage would provide.

This module must not run while tests/functional/api's in-process ``cloud`` fixture is up (both
configure this process); it lives in its own package, collected before tests/functional/api's
modules, and checks that.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core.conf import CONF
from tests.fixtures.databases import ServerDatabases
from tests.fixtures.deployment import Deployment, tear_down
from tests.fixtures.deployment_guests import Hypervisors
from tests.fixtures.deployment_operator import Operator
from tests.fixtures.libvirt_hosts import (  # noqa: F401
    SecondLibvirtHost,
    second_libvirt_host,
    start_second_host,
)
from tests.fixtures.real_servers import libvirt_domain_type
from tests.functional.api import conftest as api_conftest
from tests.functional.api.test_clients import CLI, connect, write_clouds_yaml

pytestmark = [
    pytest.mark.rabbit,
    pytest.mark.postgresql,
    pytest.mark.zookeeper,
    pytest.mark.libvirtd,
]

C1, C2 = "compute-1", "compute-2"


class Run:
    def __init__(self, deployment: Deployment, api: Any, clouds_yaml: Path) -> None:
        self.deployment = deployment
        self.api = api
        self.cli = CLI(clouds_yaml)
        self.clouds_yaml = clouds_yaml


@pytest.fixture(scope="module")
def run(
    rabbit_url: str,
    zookeeper: str,
    libvirt_uri: str,
    _server_databases: dict[str, ServerDatabases],
    second_libvirt_host: SecondLibvirtHost,  # noqa: F811
    tmp_path_factory: Any,
) -> Iterator[Run]:
    from nubis.core.api import policy
    from nubis.core.api.identity import IdentityStore
    from nubis.core.api.image_registry import ImageAPI
    from nubis.core.api.service import APIService
    from nubis.core.context import get_admin_context
    from nubis.core.db import engine
    from nubis.plugins.virt.libvirt import qcow2

    assert api_conftest.ACTIVE is None, "the in-process API cloud is up: run this apart"
    databases = _server_databases["postgresql"]
    db_url = databases.create()
    deployment = Deployment(
        db_url,
        second_libvirt_host.uri,
        second_libvirt_host.main_uri_from_here,
        rabbit_url=rabbit_url,
        zookeeper_hosts=zookeeper,
        virt_type=libvirt_domain_type(),
        # The guests run no OS: a clean shutdown is never acknowledged, so stop gives up
        # on it after 2 s (instead of 60) and powers the guest off.
        extra={"all": {"compute": {"shutdown_timeout": 2}}},
    )
    hypervisors = Hypervisors({C1: libvirt_uri, C2: second_libvirt_host.uri})
    operator: Operator | None = None
    api = None
    tmp = tmp_path_factory.mktemp("deployment-api")
    overrides = [
        ("connection", db_url, "database"),
        ("state_path", str(tmp), None),
        ("port", 0, "api"),
        ("auth_strategy", "local", "api"),
        ("images_path", str(deployment.paths[C1]["images"]), "api"),
    ]
    try:
        deployment.bring_up()
        deployment.configure_this_process()
        for name, value, group in overrides:
            CONF.set_override(name, value, group=group)
        engine.reset()
        operator = Operator()
        store = IdentityStore()
        store.create_user("admin", api_conftest.PASSWORD, project="admin", roles=("admin",))
        store.create_user("alice", api_conftest.PASSWORD, project="project-a")
        store.create_user("bob", api_conftest.PASSWORD, project="project-b")
        source = tmp / "base.qcow2"
        qcow2.create(str(source), 16 * 1024**2)
        image = ImageAPI(CONF).import_file(get_admin_context(), "base", str(source))
        shutil.copy(deployment.paths[C1]["images"] / image.uuid, deployment.paths[C2]["images"])
        api = APIService(CONF)
        api.start()
        yield Run(deployment, api, write_clouds_yaml(tmp / "clouds.yaml", api.url))
    finally:
        if api is not None:
            api.stop()
        problems = tear_down(deployment, operator, hypervisors)
        for name, _value, group in reversed(overrides):
            CONF.clear_override(name, group=group)
        policy.reset()
        engine.reset()
        databases.drop(db_url)
        assert not problems, "\n".join(problems)


def test_cli_and_sdk_on_the_multiprocess_deployment(run: Run) -> None:
    cli = run.cli
    services = cli.run("admin", "compute", "service", "list")
    assert {s["Binary"] for s in services} >= {"nubis-conductor", "nubis-scheduler",
                                               "nubis-compute"}
    assert all(s["State"] == "up" for s in services)
    assert len(cli.run("admin", "hypervisor", "list")) == 2
    cli.run("admin", "flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1", "small",
            parse=False)

    server = cli.run("alice", "server", "create", "--flavor", "small", "--image", "base",
                     "--wait", "mp-disk")
    assert server["status"] == "ACTIVE"
    assert [s["Name"] for s in cli.run("alice", "server", "list")] == ["mp-disk"]
    assert cli.run("bob", "server", "list") == []
    cli.run("alice", "server", "stop", "mp-disk", parse=False)
    _wait_status(cli, "mp-disk", "SHUTOFF")
    cli.run("alice", "server", "start", "mp-disk", parse=False)
    _wait_status(cli, "mp-disk", "ACTIVE")
    cli.run("alice", "server", "reboot", "--hard", "--wait", "mp-disk", parse=False)
    events = {e["Action"] for e in cli.run("alice", "server", "event", "list", "mp-disk")}
    assert {"create", "stop", "start", "reboot"} <= events

    # A diskless guest can live-migrate between the two libvirtds (no shared storage).
    sdk = connect(run.clouds_yaml, "alice").compute
    flavor = sdk.find_flavor("small", ignore_missing=False)
    diskless = sdk.create_server(name="mp-mem", flavor_id=flavor.id, image_id="",
                                 networks="none")
    diskless = sdk.wait_for_server(diskless, status="ACTIVE", wait=120, interval=0.5)
    host = cli.run("admin", "server", "show", diskless.id)["OS-EXT-SRV-ATTR:host"]
    target = C2 if host == C1 else C1
    cli.run("admin", "server", "migrate", "--live-migration", "--host", target, "--wait",
            diskless.id, parse=False)
    assert cli.run("admin", "server", "show", diskless.id)["OS-EXT-SRV-ATTR:host"] == target
    migrations = cli.run("admin", "server", "migration", "list", "--server", diskless.id)
    assert [m["Status"] for m in migrations] == ["completed"]

    cli.run("alice", "server", "delete", "--wait", "mp-disk", diskless.id, parse=False)
    assert cli.run("alice", "server", "list") == []


def _wait_status(cli: CLI, server: str, status: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while cli.run("alice", "server", "show", server)["status"] != status:
        assert time.monotonic() < deadline, f"{server} never became {status}"
        time.sleep(1)
