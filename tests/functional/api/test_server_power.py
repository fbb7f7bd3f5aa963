"""``pause``/``unpause``, ``suspend``/``resume`` and ``GET /servers/{id}/diagnostics``
through the whole path (API -> compute API -> compute RPC -> compute manager -> fake
driver), as Nova answers them: the states they go through and end in, the instance
actions and events, the guest's power state, Nova's state rules for the other
operations on a paused or suspended server (HARD reboot, stop, delete, live migration),
the refusals, a driver without the ability, a lost request ended by the reconciler and
a restart that settles a half-done one -- and diagnostics per microversion.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.compute import api as compute_api
from nubis.core.compute.states import TaskState
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for
from tests.functional.api.test_clients import CLI, write_clouds_yaml


def act(cloud: Cloud, server_id: str, action: str, persona: str = "alice", value: Any = None):
    return cloud.client(persona, "2.60").post(f"/v2.1/servers/{server_id}/action", {action: value})


def accepted(cloud: Cloud, server_id: str, action: str, status: str) -> dict[str, Any]:
    response = act(cloud, server_id, action)
    assert response.status_code == 202, response.text
    assert response.text == ""
    return cloud.wait_status(server_id, status)


def guest_state(cloud: Cloud, server_id: str) -> int:
    host = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
    return int(cloud.driver(host)._guests[server_id].state)


def latest_fault(server_id: str) -> Any:
    """The server's newest fault (the API shows faults of ERROR servers only)."""
    faults = objects.InstanceFaultList.get_by_instance_uuids(
        get_admin_context(), [server_id], latest=True
    )
    return faults.objects[0]


def conflict(response: Any) -> str:
    assert response.status_code == 409, response.text
    return str(response.json()["conflictingRequest"]["message"])


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    yield cloud.boot("alice", name="power-vm")
    cloud.delete_all_servers()


def test_pause_and_unpause(cloud: Cloud, server: str) -> None:
    paused = accepted(cloud, server, "pause", "PAUSED")
    assert paused["OS-EXT-STS:vm_state"] == "paused"
    assert paused["OS-EXT-STS:power_state"] == power_state.PAUSED
    assert guest_state(cloud, server) == power_state.PAUSED
    assert cloud.ended_action(server) == ("pause", {"compute_pause_instance": "Success"})

    active = accepted(cloud, server, "unpause", "ACTIVE")
    assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert guest_state(cloud, server) == power_state.RUNNING
    assert cloud.ended_action(server) == ("unpause", {"compute_unpause_instance": "Success"})


def test_suspend_and_resume(cloud: Cloud, server: str) -> None:
    suspended = accepted(cloud, server, "suspend", "SUSPENDED")
    assert suspended["OS-EXT-STS:vm_state"] == "suspended"
    assert suspended["OS-EXT-STS:power_state"] == power_state.SUSPENDED
    assert cloud.ended_action(server) == ("suspend", {"compute_suspend_instance": "Success"})
    # Suspended and in sync: the power-state sync leaves it alone.
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    from nubis.core.compute import power_sync

    manager = cloud.services[host].manager
    assert power_sync.sync_instance(manager, get_admin_context(), instance) == power_sync.IN_SYNC

    active = accepted(cloud, server, "resume", "ACTIVE")
    assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert cloud.ended_action(server) == ("resume", {"compute_resume_instance": "Success"})


def test_each_action_starts_from_nova_s_state_only(cloud: Cloud, server: str) -> None:
    message = conflict(act(cloud, server, "unpause"))
    assert message == (
        f"cannot unpause instance {server} while it is vm_state active; it must be vm_state paused"
    )
    assert "it must be vm_state suspended" in conflict(act(cloud, server, "resume"))
    accepted(cloud, server, "pause", "PAUSED")
    assert "while it is vm_state paused" in conflict(act(cloud, server, "pause"))
    assert "while it is vm_state paused" in conflict(act(cloud, server, "suspend"))
    accepted(cloud, server, "unpause", "ACTIVE")
    accepted(cloud, server, "suspend", "SUSPENDED")
    assert "while it is vm_state suspended" in conflict(act(cloud, server, "suspend"))
    assert "while it is vm_state suspended" in conflict(act(cloud, server, "pause"))
    assert "while it is vm_state suspended" in conflict(act(cloud, server, "unpause"))


