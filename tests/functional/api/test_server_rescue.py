"""``rescue`` / ``unrescue`` through the whole path (API -> compute API -> compute RPC
-> compute manager -> fake driver), as Nova answers them: the 200 with the password,
the states they start from and end in, the guest booted from the rescue image with its
own disk second, the instance actions and events, Nova's rules for a rescued server
(reboot, rebuild, stop, pause and live migration refused; delete works), the refusals,
a driver without the ability, a failure and an interrupted rescue ending in ERROR --
and ``openstack server rescue``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.api.image_registry import ImageAPI
from nubis.core.compute import api as compute_api
from nubis.core.compute.states import TaskState
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for
from tests.functional.api.test_clients import CLI, write_clouds_yaml


@pytest.fixture(scope="module")
def rescue_image(cloud: Cloud) -> Iterator[str]:
    raw = cloud.tmp / "rescue.raw"
    raw.write_bytes(b"\2" * (1 << 20))
    image = ImageAPI(CONF).import_file(get_admin_context(), "rescue-img", str(raw))
    yield str(image.uuid)
    cloud.delete_all_servers()
    ImageAPI(CONF).delete(get_admin_context(), str(image.uuid))


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    yield cloud.boot("alice", name="rescue-vm")
    cloud.delete_all_servers()


def act(cloud: Cloud, server_id: str, body: Any, persona: str = "alice", version: str = "2.60"):
    return cloud.client(persona, version).post(f"/v2.1/servers/{server_id}/action", body)


def rescue(cloud: Cloud, server_id: str, persona: str = "alice", **body: Any) -> Any:
    return act(cloud, server_id, {"rescue": body}, persona)


def guest(cloud: Cloud, server_id: str) -> Any:
    return cloud.driver(cloud.server(server_id)["OS-EXT-SRV-ATTR:host"])._guests[server_id]


def rescued_from_error(cloud: Cloud, server_id: str) -> None:
    """Wait for a rescue that started from ERROR (wait_status gives up on ERROR)."""
    wait_for(lambda: cloud.server(server_id)["status"] == "RESCUE", what="the rescue")


def latest_fault(server_id: str) -> Any:
    faults = objects.InstanceFaultList.get_by_instance_uuids(
        get_admin_context(), [server_id], latest=True
    )
    return faults.objects[0]


def test_rescue_and_unrescue_an_active_server(cloud: Cloud, server: str) -> None:
    response = rescue(cloud, server, adminPass="s3cret")
    assert response.status_code == 200, response.text
    assert response.json() == {"adminPass": "s3cret"}
    rescued = cloud.wait_status(server, "RESCUE")
    assert rescued["OS-EXT-STS:vm_state"] == "rescued"
    assert rescued["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert cloud.ended_action(server) == ("rescue", {"compute_rescue_instance": "Success"})
    # Booted from the server's own image (none was named), its own disk second.
    boot = guest(cloud, server).console[-4]
    assert boot.endswith(f"image {cloud.image_id} (rescue; its own disk {cloud.image_id} second)")
    listed = cloud.client("alice", "2.60").get("/v2.1/servers/detail?status=RESCUE").json()
    assert [s["id"] for s in listed["servers"]] == [server]

    unrescued = act(cloud, server, {"unrescue": None})
    assert unrescued.status_code == 202 and unrescued.text == ""
    active = cloud.wait_status(server, "ACTIVE")
    assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert cloud.ended_action(server) == ("unrescue", {"compute_unrescue_instance": "Success"})
    assert guest(cloud, server).rescue_image is None
    assert guest(cloud, server).console[-4].endswith(f"image {cloud.image_id}")


def test_rescue_from_another_image_with_a_made_up_password(
    cloud: Cloud, server: str, rescue_image: str
) -> None:
    response = rescue(cloud, server, rescue_image_ref=rescue_image)
    assert response.status_code == 200, response.text
    assert len(response.json()["adminPass"]) == 12
    cloud.wait_status(server, "RESCUE")
    assert guest(cloud, server).rescue_image == rescue_image
    assert (
        f"image {rescue_image} (rescue; its own disk {cloud.image_id}"
        in guest(cloud, server).console[-4]
    )
    # Nova's unrescue body may hold anything.
    assert act(cloud, server, {"unrescue": {}}).status_code == 202
    cloud.wait_status(server, "ACTIVE")


def test_null_body_and_stopped_and_errored_servers(cloud: Cloud, server: str) -> None:
    assert act(cloud, server, {"os-stop": None}).status_code == 202
    cloud.wait_status(server, "SHUTOFF")
    assert act(cloud, server, {"rescue": None}).status_code == 200
    cloud.wait_status(server, "RESCUE")
    assert act(cloud, server, {"unrescue": None}).status_code == 202
    assert cloud.wait_status(server, "ACTIVE")["OS-EXT-STS:power_state"] == power_state.RUNNING

    admin = cloud.client("admin")
    reset = admin.post(f"/v2.1/servers/{server}/action", {"os-resetState": {"state": "error"}})
    assert reset.status_code == 202
    assert rescue(cloud, server).status_code == 200
    rescued_from_error(cloud, server)


def test_a_rescued_server_refuses_what_would_change_its_guest(cloud: Cloud, server: str) -> None:
    assert rescue(cloud, server).status_code == 200
    cloud.wait_status(server, "RESCUE")
    refused = {
        "reboot": {"type": "HARD"},
        "rebuild": {"imageRef": cloud.image_id},
        "os-stop": None,
        "os-start": None,
        "pause": None,
        "rescue": None,
    }
    for action, value in refused.items():
        response = act(cloud, server, {action: value})
        assert response.status_code == 409, (action, response.text)
        assert "while it is vm_state rescued" in response.text, action
    migrate = act(
        cloud, server, {"os-migrateLive": {"host": None, "block_migration": "auto"}}, "admin"
    )
    assert migrate.status_code == 409, migrate.text
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    assert cloud.client("alice").delete(f"/v2.1/servers/{server}").status_code == 204
    cloud.wait_gone(server)
    assert server not in cloud.driver(host).list_instance_uuids()


def test_refusals(cloud: Cloud, server: str) -> None:
    missing = rescue(cloud, "00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404, missing.text
    assert rescue(cloud, server, persona="bob").status_code == 404
    not_rescued = act(cloud, server, {"unrescue": None})
    assert not_rescued.status_code == 409
    assert "it must be vm_state rescued" in not_rescued.text

    assert act(cloud, server, {"pause": None}).status_code == 202
    cloud.wait_status(server, "PAUSED")
    paused = rescue(cloud, server)
    assert paused.status_code == 409 and "while it is vm_state paused" in paused.text
    assert act(cloud, server, {"unpause": None}).status_code == 202
    cloud.wait_status(server, "ACTIVE")

    ctx = get_admin_context()
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.task_state = TaskState.REBOOTING
    instance.save()
    busy = rescue(cloud, server)
    instance.task_state = None
    instance.save()
    assert busy.status_code == 409 and "while it is task_state rebooting" in busy.text

    assert act(cloud, server, {"lock": None}).status_code == 202
    locked = rescue(cloud, server)
    assert locked.status_code == 409 and "is locked" in locked.text
    assert rescue(cloud, server, persona="admin").status_code == 200  # administrators may
    cloud.wait_status(server, "RESCUE")
    assert act(cloud, server, {"unrescue": None}).status_code == 409  # locked
    assert act(cloud, server, {"unlock": None}).status_code == 202
    assert cloud.server(server)["OS-EXT-STS:task_state"] is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"rescue": {"rescue_image_ref": "tiny"}}, "is not a 'uuid'"),
        ({"rescue": {"adminPass": 7}}, "rescue.adminPass"),
        ({"rescue": {"flavorRef": "x"}}, "flavorRef"),
        ({"rescue": "now"}, "rescue"),
        (
            {"rescue": {"rescue_image_ref": "00000000-0000-4000-8000-000000000000"}},
            "Requested rescue image '00000000-0000-4000-8000-000000000000' is not supported",
        ),
    ],
)
def test_bad_bodies_are_400(cloud: Cloud, server: str, body: Any, words: str) -> None:
    response = act(cloud, server, body)
    assert response.status_code == 400, response.text
    assert words in response.json()["badRequest"]["message"]
    assert cloud.server(server)["OS-EXT-STS:task_state"] is None


def test_an_image_that_is_not_active_or_not_visible(cloud: Cloud, server: str) -> None:
    queued = cloud.client("alice").post(
        "/image/v2/images", {"name": "rs-queued", "disk_format": "raw", "container_format": "bare"}
    )
    hidden = cloud.client("bob").post(
        "/image/v2/images", {"name": "rs-bob", "disk_format": "raw", "container_format": "bare"}
    )
    try:
        inactive = rescue(cloud, server, rescue_image_ref=queued.json()["id"])
        assert inactive.status_code == 400 and "not active (status queued)" in inactive.text
        unseen = rescue(cloud, server, rescue_image_ref=hidden.json()["id"])
        assert unseen.status_code == 400 and "no image has this id" in unseen.text
    finally:
        cloud.client("alice").delete(f"/image/v2/images/{queued.json()['id']}")
        cloud.client("bob").delete(f"/image/v2/images/{hidden.json()['id']}")


def test_a_driver_without_rescue_ends_the_task_with_a_fault(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    monkeypatch.setattr(drv, "capabilities", {**drv.capabilities, "supports_rescue": False})
    assert rescue(cloud, server).status_code == 200
    after = cloud.wait_status(server, "ACTIVE")
    assert cloud.ended_action(server) == ("rescue", {"compute_rescue_instance": "Error"})
    assert after["OS-EXT-STS:power_state"] == power_state.RUNNING  # untouched
    assert "rescue is not supported by the FakeDriver virt driver" in latest_fault(server).message


def test_a_failed_rescue_ends_in_error_and_can_be_retried(
    cloud: Cloud, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise exception.InstanceSpawnFailure(instance_uuid=server, reason="the disk is gone")

    monkeypatch.setattr(drv, "rescue", broken)
    assert rescue(cloud, server).status_code == 200
    failed = cloud.wait_status(server, "ERROR")
    assert "the disk is gone" in failed["fault"]["message"]
    assert cloud.ended_action(server)[1] == {"compute_rescue_instance": "Error"}
    monkeypatch.undo()
    assert rescue(cloud, server).status_code == 200  # from ERROR, as Nova allows
    rescued_from_error(cloud, server)
    assert act(cloud, server, {"unrescue": None}).status_code == 202
    cloud.wait_status(server, "ACTIVE")


def test_a_lost_rescue_is_ended_by_the_reconciler_and_a_restart(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    manager = cloud.services[host].manager
    monkeypatch.setattr(manager, "rescue_instance", lambda *a, **k: None)  # the cast is lost
    assert rescue(cloud, server).status_code == 200
    assert cloud.server(server)["OS-EXT-STS:task_state"] == "rescuing"
    flags(group="conductor", task_timeout=1)
    time.sleep(2.1)  # updated_at has a resolution of one second
    Reconciler(CONF, "test-conductor").run(get_admin_context())
    ended = cloud.server(server)
    assert (ended["status"], ended["OS-EXT-STS:task_state"]) == ("ERROR", None)
    assert "rescue of instance" in ended["fault"]["message"]
    assert "task rescuing made no progress" in ended["fault"]["message"]

    ctx = get_admin_context()
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.vm_state, instance.task_state = "rescued", TaskState.UNRESCUING
    instance.save()
    manager._lifecycle.init_instances(ctx)  # what init_host runs
    restarted = cloud.server(server)
    assert (restarted["status"], restarted["OS-EXT-STS:task_state"]) == ("ERROR", None)
    assert "unrescue of instance" in restarted["fault"]["message"]
    assert "restarted during it (task unrescuing)" in restarted["fault"]["message"]


def test_the_bus_down_host_and_older_host(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rpcapi = cloud.api.app.deps.compute_api.compute_rpcapi

    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the broker closed the connection")

    monkeypatch.setattr(rpcapi, "rescue_instance", refused)
    response = rescue(cloud, server)
    assert response.status_code == 503 and "the broker closed the connection" in response.text
    after = cloud.server(server)
    assert (after["status"], after["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    monkeypatch.undo()

    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    by_host = {"host": host, "binary": "nubis-compute"}
    admin = cloud.client("admin", "2.11")
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        down = rescue(cloud, server)
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    assert down.status_code == 503 and "is down" in down.text

    flags(group="upgrade_levels", compute="1.5")
    api = compute_api.API(CONF)
    try:
        instance = objects.Instance.get_by_uuid(get_admin_context(), server)
        with pytest.raises(exception.ServiceTooOld, match="rescue needs compute RPC 1.6"):
            api.rescue(get_admin_context(), instance)
    finally:
        api.cleanup()
    assert cloud.server(server)["OS-EXT-STS:task_state"] is None


def test_openstack_server_rescue(
    cloud: Cloud, server: str, rescue_image: str, tmp_path: Path
) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    cli.run("alice", "server", "rescue", "--image", "rescue-img", server, parse=False)
    cloud.wait_status(server, "RESCUE")
    assert guest(cloud, server).rescue_image == rescue_image
    cli.run("alice", "server", "unrescue", server, parse=False)
    cloud.wait_status(server, "ACTIVE")
    events = {e["Action"] for e in cli.run("alice", "server", "event", "list", server)}
    assert {"rescue", "unrescue"} <= events
