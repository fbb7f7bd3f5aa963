"""``createImage`` and ``createBackup`` through the whole path (API -> compute API ->
compute RPC cast -> compute manager -> fake driver -> the image store), as Nova answers
them per microversion: the image record and its properties, the file the host wrote
(size and hashes as the store computed them), the task states and instance actions, a
failed snapshot (image deleted, fault recorded, server as it was), backup rotation, the
refusals, the compute images proxy's ``server``/``type`` filters and Glance's property
filters -- and a server booted from a snapshot.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import objects
from nubis.core.compute.states import SNAPSHOT_TASK_STATES, TaskState
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    yield cloud.boot("alice", name="snap-vm")
    cloud.delete_all_servers()
    for image in objects.ImageList.get_all(get_admin_context()):
        if (image.properties or {}).get("image_type") in ("snapshot", "backup"):
            cloud.client("admin").delete(f"/image/v2/images/{image.uuid}")


def act(cloud: Cloud, server_id: str, body: Any, version: str = "2.60", persona: str = "alice"):
    return cloud.client(persona, version).post(f"/v2.1/servers/{server_id}/action", body)


def glance_image(cloud: Cloud, image_id: str, persona: str = "alice") -> dict[str, Any]:
    response = cloud.client(persona).get(f"/image/v2/images/{image_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_image(cloud: Cloud, image_id: str, status: str = "active") -> dict[str, Any]:
    def reached() -> Any:
        image = glance_image(cloud, image_id, "admin")
        return image if image["status"] == status else None

    result: dict[str, Any] = wait_for(reached, what=f"image {image_id} to be {status}")
    return result


def actions_of(cloud: Cloud, server_id: str) -> list[dict[str, Any]]:
    response = cloud.client("admin", "2.60").get(f"/v2.1/servers/{server_id}/os-instance-actions")
    return list(response.json()["instanceActions"])


# --- createImage ---------------------------------------------------------------------------


def test_create_image_before_2_45_answers_a_location(cloud: Cloud, server: str) -> None:
    response = act(cloud, server, {"createImage": {"name": "snap-1"}}, version="2.44")
    assert response.status_code == 202, response.text
    assert response.content == b""
    location = response.headers["Location"]
    image_id = location.rsplit("/", 1)[-1]
    assert location == f"{cloud.url}/image/v2/images/{image_id}"
    image = wait_image(cloud, image_id)
    server_view = cloud.wait_status(server, "ACTIVE")
    assert server_view["OS-EXT-STS:task_state"] is None
    assert image["name"] == "snap-1" and image["owner"] == cloud.projects["alice"]
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == server
    assert image["base_image_ref"] == cloud.image_id
    assert image["disk_format"] == "raw" and image["container_format"] == "bare"
    assert image["min_disk"] == 1 and image["visibility"] == "shared"
    # the file the fake host wrote into the store nubis-api serves
    path = os.path.join(str(CONF.api.images_path), image_id)
    data = open(path, "rb").read()
    assert data.startswith(f"nubis fake snapshot\ninstance {server}\n".encode())
    assert image["size"] == len(data) == 1 << 20
    assert image["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert image["os_hash_algo"] == "sha512"
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert os.stat(path).st_mode & 0o777 == 0o640
    download = cloud.client("alice").get(f"/image/v2/images/{image_id}/file")
    assert download.content == data
    assert cloud.ended_action(server, "createImage")[1] == {"compute_snapshot_instance": "Success"}


def test_create_image_from_2_45_answers_the_image_id_and_keeps_a_stopped_server(
    cloud: Cloud, server: str
) -> None:
    assert act(cloud, server, {"os-stop": None}).status_code == 202
    cloud.wait_status(server, "SHUTOFF")
    body = {"createImage": {"name": "snap-2", "metadata": {"purpose": "test"}}}
    response = act(cloud, server, body, version="2.45")
    assert response.status_code == 202, response.text
    assert "Location" not in response.headers
    image_id = response.json()["image_id"]
    assert set(response.json()) == {"image_id"}
    image = wait_image(cloud, image_id)
    assert image["purpose"] == "test"
    cloud.wait_status(server, "SHUTOFF")


def test_a_server_boots_from_its_snapshot(cloud: Cloud, server: str) -> None:
    image_id = act(cloud, server, {"createImage": {"name": "snap-3"}}).json()["image_id"]
    wait_image(cloud, image_id)
    cloud.wait_status(server, "ACTIVE")
    second = cloud.boot("alice", name="from-snap", imageRef=image_id)
    assert cloud.server(second)["image"]["id"] == image_id


def test_a_failed_snapshot_deletes_the_image_and_records_a_fault(cloud: Cloud, server: str) -> None:
    blocker = cloud.tmp / "not-a-directory"
    blocker.write_text("a file where the fake host's image store should be")
    CONF.set_override("images_path", str(blocker / "images"), group="fake_driver")
    try:
        response = act(cloud, server, {"createImage": {"name": "snap-fails"}})
        assert response.status_code == 202, response.text
        image_id = response.json()["image_id"]
        wait_for(
            lambda: cloud.client("admin").get(f"/image/v2/images/{image_id}").status_code == 404,
            what="the failed snapshot's image to be deleted",
        )
    finally:
        CONF.clear_override("images_path", group="fake_driver")
    view = cloud.wait_status(server, "ACTIVE")
    assert view["OS-EXT-STS:task_state"] is None
    assert cloud.ended_action(server, "createImage")[1] == {"compute_snapshot_instance": "Error"}
    [fault] = objects.InstanceFaultList.get_by_instance_uuids(
        get_admin_context(), [server], latest=True
    )
    assert "Not a directory" in fault.message
    assert not [n for n in os.listdir(CONF.api.images_path) if n.startswith(image_id)]


def test_create_image_refusals(cloud: Cloud, server: str) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert act(cloud, missing, {"createImage": {"name": "x"}}).status_code == 404
    assert act(cloud, "a" * 35, {"createImage": {"name": "x"}}).status_code == 404
    assert act(cloud, server, {"createImage": {}}).status_code == 400
    assert act(cloud, server, {"createImage": {"name": " lead"}}).status_code == 400
    assert act(cloud, server, {"createImage": {"name": "x", "extra": 1}}).status_code == 400
    assert act(cloud, server, {"createImage": {"name": "x"}}, persona="bob").status_code == 404
    # the metadata quota counts up to 2.38 only, as in Nova
    many = {"createImage": {"name": "x", "metadata": {f"k{i}": "v" for i in range(129)}}}
    refused = act(cloud, server, many, version="2.38")
    assert refused.status_code == 403
    assert "Image metadata limit exceeded" in refused.text
    # a server with a task: 409, and no image is left behind
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    instance.task_state = TaskState.POWERING_OFF
    instance.save()
    before = len(objects.ImageList.get_all(get_admin_context()))
    try:
        conflict = act(cloud, server, {"createImage": {"name": "x"}})
        assert conflict.status_code == 409, conflict.text
        assert "createImage" in conflict.text
    finally:
        instance.task_state = None
        instance.save()
    assert len(objects.ImageList.get_all(get_admin_context())) == before


def test_create_image_of_a_deleted_server_is_404(cloud: Cloud) -> None:
    server_id = cloud.boot("alice", name="gone-vm")
    assert cloud.client("alice").delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)
    response = act(cloud, server_id, {"createImage": {"name": "x", "metadata": {"a": "b"}}})
    assert response.status_code == 404


def test_a_lost_snapshot_is_ended_by_the_reconciler(cloud: Cloud, server: str) -> None:
    ctx = get_admin_context()
    for task in SNAPSHOT_TASK_STATES:
        instance = objects.Instance.get_by_uuid(ctx, server)
        instance.task_state = task
        instance.save()
        CONF.set_override("task_timeout", 1, group="conductor")
        try:
            wait_for(
                lambda: server in Reconciler(CONF, "test").run(ctx)["cleared"],
                what=f"the reconciler to clear {task}",
            )
        finally:
            CONF.clear_override("task_timeout", group="conductor")
        instance = objects.Instance.get_by_uuid(ctx, server)
        assert instance.task_state is None and instance.vm_state == "active"


# --- createBackup ----------------------------------------------------------------------------


def backup(cloud: Cloud, server_id: str, name: str, rotation: int, version: str = "2.60"):
    body = {"createBackup": {"name": name, "backup_type": "daily", "rotation": rotation}}
    return act(cloud, server_id, body, version=version)


def backups_of(cloud: Cloud, server_id: str) -> list[str]:
    query = f"image_type=backup&backup_type=daily&instance_uuid={server_id}"
    response = cloud.client("alice").get(
        f"/image/v2/images?{query}&status=active&sort_key=created_at&sort_dir=asc"
    )
    assert response.status_code == 200, response.text
    return [image["name"] for image in response.json()["images"]]


def test_backups_rotate_out_the_oldest(cloud: Cloud, server: str) -> None:
    first = backup(cloud, server, "backup-1", 2, version="2.44")
    assert first.status_code == 202 and first.content == b""
    first_id = first.headers["Location"].rsplit("/", 1)[-1]
    assert first.headers["Location"] == f"{cloud.url}/v2.1/images/{first_id}"
    wait_image(cloud, first_id)
    cloud.wait_status(server, "ACTIVE")
    second = backup(cloud, server, "backup-2", 2)
    assert set(second.json()) == {"image_id"}
    image = wait_image(cloud, second.json()["image_id"])
    assert image["image_type"] == "backup" and image["backup_type"] == "daily"
    cloud.wait_status(server, "ACTIVE")
    assert backups_of(cloud, server) == ["backup-1", "backup-2"]
    third = backup(cloud, server, "backup-3", 2)
    wait_image(cloud, third.json()["image_id"])
    wait_for(
        lambda: cloud.client("admin").get(f"/image/v2/images/{first_id}").status_code == 404,
        what="the oldest backup to be rotated out",
    )
    cloud.wait_status(server, "ACTIVE")
    assert backups_of(cloud, server) == ["backup-2", "backup-3"]
    assert not os.path.exists(os.path.join(str(CONF.api.images_path), first_id))
    assert cloud.ended_action(server, "createBackup")[1] == {"compute_backup_instance": "Success"}


def test_rotation_zero_deletes_every_backup_and_answers_no_location(
    cloud: Cloud, server: str
) -> None:
    response = backup(cloud, server, "backup-0", 0, version="2.44")
    assert response.status_code == 202 and "Location" not in response.headers
    wait_for(lambda: actions_of(cloud, server)[0]["action"] == "createBackup", what="the action")
    cloud.wait_status(server, "ACTIVE")
    wait_for(lambda: backups_of(cloud, server) == [], what="the backup to be rotated out")


def test_create_backup_refusals(cloud: Cloud, server: str) -> None:
    body = {"createBackup": {"name": "b", "backup_type": "daily", "rotation": -1}}
    assert act(cloud, server, body).status_code == 400
    body = {"createBackup": {"name": "b", "backup_type": "daily"}}
    assert act(cloud, server, body).status_code == 400
    assert backup(cloud, server, "b", 1, version="2.60").status_code == 202
    # the server is busy with that backup (or just finished it); a second one while a
    # task runs is a conflict
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    if instance.task_state is not None:
        assert backup(cloud, server, "b2", 1).status_code == 409
    cloud.wait_status(server, "ACTIVE")


# --- listing snapshots ---------------------------------------------------------------------


def test_compute_images_filter_by_server_and_type(cloud: Cloud, server: str) -> None:
    other = cloud.boot("alice", name="snap-vm-2")
    mine = act(cloud, server, {"createImage": {"name": "mine"}}).json()["image_id"]
    theirs = act(cloud, other, {"createImage": {"name": "theirs"}}).json()["image_id"]
    wait_image(cloud, mine)
    wait_image(cloud, theirs)
    alice = cloud.client("alice", "2.35")

    def ids(query: str, detail: bool = False) -> set[str]:
        path = "/v2.1/images/detail" if detail else "/v2.1/images"
        response = alice.get(f"{path}?{query}")
        assert response.status_code == 200, response.text
        return {image["id"] for image in response.json()["images"]}

    assert ids(f"server={server}") == {mine}
    link = cloud.server(server)["links"][0]["href"]
    assert ids(f"server={link}") == {mine}
    assert ids("type=snapshot") >= {mine, theirs}
    assert cloud.image_id not in ids("type=snapshot")
    assert not ids("type=backup") & {mine, theirs}
    assert ids(f"property-instance_uuid={other}", detail=True) == {theirs}
    shown = alice.get(f"/v2.1/images/{mine}").json()["image"]
    assert shown["server"]["id"] == server
    assert shown["server"]["links"][0]["href"].endswith(f"/v2.1/servers/{server}")
    assert shown["status"] == "ACTIVE" and shown["metadata"]["image_type"] == "snapshot"
    plain = alice.get(f"/v2.1/images/{cloud.image_id}").json()["image"]
    assert "server" not in plain


def test_an_image_has_no_tasks(cloud: Cloud, server: str) -> None:
    image_id = act(cloud, server, {"createImage": {"name": "tasks"}}).json()["image_id"]
    wait_image(cloud, image_id)
    response = cloud.client("alice").get(f"/image/v2/images/{image_id}/tasks")
    assert response.status_code == 200 and response.json() == {"tasks": []}
    missing = "00000000-0000-0000-0000-000000000000"
    assert cloud.client("alice").get(f"/image/v2/images/{missing}/tasks").status_code == 404
    assert cloud.client("bob").get(f"/image/v2/images/{image_id}/tasks").status_code == 404