def test_other_operations_on_a_paused_or_suspended_server(cloud: Cloud, server: str) -> None:
    for action, status in (("pause", "PAUSED"), ("suspend", "SUSPENDED")):
        accepted(cloud, server, action, status)
        # Nova: stop and SOFT reboot need ACTIVE; start needs SHUTOFF.
        assert "it must be vm_state active or error" in conflict(act(cloud, server, "os-stop"))
        assert "vm_state stopped" in conflict(act(cloud, server, "os-start"))
        soft = cloud.client("alice").post(
            f"/v2.1/servers/{server}/action", {"reboot": {"type": "SOFT"}}
        )
        assert "it must be vm_state active" in conflict(soft)
        # ... a HARD reboot starts it afresh, ACTIVE.
        hard = cloud.client("alice").post(
            f"/v2.1/servers/{server}/action", {"reboot": {"type": "HARD"}}
        )
        assert hard.status_code == 202, hard.text
        rebooted = cloud.wait_status(server, "ACTIVE")
        assert rebooted["OS-EXT-STS:power_state"] == power_state.RUNNING


def test_a_suspended_server_cannot_live_migrate(cloud: Cloud, server: str) -> None:
    accepted(cloud, server, "suspend", "SUSPENDED")
    other = next(h for h in ("cmp1", "cmp2") if h != cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    response = cloud.client("admin", "2.30").post(
        f"/v2.1/servers/{server}/action",
        {"os-migrateLive": {"host": other, "block_migration": False}},
    )
    assert "while it is vm_state suspended" in conflict(response)
    assert cloud.server(server)["status"] == "SUSPENDED"


@pytest.mark.parametrize(("action", "status"), [("pause", "PAUSED"), ("suspend", "SUSPENDED")])
def test_a_paused_or_suspended_server_is_deleted(cloud: Cloud, action: str, status: str) -> None:
    server_id = cloud.boot("alice", name=f"{action}-delete")
    host = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
    accepted(cloud, server_id, action, status)
    assert cloud.client("alice").delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)
    assert server_id not in cloud.driver(host).list_instance_uuids()


def test_who_may_act_and_the_bodies(cloud: Cloud, server: str) -> None:
    for action in ("pause", "unpause", "suspend", "resume"):
        assert act(cloud, server, action, persona="bob").status_code == 404
        missing = act(cloud, "00000000-0000-4000-8000-000000000000", action)
        assert missing.status_code == 404
    # Nova does not read the value; a second key is refused.
    assert act(cloud, server, "pause", value={"anything": [1]}).status_code == 202
    cloud.wait_status(server, "PAUSED")
    extra = cloud.client("alice").post(
        f"/v2.1/servers/{server}/action", {"unpause": None, "other": 1}
    )
    assert extra.status_code == 400
    assert act(cloud, server, "unpause", persona="admin").status_code == 202
    cloud.wait_status(server, "ACTIVE")


def test_a_locked_server_refuses_its_members(cloud: Cloud, server: str) -> None:
    assert act(cloud, server, "lock").status_code == 202
    try:
        assert "is locked" in conflict(act(cloud, server, "pause"))
        assert "is locked" in conflict(act(cloud, server, "suspend"))
        # Administrators are not refused for the lock (Nova's check_instance_lock).
        assert act(cloud, server, "pause", persona="admin").status_code == 202
        cloud.wait_status(server, "PAUSED")
        assert "is locked" in conflict(act(cloud, server, "unpause"))
        assert act(cloud, server, "unpause", persona="admin").status_code == 202
        cloud.wait_status(server, "ACTIVE")
    finally:
        assert act(cloud, server, "unlock").status_code == 202


