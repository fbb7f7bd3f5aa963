"""Unchanged OpenStack clients against nubis-api, through a clouds.yaml with password
authentication against the embedded identity service:

* openstacksdk: servers (create, list, show, start, stop, reboot, live migration with
  its progress, delete), events, flavors, hypervisors, services, images;
* the ``openstack`` CLI (python-openstackclient), one process per command as a user
  runs it: every command of issue 8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exceptions
from openstack.config import loader

from tests.functional.api.conftest import PASSWORD, Cloud, wait_for

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
PROJECTS = {"admin": "admin", "alice": "project-a", "bob": "project-b"}


def write_clouds_yaml(path: Path, url: str) -> Path:
    lines = ["clouds:"]
    for user, project in PROJECTS.items():
        lines += [
            f"  {user}:",
            "    auth:",
            f"      auth_url: {url}/identity",
            f"      username: {user}",
            f"      password: {PASSWORD}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            "    region_name: RegionOne",
            "    identity_api_version: 3",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def clouds_yaml(cloud: Cloud, tmp_path_factory: Any) -> Path:
    return write_clouds_yaml(tmp_path_factory.mktemp("clients") / "clouds.yaml", cloud.url)


def connect(clouds_yaml: Path, persona: str) -> openstack.connection.Connection:
    config = loader.OpenStackConfig(config_files=[str(clouds_yaml)])
    return openstack.connection.Connection(config=config.get_one(cloud=persona))


@pytest.fixture(scope="module")
def sdk(clouds_yaml: Path) -> dict[str, openstack.connection.Connection]:
    return {persona: connect(clouds_yaml, persona) for persona in PROJECTS}


# --- openstacksdk --------------------------------------------------------------------------


def test_sdk_discovers_the_microversion_range(sdk: dict[str, Any]) -> None:
    data = sdk["alice"].compute.get_endpoint_data()
    assert data.min_microversion == (2, 1) and data.max_microversion == (2, 60)
    assert sdk["alice"].compute.get_endpoint().endswith("/v2.1")


def test_sdk_server_lifecycle(cloud: Cloud, sdk: dict[str, Any]) -> None:
    alice, admin = sdk["alice"].compute, sdk["admin"].compute
    image = sdk["alice"].image.find_image("tiny", ignore_missing=False)
    flavor = alice.find_flavor("m1.tiny", ignore_missing=False)
    server = alice.create_server(
        name="sdk-vm", image_id=image.id, flavor_id=flavor.id, networks="none"
    )
    server = alice.wait_for_server(server, status="ACTIVE", wait=30, interval=0.2)
    assert server.name == "sdk-vm" and server.image.id == image.id
    assert [s.id for s in alice.servers(name="sdk-vm")] == [server.id]
    assert not list(sdk["bob"].compute.servers(name="sdk-vm"))  # another project's
    with pytest.raises(sdk_exceptions.NotFoundException):
        sdk["bob"].compute.get_server(server.id)

    alice.stop_server(server)
    alice.wait_for_server(server, status="SHUTOFF", wait=30, interval=0.2)
    alice.start_server(server)
    alice.wait_for_server(server, status="ACTIVE", wait=30, interval=0.2)
    alice.reboot_server(server, "SOFT")
    wait_for(lambda: alice.get_server(server.id).task_state is None, what="reboot to end")

    with pytest.raises(sdk_exceptions.ForbiddenException):
        alice.live_migrate_server(server, host=None, block_migration="auto")
    source = admin.get_server(server.id).compute_host
    target = "cmp2" if source == "cmp1" else "cmp1"
    admin.live_migrate_server(server, host=target, block_migration="auto")
    progress = wait_for(
        lambda: [m for m in admin.server_migrations(server) if m.memory_total_bytes],
        what="live migration progress",
    )
    assert progress[0].dest_compute == target and progress[0].status == "running"
    assert progress[0].memory_processed_bytes is not None
    wait_for(lambda: admin.get_server(server.id).compute_host == target, what="the move")
    migrations = list(admin.migrations(instance_uuid=server.id))
    assert migrations[0].status == "completed" and migrations[0].migration_type == "live-migration"

    actions = [a.action for a in alice.server_actions(server)]
    assert actions[-1] == "create" and {"stop", "start", "reboot", "live-migration"} <= set(actions)
    alice.delete_server(server)
    alice.wait_for_delete(server, wait=30, interval=0.2)


def test_sdk_admin_views(cloud: Cloud, sdk: dict[str, Any]) -> None:
    admin = sdk["admin"].compute
    hypervisors = {h.name: h for h in admin.hypervisors(details=True)}
    assert set(hypervisors) == {"cmp1", "cmp2"}
    assert hypervisors["cmp1"].state == "up" and hypervisors["cmp1"].memory_size > 0
    services = {(s.host, s.binary): s for s in admin.services()}
    assert services[("cmp1", "nubis-compute")].state == "up"
    with pytest.raises(sdk_exceptions.ForbiddenException):
        list(sdk["alice"].compute.hypervisors())
    flavor = admin.create_flavor(name="sdk-flavor", ram=128, vcpus=1, disk=0)
    assert admin.get_flavor(flavor.id).ram == 128
    admin.delete_flavor(flavor)
    assert [i.name for i in sdk["bob"].image.images()] == ["tiny"]


# --- the openstack CLI ---------------------------------------------------------------------


class CLI:
    """Runs the ``openstack`` program as *persona*, returning its parsed JSON output."""

    def __init__(self, clouds_yaml: Path) -> None:
        self.env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(clouds_yaml)}
        self.env.pop("OS_CLOUD", None)

    def run(self, persona: str, *args: str, parse: bool = True, expect: int = 0) -> Any:
        argv = [OPENSTACK, "--os-cloud", persona, *args, *(["-f", "json"] if parse else [])]
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == expect, (
            f"openstack {' '.join(args)} -> {done.returncode}: {done.stderr[-2000:]}"
        )
        if parse and done.returncode == 0:
            return json.loads(done.stdout or "null")
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def cli(clouds_yaml: Path) -> CLI:
    return CLI(clouds_yaml)


def test_cli_commands(cloud: Cloud, cli: CLI) -> None:
    flavors = {f["Name"] for f in cli.run("alice", "flavor", "list")}
    assert "m1.tiny" in flavors
    created = cli.run(
        "admin", "flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "1", "cli.small"
    )
    assert created["ram"] == 256 and created["name"] == "cli.small"
    assert "tiny" in {i["Name"] for i in cli.run("alice", "image", "list")}

    server = cli.run(
        "alice", "server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait", "cli-vm"
    )
    assert server["status"] == "ACTIVE"
    server_id = server["id"]
    assert [s["Name"] for s in cli.run("alice", "server", "list")] == ["cli-vm"]
    assert cli.run("bob", "server", "list") == []
    shown = cli.run("alice", "server", "show", "cli-vm")
    assert "m1.tiny" in json.dumps(shown["flavor"]) and shown["status"] == "ACTIVE"

    cli.run("alice", "server", "stop", "cli-vm", parse=False)
    cloud.wait_status(server_id, "SHUTOFF")
    cli.run("alice", "server", "start", "cli-vm", parse=False)
    cloud.wait_status(server_id, "ACTIVE")
    cli.run("alice", "server", "reboot", "--wait", "cli-vm", parse=False)
    cloud.wait_status(server_id, "ACTIVE")

    host = cli.run("admin", "server", "show", server_id)["OS-EXT-SRV-ATTR:host"]
    target = "cmp2" if host == "cmp1" else "cmp1"
    cli.run(
        "admin",
        "server",
        "migrate",
        "--live-migration",
        "--host",
        target,
        "--wait",
        server_id,
        parse=False,
    )
    assert cli.run("admin", "server", "show", server_id)["OS-EXT-SRV-ATTR:host"] == target
    cli.run("admin", "server", "migrate", "--live-migration", "--wait", server_id, parse=False)
    assert cli.run("admin", "server", "show", server_id)["OS-EXT-SRV-ATTR:host"] == host
    migrations = cli.run("admin", "server", "migration", "list", "--server", server_id)
    assert [m["Status"] for m in migrations] == ["completed", "completed"]
    assert {m["Dest Compute"] for m in migrations} == {host, target}
    events = {e["Action"] for e in cli.run("alice", "server", "event", "list", "cli-vm")}
    assert {"create", "stop", "start", "reboot", "live-migration"} <= events

    hypervisors = {h["Hypervisor Hostname"]: h for h in cli.run("admin", "hypervisor", "list")}
    assert set(hypervisors) == {"cmp1", "cmp2"}
    detail = cli.run("admin", "hypervisor", "show", "cmp1")
    assert detail["state"] == "up" and detail["memory_mb"] > 0 and "memory_mb_used" in detail
    cli.run("alice", "hypervisor", "list", parse=False, expect=1)  # admin only

    services = cli.run("admin", "compute", "service", "list")
    assert {(s["Host"], s["Binary"]) for s in services} >= {
        ("cmp1", "nubis-compute"),
        ("cmp2", "nubis-compute"),
    }
    cli.run(
        "admin",
        "compute",
        "service",
        "set",
        "--disable",
        "--disable-reason",
        "test",
        "cmp2",
        "nubis-compute",
        parse=False,
    )
    disabled = [
        s for s in cli.run("admin", "compute", "service", "list", "--long") if s["Host"] == "cmp2"
    ]
    assert disabled[0]["Status"] == "disabled" and disabled[0]["Disabled Reason"] == "test"
    cli.run("admin", "compute", "service", "set", "--enable", "cmp2", "nubis-compute", parse=False)

    cli.run("alice", "server", "delete", "--wait", "cli-vm", parse=False)
    assert cli.run("alice", "server", "list") == []
    cli.run("admin", "flavor", "delete", "cli.small", parse=False)
