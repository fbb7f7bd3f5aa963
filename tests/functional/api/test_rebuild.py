"""``POST /servers/{id}/action {"rebuild": {...}}`` through the whole path (API ->
compute API -> conductor's compute_task -> compute RPC cast -> compute manager -> fake
driver), as Nova answers it per microversion: the 202 view, the fields a rebuild sets,
the states it starts from and ends in, the instance action and its events, the
driver's own rebuild and the generic destroy-and-spawn, failures ending in ERROR with
a fault, a lost rebuild ended by the reconciler or a compute restart, the refusals --
and ``openstack server rebuild``.
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
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for
from tests.functional.api.test_clients import CLI, write_clouds_yaml

#: Nova's rebuild response keys (besides fault) at each microversion nubis serves.
BASE_KEYS = {
    "accessIPv4",
    "accessIPv6",
    "addresses",
    "adminPass",
    "created",
    "flavor",
    "hostId",
    "id",
    "image",
    "links",
    "metadata",
    "name",
    "progress",
    "status",
    "tenant_id",
    "updated",
    "user_id",
    "OS-DCF:diskConfig",
}
KEYS = {
    "2.1": BASE_KEYS,
    "2.9": BASE_KEYS | {"locked"},
    "2.19": BASE_KEYS | {"locked", "description"},
    "2.26": BASE_KEYS | {"locked", "description", "tags"},
    "2.54": BASE_KEYS | {"locked", "description", "tags", "key_name"},
    "2.57": BASE_KEYS | {"locked", "description", "tags", "key_name", "user_data"},
}


@pytest.fixture(scope="module")
def other_image(cloud: Cloud) -> Iterator[str]:
    raw = cloud.tmp / "tiny-alt.raw"
    raw.write_bytes(b"\1" * (1 << 20))
    image = ImageAPI(CONF).import_file(get_admin_context(), "tiny-alt", str(raw))
    yield str(image.uuid)
    cloud.delete_all_servers()
    ImageAPI(CONF).delete(get_admin_context(), str(image.uuid))


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    yield cloud.boot("alice", name="rebuild-vm", metadata={"old": "1"})
    cloud.delete_all_servers()


def rebuild(
    cloud: Cloud, server_id: str, version: str = "2.60", persona: str = "alice", **body: Any
) -> Any:
    return cloud.client(persona, version).post(
        f"/v2.1/servers/{server_id}/action", {"rebuild": body}
    )


def console(cloud: Cloud, server_id: str) -> str:
    response = cloud.client("alice").post(
        f"/v2.1/servers/{server_id}/action", {"os-getConsoleOutput": {}}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["output"])


def test_rebuild_with_another_image_and_new_attributes(
    cloud: Cloud, server: str, other_image: str
) -> None:
    before = cloud.server(server)
    response = rebuild(
        cloud,
        server,
        imageRef=other_image,
        name="rebuilt",
        adminPass="s3cret",
        metadata={"new": "2"},
        description="rebuilt once",
        accessIPv4="192.0.2.7",
        accessIPv6="2001:db8:0:0::7",
        preserve_ephemeral=False,
    )
    assert response.status_code == 202, response.text
    view = response.json()["server"]
    assert set(view) == KEYS["2.57"]
    assert view["id"] == server and view["image"]["id"] == other_image
    assert view["name"] == "rebuilt" and view["metadata"] == {"new": "2"}
    assert view["adminPass"] == "s3cret" and view["user_data"] is None
    assert view["description"] == "rebuilt once" and view["accessIPv6"] == "2001:db8::7"
    assert view["status"] in ("REBUILD", "ACTIVE") and view["progress"] == 0

    after = cloud.wait_status(server, "ACTIVE")
    assert after["image"]["id"] == other_image and after["name"] == "rebuilt"
    assert after["OS-EXT-SRV-ATTR:host"] == before["OS-EXT-SRV-ATTR:host"]
    assert after["OS-EXT-STS:power_state"] == 1
    assert after["OS-SRV-USG:launched_at"] > before["OS-SRV-USG:launched_at"]
    assert cloud.ended_action(server) == (
        "rebuild",
        {"rebuild_server": "Success", "compute_rebuild_instance": "Success"},
    )
    # The fake driver's own rebuild: a new guest log, booted from the new image.
    assert console(cloud, server).count("boot 1, image " + other_image) == 1
    assert "boot 2" not in console(cloud, server)


def test_the_response_per_microversion(cloud: Cloud, server: str, other_image: str) -> None:
    for version, keys in KEYS.items():
        cloud.wait_status(server, "ACTIVE")
        response = rebuild(cloud, server, version, imageRef=other_image)
        assert response.status_code == 202, (version, response.text)
        view = response.json()["server"]
        assert set(view) == keys, version
        assert len(view["adminPass"]) == 12  # made up: none was given
        embedded = int(version.split(".")[1]) >= 47  # the flavor itself from 2.47
        assert ("id" in view["flavor"]) is not embedded and ("ram" in view["flavor"]) is embedded


def test_a_stopped_server_is_rebuilt_stopped(cloud: Cloud, server: str, other_image: str) -> None:
    alice = cloud.client("alice")
    assert alice.post(f"/v2.1/servers/{server}/action", {"os-stop": None}).status_code == 202
    cloud.wait_status(server, "SHUTOFF")
    assert rebuild(cloud, server, imageRef=other_image).status_code == 202
    after = cloud.wait_status(server, "SHUTOFF")
    assert after["image"]["id"] == other_image and after["OS-EXT-STS:power_state"] == 4
    assert console(cloud, server).endswith("reboot: Power down\n")


def test_a_server_in_error_is_rebuilt_active(cloud: Cloud, server: str) -> None:
    admin = cloud.client("admin")
    reset = admin.post(f"/v2.1/servers/{server}/action", {"os-resetState": {"state": "error"}})
    assert reset.status_code == 202
    assert rebuild(cloud, server, imageRef=cloud.image_id).status_code == 202
    assert cloud.wait_status(server, "ACTIVE")["OS-EXT-STS:vm_state"] == "active"


def test_without_the_drivers_rebuild_the_guest_is_destroyed_and_spawned(
    cloud: Cloud, server: str, other_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    drv = cloud.driver(host)
    monkeypatch.setattr(drv, "capabilities", {**drv.capabilities, "supports_rebuild": False})
    calls: list[str] = []
    for name in ("destroy", "spawn", "rebuild"):
        real = getattr(drv, name)
        monkeypatch.setattr(
            drv, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k)
        )
    node_before = cloud.client("admin").get("/v2.1/os-hypervisors/detail").json()
    assert rebuild(cloud, server, imageRef=other_image).status_code == 202
    cloud.wait_status(server, "ACTIVE")
    assert calls == ["destroy", "spawn"]
    assert f"boot 1, image {other_image}" in console(cloud, server)
    node_after = cloud.client("admin").get("/v2.1/os-hypervisors/detail").json()
    used = {h["hypervisor_hostname"]: h["memory_mb_used"] for h in node_after["hypervisors"]}
    assert used == {
        h["hypervisor_hostname"]: h["memory_mb_used"] for h in node_before["hypervisors"]
    }


def test_a_failed_rebuild_ends_in_error_with_a_fault_and_can_be_retried(
    cloud: Cloud, server: str, other_image: str
) -> None:
    drv = cloud.driver(cloud.server(server)["OS-EXT-SRV-ATTR:host"])
    drv.fail_next_spawns(1, "the disk would not boot")
    try:
        assert rebuild(cloud, server, imageRef=other_image).status_code == 202
        failed = cloud.wait_status(server, "ERROR")
    finally:
        drv.fail_next_spawns(0)
    assert failed["OS-EXT-STS:task_state"] is None
    assert "the disk would not boot" in failed["fault"]["message"]
    assert cloud.ended_action(server, "rebuild")[1]["compute_rebuild_instance"] == "Error"
    # The guest is gone: a new rebuild spawns it afresh.
    assert rebuild(cloud, server, imageRef=cloud.image_id).status_code == 202
    assert cloud.wait_status(server, "ACTIVE")["image"]["id"] == cloud.image_id


def test_a_lost_rebuild_is_ended_by_the_reconciler_and_a_restart(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    manager = cloud.services[host].manager
    monkeypatch.setattr(manager, "rebuild_instance", lambda *a, **k: None)  # the cast is lost
    assert rebuild(cloud, server, imageRef=cloud.image_id).status_code == 202
    assert cloud.server(server)["OS-EXT-STS:task_state"] == "rebuilding"
    flags(group="conductor", task_timeout=1)
    ctx = get_admin_context()
    time.sleep(2.1)  # updated_at has a resolution of one second
    # (The cloud's own conductor may run its reconciler meanwhile: either one ends it.)
    Reconciler(CONF, "test-conductor").run(ctx)
    ended = cloud.server(server)
    assert (ended["status"], ended["OS-EXT-STS:task_state"]) == ("ERROR", None)
    assert "rebuild of instance" in ended["fault"]["message"]
    assert "task rebuilding made no progress" in ended["fault"]["message"]

    # A compute service that restarts in the middle of a rebuild ends it the same way.
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.vm_state, instance.task_state = "active", TaskState.REBUILD_SPAWNING
    instance.save()
    manager._lifecycle.init_instances(ctx)  # what init_host runs
    restarted = cloud.server(server)
    assert (restarted["status"], restarted["OS-EXT-STS:task_state"]) == ("ERROR", None)
    assert "restarted during the rebuild (task rebuild_spawning)" in restarted["fault"]["message"]


@pytest.mark.parametrize(
    ("version", "body", "words"),
    [
        ("2.60", {}, "rebuild.imageRef: required but missing"),
        ("2.60", {"imageRef": "tiny"}, "is not a 'uuid'"),
        ("2.60", {"imageRef": "00000000-0000-4000-8000-000000000000"}, "Cannot find image"),
        ("2.60", {"imageRef": "IMAGE", "user_data": "ZWNobw=="}, "rebuild.user_data"),
        ("2.56", {"imageRef": "IMAGE", "user_data": None}, "user_data: not an accepted"),
        (
            "2.56",
            {"imageRef": "IMAGE", "personality": [{"path": "/f", "contents": "eA=="}]},
            "inject",
        ),
        ("2.57", {"imageRef": "IMAGE", "personality": []}, "personality: not an accepted"),
        ("2.18", {"imageRef": "IMAGE", "description": "d"}, "description: not an accepted"),
        ("2.53", {"imageRef": "IMAGE", "key_name": "k"}, "key_name: not an accepted"),
        ("2.54", {"imageRef": "IMAGE", "key_name": "nope"}, "Invalid key_name provided"),
        ("2.60", {"imageRef": "IMAGE", "preserve_ephemeral": "maybe"}, "preserve_ephemeral"),
        ("2.60", {"imageRef": "IMAGE", "name": " padded"}, "rebuild.name"),
        ("2.60", {"imageRef": "IMAGE", "accessIPv4": "300.1.1.1"}, "rebuild.accessIPv4"),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    cloud: Cloud, server: str, version: str, body: dict[str, Any], words: str
) -> None:
    if body.get("imageRef") == "IMAGE":
        body = {**body, "imageRef": cloud.image_id}
    response = rebuild(cloud, server, version, **body)
    assert response.status_code == 400, response.text
    assert words in response.json()["badRequest"]["message"]
    assert cloud.server(server)["OS-EXT-STS:task_state"] is None


def test_images_that_do_not_fit_or_are_not_active(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice")  # her project's image
    made = alice.post(
        "/image/v2/images",
        {"name": "rb-queued", "disk_format": "raw", "container_format": "bare", "min_ram": 4096},
    )
    assert made.status_code == 201, made.text
    image_id = made.json()["id"]
    try:
        queued = rebuild(cloud, server, imageRef=image_id)
        assert queued.status_code == 400 and "Image is not active (status queued)" in queued.text
        raw = cloud.tmp / "rb-big.raw"
        raw.write_bytes(b"\0" * 1024)
        uploaded = alice.put(
            f"/image/v2/images/{image_id}/file",
            data=raw.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 204
        small = rebuild(cloud, server, imageRef=image_id)
        assert small.status_code == 400
        assert "needs 4096 MiB (min_ram), the server has 512 MiB" in small.text
    finally:
        alice.delete(f"/image/v2/images/{image_id}")
    hidden = cloud.client("bob").post(
        "/image/v2/images", {"name": "rb-bob", "disk_format": "raw", "container_format": "bare"}
    )
    try:
        unseen = rebuild(cloud, server, imageRef=hidden.json()["id"])  # bob's own image
        assert unseen.status_code == 400 and "Cannot find image for rebuild" in unseen.text
    finally:
        cloud.client("bob").delete(f"/image/v2/images/{hidden.json()['id']}")


def test_states_owners_hosts_and_limits(cloud: Cloud, server: str, flags: Any) -> None:
    image = cloud.image_id
    assert rebuild(cloud, server, persona="bob", imageRef=image).status_code == 404
    ctx = get_admin_context()
    instance = objects.Instance.get_by_uuid(ctx, server)
    instance.task_state = TaskState.POWERING_OFF
    instance.save()
    busy = rebuild(cloud, server, imageRef=image)
    instance.task_state = None
    instance.save()
    assert busy.status_code == 409
    assert "while it is task_state powering-off" in busy.json()["conflictingRequest"]["message"]

    flags(group="quota", metadata_items=2)
    over = rebuild(cloud, server, imageRef=image, metadata={"a": "1", "b": "2", "c": "3"})
    assert over.status_code == 403 and "at most 2" in over.text

    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    by_host = {"host": host, "binary": "nubis-compute"}
    admin = cloud.client("admin", "2.11")
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        down = rebuild(cloud, server, imageRef=image, name="never")
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    assert down.status_code == 503 and host not in down.text
    assert cloud.server(server)["name"] == "rebuild-vm"  # nothing changed


def test_a_request_the_bus_does_not_take_changes_nothing(
    cloud: Cloud, server: str, other_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_api = cloud.api.app.deps.compute_api.compute_task_api

    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the broker closed the connection")

    monkeypatch.setattr(task_api, "rebuild_instance", refused)
    response = rebuild(cloud, server, imageRef=other_image, name="never", metadata={})
    assert response.status_code == 503, response.text
    assert "the broker closed the connection" in response.text
    after = cloud.server(server)
    assert after["OS-EXT-STS:task_state"] is None and after["status"] == "ACTIVE"
    assert (after["name"], after["metadata"]) == ("rebuild-vm", {"old": "1"})
    assert after["image"]["id"] == cloud.image_id


def test_key_name_from_2_54(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice", "2.54")
    made = alice.post("/v2.1/os-keypairs", {"keypair": {"name": "rb-key"}})
    assert made.status_code == 201, made.text
    try:
        keyed = rebuild(cloud, server, "2.54", imageRef=cloud.image_id, key_name="rb-key")
        assert keyed.status_code == 202 and keyed.json()["server"]["key_name"] == "rb-key"
        cloud.wait_status(server, "ACTIVE")
        instance = objects.Instance.get_by_uuid(get_admin_context(), server)
        assert instance.key_data == made.json()["keypair"]["public_key"]
        unkeyed = rebuild(cloud, server, "2.54", imageRef=cloud.image_id, key_name=None)
        assert unkeyed.status_code == 202 and unkeyed.json()["server"]["key_name"] is None
        cloud.wait_status(server, "ACTIVE")
    finally:
        alice.delete("/v2.1/os-keypairs/rb-key")


def test_older_services_are_refused_clearly(cloud: Cloud, server: str, flags: Any) -> None:
    flags(group="upgrade_levels", compute_task="1.0")
    api = compute_api.API(CONF)
    try:
        instance = objects.Instance.get_by_uuid(get_admin_context(), server)
        with pytest.raises(exception.ServiceTooOld, match="rebuild needs compute_task RPC 1.1"):
            api.rebuild(get_admin_context(), instance, cloud.image_id)
    finally:
        api.cleanup()
    assert cloud.server(server)["OS-EXT-STS:task_state"] is None


def test_openstack_server_rebuild(
    cloud: Cloud, server: str, other_image: str, tmp_path: Path
) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    shown = cli.run(
        "alice", "server", "rebuild", "--image", "tiny-alt", "--password", "pw0", server
    )
    assert shown["id"] == server and shown["adminPass"] == "pw0"
    after = cloud.wait_status(server, "ACTIVE")
    assert after["image"]["id"] == other_image
    wait_for(lambda: cloud.server(server)["OS-EXT-STS:task_state"] is None, what="the rebuild")
    cli.run("alice", "server", "stop", server, parse=False)
    cloud.wait_status(server, "SHUTOFF")
    waited = cli.run("alice", "server", "rebuild", "--image", "tiny", "--wait", server, parse=False)
    assert "Complete" in waited  # --wait saw the server back in SHUTOFF
    assert cloud.server(server)["image"]["id"] == cloud.image_id
    events = {e["Action"] for e in cli.run("alice", "server", "event", "list", server)}
    assert "rebuild" in events
