"""``POST /servers/{id}/action {"os-getConsoleOutput": ...}`` through the whole path
(API -> compute API -> compute RPC call -> compute manager -> fake driver), as Nova
answers it: the last N lines of what the guest wrote (the fake driver logs a boot on
every start and a shutdown on every stop), Nova's ``length`` values and refusals, and
each error a user can meet -- and the ``openstack console log show`` command.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.compute import api as compute_api
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.virt import driver as virt_driver
from tests.functional.api.conftest import Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml


def console(cloud: Cloud, server_id: str, persona: str = "alice", **body: Any) -> Any:
    return cloud.client(persona).post(
        f"/v2.1/servers/{server_id}/action", {"os-getConsoleOutput": body}
    )


def output_of(cloud: Cloud, server_id: str, **body: Any) -> str:
    response = console(cloud, server_id, **body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"output"}
    return str(response.json()["output"])


def act(cloud: Cloud, server_id: str, body: dict[str, Any], status: str) -> None:
    response = cloud.client("alice").post(f"/v2.1/servers/{server_id}/action", body)
    assert response.status_code == 202, response.text
    cloud.wait_status(server_id, status)


@pytest.fixture
def server(cloud: Cloud) -> Any:
    server_id = cloud.boot("alice", name="console-vm")
    yield server_id
    cloud.delete_all_servers()


def test_the_last_lines_of_what_the_guest_wrote(cloud: Cloud, server: str) -> None:
    login = f"{cloud.server(server)['OS-EXT-SRV-ATTR:instance_name']} login: \n"
    everything = output_of(cloud, server)
    assert f"nubis fake guest {server}: boot 1, image {cloud.image_id}" in everything
    assert everything.endswith("login: \n")
    assert output_of(cloud, server, length=-1) == everything
    assert output_of(cloud, server, length=None) == everything
    assert output_of(cloud, server, length=10**6) == everything
    assert output_of(cloud, server, length=0) == ""
    # Nova's cut: lines are what "\n" separates, the final newline leaves an empty one.
    assert output_of(cloud, server, length=3) == "\n" + login
    assert output_of(cloud, server, length="3") == "\n" + login
    assert len(output_of(cloud, server, length=10).split("\n")) == 10

    act(cloud, server, {"reboot": {"type": "HARD"}}, "ACTIVE")
    rebooted = output_of(cloud, server)
    assert rebooted.startswith(everything) and "reboot: Restarting system" in rebooted
    assert f"{server}: boot 2" in output_of(cloud, server, length=5 + 1)

    act(cloud, server, {"os-stop": None}, "SHUTOFF")
    stopped = output_of(cloud, server, length=4)  # a stopped server's output stays readable
    assert stopped == (
        "[  OK  ] Stopped target Multi-User System.\n[  OK  ] Reached target Power-Off.\n"
        "[   42.000000] reboot: Power down\n"
    )
    act(cloud, server, {"os-start": None}, "ACTIVE")
    assert f"{server}: boot 3" in output_of(cloud, server)


def test_control_characters_are_removed_and_the_output_is_bounded(
    cloud: Cloud, server: str
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    guest = cloud.driver(host)._guests[server]  # what the guest "wrote"
    guest.log("\x1bc\x1b[2Jbanner\r", "tab\there")
    assert output_of(cloud, server, length=3) == "c[2Jbanner\ntab\there\n"
    guest.log(*(f"{n:0127d}" for n in range(1000)))  # 128 KiB with the newlines
    everything = output_of(cloud, server)
    assert len(everything) == virt_driver.MAX_CONSOLE_BYTES
    assert everything.endswith(f"{999:0127d}\n")


@pytest.mark.parametrize(
    "body",
    [
        {"length": "ten"},
        {"length": -2},
        {"length": "-2"},
        {"length": 1.5},
        {"length": True},
        {"length": 3, "lines": 3},
    ],
)
def test_bad_lengths_are_400_naming_the_field(cloud: Cloud, server: str, body: Any) -> None:
    response = console(cloud, server, **body)
    assert response.status_code == 400, response.text
    assert "os-getConsoleOutput" in response.json()["badRequest"]["message"]


def test_who_may_read_it(cloud: Cloud, server: str) -> None:
    assert console(cloud, server, persona="bob").status_code == 404
    assert console(cloud, server, persona="admin").status_code == 200
    missing = console(cloud, "00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    body = cloud.client("alice").post(
        f"/v2.1/servers/{server}/action", {"os-getConsoleOutput": None}
    )
    assert body.status_code == 400


def test_a_server_without_a_host_is_409(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    flavor = {"name": "console-huge", "id": "console-huge", "ram": 10**8, "vcpus": 1, "disk": 1}
    assert admin.post("/v2.1/flavors", {"flavor": flavor}).status_code == 200
    try:
        created = cloud.client("alice", "2.60").post(
            "/v2.1/servers",
            {
                "server": {
                    "name": "nowhere",
                    "flavorRef": "console-huge",
                    "imageRef": cloud.image_id,
                    "networks": "none",
                }
            },
        )
        assert created.status_code == 202, created.text
        server_id = created.json()["server"]["id"]
        cloud.wait_status(server_id, "ERROR")
        response = console(cloud, server_id)
        assert response.status_code == 409
        assert (
            "not ready: it has no compute host" in response.json()["conflictingRequest"]["message"]
        )
    finally:
        cloud.delete_all_servers()
        admin.delete("/v2.1/flavors/console-huge")


def test_a_driver_without_console_output_is_501(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    base = virt_driver.ComputeDriver.get_console_output
    monkeypatch.setattr(drv, "get_console_output", lambda instance: base(drv, instance))
    response = console(cloud, server)
    assert response.status_code == 501
    assert response.json() == {
        "notImplemented": {
            "code": 501,
            "message": "console output is not supported by the FakeDriver virt driver",
        }
    }


def test_a_compute_service_that_is_down_or_silent_is_503_at_once(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    admin = cloud.client("admin", "2.11")
    by_host = {"host": host, "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        started = time.monotonic()
        down = console(cloud, server)
        assert time.monotonic() - started < 2
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    assert down.status_code == 503 and down.headers["Retry-After"]
    message = down.json()["serviceUnavailable"]["message"]
    assert message == (
        f"the compute service of instance {server} is unavailable, try again later: it is down"
    )
    assert host not in message

    # Up, but not answering: the caller waits rpc_response_timeout, no longer.
    flags(rpc_response_timeout=1)
    release = threading.Event()
    drv = cloud.driver(host)
    monkeypatch.setattr(drv, "get_console_output", lambda instance: release.wait(10) and "")
    try:
        started = time.monotonic()
        silent = console(cloud, server)
        waited = time.monotonic() - started
    finally:
        release.set()
    assert silent.status_code == 503 and waited < 5, (silent.text, waited)
    assert "did not answer within 1 s" in silent.json()["serviceUnavailable"]["message"]


def test_an_older_compute_rpc_is_refused_clearly(cloud: Cloud, server: str, flags: Any) -> None:
    flags(group="upgrade_levels", compute="1.2")
    api = compute_api.API(CONF)
    try:
        instance = objects.Instance.get_by_uuid(get_admin_context(), server)
        with pytest.raises(exception.ServiceTooOld) as info:
            api.get_console_output(get_admin_context(), instance, 5)
    finally:
        api.cleanup()
    assert info.value.code == 409
    assert "console output needs compute RPC 1.3, but messages are capped at 1.2" in str(info.value)


def test_openstack_console_log_show(cloud: Cloud, server: str, tmp_path: Path) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    shown = cli.run("alice", "console", "log", "show", "console-vm", parse=False)
    assert f"nubis fake guest {server}: boot 1" in shown
    last = cli.run("alice", "console", "log", "show", "--lines", "2", server, parse=False)
    assert last == f"{cloud.server(server)['OS-EXT-SRV-ATTR:instance_name']} login: \n"
    refused = cli.run("bob", "console", "log", "show", server, parse=False, expect=1)
    assert f"No Server found for {server}" in refused
