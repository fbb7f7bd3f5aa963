"""Server requests answered as Nova answers them: ``POST /servers`` with ``adminPass``
(answered, made up when not given) and scheduler hints under both of Nova's keys
(validated; a malformed one refused naming the field); the actions of a deleted server
from 2.21; ``os-resetState`` for administrators."""

from __future__ import annotations

from typing import Any

from tests.functional.api.conftest import Cloud


def _body(cloud: Cloud, name: str, **server: Any) -> dict[str, Any]:
    return {
        "server": {
            "name": name,
            "flavorRef": cloud.flavor_id,
            "imageRef": cloud.image_id,
            "networks": "none",
            **server,
        }
    }


def test_admin_pass_and_scheduler_hints(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.60")
    made = []
    try:
        given = alice.post("/v2.1/servers", _body(cloud, "pw-given", adminPass="s3cret-Pass"))
        assert given.status_code == 202, given.text
        assert given.json()["server"]["adminPass"] == "s3cret-Pass"
        made.append(given.json()["server"]["id"])

        generated = alice.post("/v2.1/servers", _body(cloud, "pw-made"))
        assert generated.status_code == 202, generated.text
        password = generated.json()["server"]["adminPass"]
        assert len(password) == 12 and password.isalnum()
        made.append(generated.json()["server"]["id"])

        for key in ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"):
            hinted = alice.post(
                "/v2.1/servers",
                {**_body(cloud, f"hinted-{key[:2]}"), key: {"different_host": [made[0]]}},
            )
            assert hinted.status_code == 202, hinted.text
            made.append(hinted.json()["server"]["id"])
        for server_id in made:
            cloud.wait_status(server_id, "ACTIVE")

        bad = alice.post(
            "/v2.1/servers", {**_body(cloud, "bad-hint"), "os:scheduler_hints": {"group": "x"}}
        )
        assert bad.status_code == 400
        assert "os:scheduler_hints.group" in bad.json()["badRequest"]["message"]
    finally:
        for server_id in made:
            alice.delete(f"/v2.1/servers/{server_id}")
        for server_id in made:
            cloud.wait_gone(server_id)


def test_actions_of_a_deleted_server_are_shown_from_2_21(cloud: Cloud) -> None:
    server_id = cloud.boot("alice", name="gone-soon")
    alice = cloud.client("alice", "2.60")
    assert alice.delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)

    listed = alice.get(f"/v2.1/servers/{server_id}/os-instance-actions")
    assert listed.status_code == 200, listed.text
    actions = {a["action"]: a for a in listed.json()["instanceActions"]}
    assert {"create", "delete"} <= set(actions)
    shown = alice.get(
        f"/v2.1/servers/{server_id}/os-instance-actions/{actions['create']['request_id']}"
    )
    assert shown.status_code == 200 and shown.json()["instanceAction"]["action"] == "create"

    before = cloud.client("alice", "2.20").get(f"/v2.1/servers/{server_id}/os-instance-actions")
    assert before.status_code == 404
    # another project still sees nothing of it
    bob = cloud.client("bob", "2.60").get(f"/v2.1/servers/{server_id}/os-instance-actions")
    assert bob.status_code == 404


def test_administrators_reset_a_server_state(cloud: Cloud) -> None:
    server_id = cloud.boot("alice", name="to-reset")
    admin = cloud.client("admin", "2.60")
    try:
        body = {"os-resetState": {"state": "error"}}
        refused = cloud.client("alice").post(f"/v2.1/servers/{server_id}/action", body)
        assert refused.status_code == 403
        assert admin.post(f"/v2.1/servers/{server_id}/action", body).status_code == 202
        assert cloud.server(server_id)["status"] == "ERROR"
        back = {"os-resetState": {"state": "active"}}
        assert admin.post(f"/v2.1/servers/{server_id}/action", back).status_code == 202
        assert cloud.server(server_id)["status"] == "ACTIVE"
        actions = admin.get(f"/v2.1/servers/{server_id}/os-instance-actions").json()
        assert [a["action"] for a in actions["instanceActions"]].count("resetState") == 2
        bad = admin.post(
            f"/v2.1/servers/{server_id}/action", {"os-resetState": {"state": "paused"}}
        )
        assert bad.status_code == 400 and "os-resetState.state" in bad.text
    finally:
        admin.delete(f"/v2.1/servers/{server_id}")
        cloud.wait_gone(server_id)


def _image(cloud: Cloud, **attributes: Any) -> str:
    """An active raw image of 4 KiB with *attributes* (min_ram, min_disk)."""
    admin = cloud.client("admin")
    body = {"name": "fit-check", "disk_format": "raw", "container_format": "bare"}
    body["visibility"] = "public"
    made = admin.post("/image/v2/images", {**body, **attributes})
    assert made.status_code == 201, made.text
    image_id = str(made.json()["id"])
    uploaded = admin.put(
        f"/image/v2/images/{image_id}/file",
        data=b"\0" * 4096,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert uploaded.status_code == 204, uploaded.text
    return image_id


def test_an_image_that_needs_more_than_the_flavor_is_refused(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    tiny = admin.get("/v2.1/flavors/m1.tiny").json()["flavor"]
    for name, disk in (("fit-disk", 1), ("fit-zero", 0)):
        flavor = {"name": name, "id": name, "ram": tiny["ram"], "vcpus": 1, "disk": disk}
        assert admin.post("/v2.1/flavors", {"flavor": flavor}).status_code == 200
    images = [_image(cloud, min_ram=tiny["ram"] + 1), _image(cloud, min_disk=2)]
    try:
        for image_id, flavor_id, says in (
            (images[0], "m1.tiny", "Flavor's memory is too small for requested image"),
            (images[1], "fit-disk", "Flavor disk is 1073741824 bytes, minimum size is"),
        ):
            body = {"name": "x", "imageRef": image_id, "flavorRef": flavor_id}
            refused = cloud.client("alice", "2.60").post(
                "/v2.1/servers", {"server": {**body, "networks": "none"}}
            )
            assert refused.status_code == 400, refused.text
            assert says in refused.json()["badRequest"]["message"]
        # a root disk of 0 is sized by the image: min_disk does not refuse it
        assert cloud.boot("alice", imageRef=images[1], flavorRef="fit-zero")
    finally:
        cloud.delete_all_servers()
        admin.delete("/v2.1/flavors/fit-disk")
        admin.delete("/v2.1/flavors/fit-zero")
        for image_id in images:
            admin.delete(f"/image/v2/images/{image_id}")
