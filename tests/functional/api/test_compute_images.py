"""``/v2.1/images``, the compute API's image proxy (2.1 to 2.35), as Nova answers it:
list, detail, show, delete and an image's metadata, over the image registry's
visibility and policy; gone from 2.36."""

from __future__ import annotations

import uuid

from tests.functional.api.conftest import Cloud


def _new_image(cloud: Cloud, persona: str = "alice") -> str:
    body = {
        "name": f"proxy-{uuid.uuid4().hex[:6]}",
        "disk_format": "raw",
        "container_format": "bare",
    }
    made = cloud.client(persona).post("/image/v2/images", {**body, "min_ram": 64, "k": "v"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_list_show_metadata_delete(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.35")
    image_id = _new_image(cloud)
    try:
        names = {i["id"] for i in alice.get("/v2.1/images").json()["images"]}
        assert {image_id, cloud.image_id} <= names
        shown = alice.get(f"/v2.1/images/{image_id}").json()["image"]
        assert shown["status"] == "SAVING" and shown["progress"] == 25
        assert shown["minRam"] == 64 and shown["metadata"] == {"k": "v"}
        active = alice.get(f"/v2.1/images/{cloud.image_id}").json()["image"]
        assert active["status"] == "ACTIVE" and active["OS-EXT-IMG-SIZE:size"] > 0
        detail = alice.get("/v2.1/images/detail?status=ACTIVE").json()["images"]
        assert image_id not in {i["id"] for i in detail}
        assert alice.get("/v2.1/images?minRam=65").json()["images"] == []

        meta = f"/v2.1/images/{image_id}/metadata"
        assert alice.post(meta, {"metadata": {"a": "1"}}).json() == {
            "metadata": {"k": "v", "a": "1"}
        }
        assert alice.put(meta, {"metadata": {"b": "2"}}).json() == {"metadata": {"b": "2"}}
        assert alice.put(f"{meta}/c", {"meta": {"c": "3"}}).json() == {"meta": {"c": "3"}}
        assert alice.get(f"{meta}/c").json() == {"meta": {"c": "3"}}
        assert alice.delete(f"{meta}/b").status_code == 204
        assert alice.get(meta).json() == {"metadata": {"c": "3"}}
        assert alice.get(f"{meta}/b").status_code == 404
        assert cloud.client("bob", "2.35").get(f"/v2.1/images/{image_id}").status_code == 404
        others = cloud.client("bob", "2.35").post(meta, {"metadata": {"x": "1"}})
        assert others.status_code == 404

        assert alice.delete(f"/v2.1/images/{image_id}").status_code == 204
        assert alice.get(f"/v2.1/images/{image_id}").status_code == 404
    finally:
        cloud.client("admin").delete(f"/image/v2/images/{image_id}")
    assert cloud.client("alice", "2.36").get("/v2.1/images").status_code == 404