def test_a_driver_without_the_ability_ends_the_task_with_a_fault(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    withdrawn = {**drv.capabilities, "supports_pause": False, "supports_suspend": False}
    monkeypatch.setattr(drv, "capabilities", withdrawn)
    for action in ("pause", "suspend"):
        assert act(cloud, server, action).status_code == 202
        cloud.wait_status(server, "ACTIVE")  # as it was, the task cleared
        fault = latest_fault(server)
        assert fault.message == (
            f"VirtOperationNotSupported: {action} is not supported by the FakeDriver virt driver"
        )
        assert fault.code == 501
        assert cloud.ended_action(server) == (action, {f"compute_{action}_instance": "Error"})
    assert guest_state(cloud, server) == power_state.RUNNING


def test_a_failed_suspend_ends_in_error_a_failed_pause_does_not(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    # The guest goes off behind nubis's back (with no event: the power-state sync
    # would stop the server before the requests arrive).
    monkeypatch.setattr(drv, "emit_event", lambda event: None)
    drv.inject_power_state(server, power_state.SHUTDOWN)
    assert act(cloud, server, "pause").status_code == 202
    cloud.wait_status(server, "ACTIVE")
    assert "cannot pause instance" in latest_fault(server).message
    assert act(cloud, server, "suspend").status_code == 202
    failed = cloud.wait_status(server, "ERROR")
    assert "cannot suspend instance" in failed["fault"]["message"]
    assert "in power state shutdown" in failed["fault"]["message"]


def test_a_lost_request_is_ended_by_the_reconciler_and_a_restart_settles_one(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    manager = cloud.services[host].manager
    monkeypatch.setattr(manager, "pause_instance", lambda *a, **k: None)  # the cast is lost
    assert act(cloud, server, "pause").status_code == 202
    assert cloud.server(server)["OS-EXT-STS:task_state"] == "pausing"
    flags(group="conductor", task_timeout=1)
    ctx = get_admin_context()
    time.sleep(2.1)  # updated_at has a resolution of one second
    Reconciler(CONF, "test-conductor").run(ctx)
    ended = cloud.server(server)
    assert (ended["status"], ended["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert "task pausing made no progress" in latest_fault(server).message

    # A compute service that restarts after the guest was paused, before the record
    # said so, settles the instance from what the guest shows.
    cloud.driver(host).pause(objects.Instance.get_by_uuid(ctx, server))
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.task_state = TaskState.PAUSING
    instance.save()
    manager._lifecycle.init_instances(ctx)  # what init_host runs
    settled = cloud.server(server)
    assert (settled["status"], settled["OS-EXT-STS:task_state"]) == ("PAUSED", None)
    assert settled["OS-EXT-STS:power_state"] == power_state.PAUSED


def test_an_older_compute_rpc_is_refused_clearly(cloud: Cloud, server: str, flags: Any) -> None:
    flags(group="upgrade_levels", compute="1.3")
    api = compute_api.API(CONF)
    ctx = get_admin_context()
    try:
        instance = objects.Instance.get_by_uuid(ctx, server)
        for operation, what in (
            (lambda: api.pause(ctx, instance), "pause"),
            (lambda: api.suspend(ctx, instance), "suspend"),
            (lambda: api.get_diagnostics(ctx, instance), "server diagnostics"),
            (lambda: api.get_host_uptime(ctx, instance.host), "hypervisor uptime"),
        ):
            with pytest.raises(exception.ServiceTooOld) as info:
                operation()
            assert info.value.code == 409
            assert f"{what} needs compute RPC 1.4, but messages are capped at 1.3" in str(
                info.value
            )
    finally:
        api.cleanup()
    untouched = cloud.server(server)
    assert (untouched["status"], untouched["OS-EXT-STS:task_state"]) == ("ACTIVE", None)


def test_openstack_server_pause_and_suspend(cloud: Cloud, server: str, tmp_path: Path) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    for command, status in (
        ("pause", "PAUSED"),
        ("unpause", "ACTIVE"),
        ("suspend", "SUSPENDED"),
        ("resume", "ACTIVE"),
    ):
        cli.run("alice", "server", command, "power-vm", parse=False)
        cloud.wait_status(server, status)


# --- diagnostics ---------------------------------------------------------------------------


def diagnostics(cloud: Cloud, server_id: str, version: str, persona: str = "admin") -> Any:
    return cloud.client(persona, version).get(f"/v2.1/servers/{server_id}/diagnostics")


STANDARD_KEYS = {
    "state",
    "driver",
    "hypervisor",
    "hypervisor_os",
    "uptime",
    "config_drive",
    "num_cpus",
    "num_nics",
    "num_disks",
    "memory_details",
    "cpu_details",
    "nic_details",
    "disk_details",
}


def test_diagnostics_per_microversion(cloud: Cloud, server: str) -> None:
    standard = diagnostics(cloud, server, "2.48")
    assert standard.status_code == 200, standard.text
    body = standard.json()
    assert set(body) == STANDARD_KEYS
    assert body["state"] == "running" and body["driver"] == "libvirt"
    assert body["hypervisor"] == "fake" and body["config_drive"] is False
    assert body["num_cpus"] == 1 and body["num_disks"] == 1 and body["num_nics"] == 0
    assert body["memory_details"] == {"maximum": 512, "used": 512}
    assert body["cpu_details"] == [{"id": 0, "time": 0, "utilisation": 0}]
    assert body["disk_details"] == [
        {
            "read_bytes": 0,
            "read_requests": 0,
            "write_bytes": 0,
            "write_requests": 0,
            "errors_count": 0,
        }
    ]
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert diagnostics(cloud, server, "2.60").json().keys() == STANDARD_KEYS

    legacy = diagnostics(cloud, server, "2.47")
    assert legacy.status_code == 200, legacy.text
    assert legacy.json() == {
        "cpu0_time": 0,
        "vda_read_req": 0,
        "vda_read": 0,
        "vda_write_req": 0,
        "vda_write": 0,
        "vda_errors": 0,
        "memory": 512 * 1024,
    }
    assert diagnostics(cloud, server, "2.1").json() == legacy.json()


def test_diagnostics_are_for_administrators(cloud: Cloud, server: str) -> None:
    refused = diagnostics(cloud, server, "2.48", persona="alice")
    assert refused.status_code == 403
    assert diagnostics(cloud, server, "2.48", persona="bob").status_code == 404
    missing = diagnostics(cloud, "00000000-0000-4000-8000-000000000000", "2.48")
    assert missing.status_code == 404


def test_diagnostics_of_a_guest_that_is_not_running_is_409(cloud: Cloud, server: str) -> None:
    accepted(cloud, server, "pause", "PAUSED")
    message = conflict(diagnostics(cloud, server, "2.48"))
    assert message == (
        f"cannot get_diagnostics instance {server} while it is in power state paused; "
        "it must be in power state running"
    )
    accepted(cloud, server, "unpause", "ACTIVE")
    assert diagnostics(cloud, server, "2.48").status_code == 200


def test_diagnostics_of_a_server_without_a_host_is_409(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    flavor = {"name": "diag-huge", "id": "diag-huge", "ram": 10**8, "vcpus": 1, "disk": 1}
    assert admin.post("/v2.1/flavors", {"flavor": flavor}).status_code == 200
    try:
        created = cloud.client("alice", "2.60").post(
            "/v2.1/servers",
            {
                "server": {
                    "name": "nowhere",
                    "flavorRef": "diag-huge",
                    "imageRef": cloud.image_id,
                    "networks": "none",
                }
            },
        )
        assert created.status_code == 202, created.text
        server_id = created.json()["server"]["id"]
        cloud.wait_status(server_id, "ERROR")
        assert "not ready: it has no compute host" in conflict(
            diagnostics(cloud, server_id, "2.48")
        )
    finally:
        cloud.delete_all_servers()
        admin.delete("/v2.1/flavors/diag-huge")


def test_diagnostics_of_a_building_server_is_409(cloud: Cloud, server: str) -> None:
    ctx = get_admin_context()
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.vm_state = "building"
    instance.save()
    try:
        assert "while it is in vm_state building" in conflict(diagnostics(cloud, server, "2.48"))
    finally:
        instance.vm_state = "active"
        instance.save()


def test_diagnostics_of_a_driver_without_them_is_501(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    monkeypatch.setattr(drv, "capabilities", {**drv.capabilities, "supports_diagnostics": False})
    response = diagnostics(cloud, server, "2.48")
    assert response.status_code == 501
    assert response.json() == {
        "notImplemented": {
            "code": 501,
            "message": "get_diagnostics is not supported by the FakeDriver virt driver",
        }
    }


def test_diagnostics_of_a_host_that_is_down_or_silent_is_503(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    admin = cloud.client("admin", "2.11")
    by_host = {"host": host, "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        down = diagnostics(cloud, server, "2.48")
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    assert down.status_code == 503
    assert down.json()["serviceUnavailable"]["message"] == (
        f"the compute service of instance {server} is unavailable, try again later: it is down"
    )

    flags(rpc_response_timeout=1)
    drv = cloud.driver(host)
    released: list[bool] = []
    monkeypatch.setattr(
        drv, "get_diagnostics", lambda instance: time.sleep(3) or released.append(True)
    )
    silent = diagnostics(cloud, server, "2.48")
    assert silent.status_code == 503
    assert "did not answer within 1 s" in silent.json()["serviceUnavailable"]["message"]
    wait_for(lambda: released, what="the slow diagnostics to return")
