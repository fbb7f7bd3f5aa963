"""The Image API v2 over HTTP (waitress, the package's cloud): create, upload, download,
update with a JSON patch, list with filters and paging, delete; Glance's statuses,
status codes and errors. Every image made here is named ``v2-...`` and deleted."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud

IMAGES = "/image/v2/images"
PATCH = "application/openstack-images-v2.1-json-patch"
OCTETS = {"Content-Type": "application/octet-stream"}


def qcow2_bytes(virtual_size: int, payload: int = 0) -> bytes:
    """A standalone qcow2 file's first cluster (version 3 header, 64 KiB clusters)
    followed by *payload* zero bytes: what the registry's probe reads."""
    header = bytearray(1 << 16)
    struct.pack_into(">4sIQIIQ", header, 0, b"QFI\xfb", 3, 0, 0, 16, virtual_size)
    return bytes(header) + b"\0" * payload


def name() -> str:
    return f"v2-{uuid.uuid4().hex[:8]}"


class Images:
    """Image API calls as the cloud's personas; remembers what it created."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.made: list[str] = []

    def create(self, persona: str = "alice", **body: Any) -> dict[str, Any]:
        body.setdefault("name", name())
        response = self.cloud.client(persona).post(IMAGES, body)
        assert response.status_code == 201, response.text
        image: dict[str, Any] = response.json()
        self.made.append(image["id"])
        return image

    def upload(self, image_id: str, data: Any, persona: str = "alice", **kw: Any) -> Any:
        headers = kw.pop("headers", OCTETS)
        return self.cloud.client(persona).put(
            f"{IMAGES}/{image_id}/file", data=data, headers=headers, **kw
        )

    def show(self, image_id: str, persona: str = "alice") -> dict[str, Any]:
        response = self.cloud.client(persona).get(f"{IMAGES}/{image_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def patch(self, image_id: str, ops: list[dict[str, Any]], persona: str = "alice") -> Any:
        return self.cloud.client(persona).request(
            "PATCH",
            f"{IMAGES}/{image_id}",
            data=json.dumps(ops),
            headers={"Content-Type": PATCH},
        )

    def names(self, persona: str, query: str = "") -> list[str]:
        response = self.cloud.client(persona).get(f"{IMAGES}{query}")
        assert response.status_code == 200, response.text
        return [image["name"] for image in response.json()["images"]]


@pytest.fixture
def images(cloud: Cloud) -> Iterator[Images]:
    made = Images(cloud)
    yield made
    admin = cloud.client("admin")
    for image_id in made.made:
        made.patch(image_id, [{"op": "replace", "path": "/protected", "value": False}], "admin")
        assert admin.delete(f"{IMAGES}/{image_id}").status_code in (204, 404)


def stored_files(cloud: Cloud) -> set[str]:
    return set(os.listdir(cloud.tmp / "images"))


def fault(response: requests.Response) -> str:
    (inner,) = response.json().values()
    return str(inner["message"])


def test_create_upload_download(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="raw", container_format="bare", os_distro="cirros")
    assert image["status"] == "queued" and image["size"] is None
    assert image["visibility"] == "shared"  # Glance's default
    assert image["owner"] == cloud.projects["alice"] and image["os_distro"] == "cirros"
    assert image["file"] == f"/v2/images/{image['id']}/file" and image["protected"] is False
    empty = cloud.client("alice").get(f"{IMAGES}/{image['id']}/file")
    assert empty.status_code == 204 and empty.content == b""

    data = os.urandom(3 << 20) + b"end"
    response = images.upload(image["id"], data)
    assert response.status_code == 204, response.text
    shown = images.show(image["id"])
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["disk_format"] == "raw" and shown["virtual_size"] == len(data)
    assert (cloud.tmp / "images" / image["id"]).read_bytes() == data

    download = cloud.client("alice").get(f"{IMAGES}/{image['id']}/file", stream=True)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-MD5"] == shown["checksum"]
    assert int(download.headers["Content-Length"]) == len(data)
    assert b"".join(download.iter_content(1 << 16)) == data

    again = images.upload(image["id"], b"more")
    assert again.status_code == 409, again.text
    assert "is active" in fault(again) and images.show(image["id"])["size"] == len(data)
    # bob does not see alice's shared image; the administrator does
    assert cloud.client("bob").get(f"{IMAGES}/{image['id']}/file").status_code == 404
    assert cloud.client("admin").get(f"{IMAGES}/{image['id']}/file").status_code == 200


def test_a_chunked_upload_of_a_qcow2(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="qcow2", container_format="bare")
    data = qcow2_bytes(1 << 30, payload=1 << 20)

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    response = images.upload(image["id"], pieces())  # no Content-Length: chunked
    assert response.status_code == 204, response.text
    shown = images.show(image["id"])
    assert (shown["status"], shown["size"], shown["virtual_size"]) == (
        "active",
        len(data),
        1 << 30,
    )


def test_content_that_does_not_match_goes_back_to_queued(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="qcow2", container_format="bare")
    before = stored_files(cloud)
    response = images.upload(image["id"], b"\0" * 70_000)
    assert response.status_code == 400, response.text
    assert "its content is raw, not the image's disk_format qcow2" in fault(response)
    assert images.show(image["id"])["status"] == "queued"
    assert stored_files(cloud) == before  # no partial file left
    backing = bytearray(qcow2_bytes(1 << 20))
    struct.pack_into(">QI", backing, 8, 512, 4)  # a backing file: not a base image
    refused = images.upload(image["id"], bytes(backing))
    assert refused.status_code == 400 and "backing file" in fault(refused)
    assert images.upload(image["id"], qcow2_bytes(1 << 20)).status_code == 204
    assert images.show(image["id"])["status"] == "active"


def test_uploads_past_max_image_size_get_413(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="raw", container_format="bare")
    CONF.set_override("max_image_size", 100_000, group="api")
    try:
        response = images.upload(image["id"], b"x" * 100_001)
        assert response.status_code == 413, response.text
        assert "larger than [api] max_image_size (100000 bytes)" in fault(response)
        assert images.show(image["id"])["status"] == "queued"
        assert not any(f.startswith(image["id"]) for f in stored_files(cloud))
        assert images.upload(image["id"], b"x" * 100_000).status_code == 204
    finally:
        CONF.clear_override("max_image_size", group="api")


def test_upload_refusals(cloud: Cloud, images: Images) -> None:
    image = images.create()  # no disk_format yet
    response = images.upload(image["id"], b"data")
    assert response.status_code == 400 and "set the image's disk_format" in fault(response)
    typed = images.upload(image["id"], b"{}", headers={"Content-Type": "application/json"})
    assert typed.status_code == 415 and "application/octet-stream" in fault(typed)
    assert images.upload(image["id"], b"data", persona="bob").status_code == 404
    public = images.create("admin", visibility="public", disk_format="raw", container_format="bare")
    denied = images.upload(public["id"], b"data", persona="alice")
    assert denied.status_code == 403, denied.text
    missing = images.upload(str(uuid.uuid4()), b"data")
    assert missing.status_code == 404


def test_create_refusals(cloud: Cloud, images: Images) -> None:
    alice = cloud.client("alice")
    cases: dict[int, list[dict[str, Any]]] = {
        403: [{"status": "active"}, {"size": 5}, {"checksum": "x"}, {"deleted": True}],
        400: [
            {"disk_format": "vmdk"},
            {"container_format": "ovf"},
            {"visibility": "everyone"},
            {"min_ram": -1},
            {"os_distro": 7},
            {"id": "not-a-uuid"},
        ],
    }
    for status, bodies in cases.items():
        for body in bodies:
            response = alice.post(IMAGES, {"name": name(), **body})
            assert response.status_code == status, (body, response.text)
            assert len(fault(response).splitlines()) == 1
    assert "read-only" in fault(alice.post(IMAGES, {"status": "active"}))
    public = alice.post(IMAGES, {"name": name(), "visibility": "public"})
    assert public.status_code == 403 and "publicize_image" in fault(public)
    foreign = alice.post(IMAGES, {"name": name(), "owner": cloud.projects["bob"]})
    assert foreign.status_code == 403
    fixed = images.create(id=str(uuid.uuid4()), visibility="community")
    duplicate = alice.post(IMAGES, {"id": fixed["id"], "name": name()})
    assert duplicate.status_code == 409, duplicate.text


def test_patch(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="raw", container_format="bare", tags=["a"])
    ops: list[dict[str, Any]] = [
        {"op": "replace", "path": "/name", "value": "v2-renamed"},
        {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
        {"op": "add", "path": "/a~1b", "value": "slash"},
        {"op": "add", "path": "/tags", "value": ["b", "c", "b"]},
        {"op": "replace", "path": "/min_ram", "value": 256},
        {"op": "replace", "path": "/visibility", "value": "private"},
    ]
    response = images.patch(image["id"], ops)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name"] == "v2-renamed" and changed["hw_disk_bus"] == "virtio"
    assert changed["a/b"] == "slash" and changed["tags"] == ["b", "c"]
    assert changed["min_ram"] == 256 and changed["visibility"] == "private"
    assert images.show(image["id"]) == changed | {"updated_at": changed["updated_at"]}
    removed = images.patch(image["id"], [{"op": "remove", "path": "/hw_disk_bus"}])
    assert removed.status_code == 200 and "hw_disk_bus" not in removed.json()

    refusals: list[tuple[int, list[dict[str, Any]], str]] = [
        (403, [{"op": "replace", "path": "/status", "value": "active"}], "read-only"),
        (403, [{"op": "remove", "path": "/name"}], "cannot be removed"),
        (409, [{"op": "remove", "path": "/nothing"}], "does not exist"),
        (409, [{"op": "replace", "path": "/nothing", "value": "x"}], "does not exist"),
        (403, [{"op": "replace", "path": "/visibility", "value": "public"}], "publicize"),
        (403, [{"op": "replace", "path": "/owner", "value": "p"}], "administrator"),
        (400, [{"op": "move", "path": "/name", "value": "x"}], "op"),
        (400, [{"op": "add", "path": "/tags/0", "value": "x"}], "one attribute"),
        (400, [{"op": "add", "path": "/min_disk", "value": "big"}], "min_disk"),
        (400, [{"op": "add", "path": "/name"}], "needs a value"),
    ]
    for status, bad, words in refusals:
        response = images.patch(image["id"], bad)
        assert response.status_code == status, (bad, response.text)
        assert words in fault(response), (bad, fault(response))
    # all or nothing: a refused operation leaves the earlier ones unapplied
    mixed = [{"op": "replace", "path": "/name", "value": "v2-x"}, refusals[0][1][0]]
    assert images.patch(image["id"], mixed).status_code == 403
    assert images.show(image["id"])["name"] == "v2-renamed"
    wrong_type = cloud.client("alice").request(
        "PATCH", f"{IMAGES}/{image['id']}", json=[{"op": "remove", "path": "/a~1b"}]
    )
    assert wrong_type.status_code == 415 and PATCH in fault(wrong_type)
    assert images.patch(image["id"], [], persona="bob").status_code == 404
    made_public = images.patch(
        image["id"], [{"op": "replace", "path": "/visibility", "value": "public"}], "admin"
    )
    assert made_public.status_code == 200 and made_public.json()["visibility"] == "public"
    assert images.patch(image["id"], [], persona="bob").status_code == 403  # seen, not his


def test_disk_format_changes_only_while_queued(cloud: Cloud, images: Images) -> None:
    image = images.create()
    set_format = [
        {"op": "add", "path": "/disk_format", "value": "raw"},
        {"op": "add", "path": "/container_format", "value": "bare"},
    ]
    assert images.patch(image["id"], set_format).status_code == 200
    assert images.upload(image["id"], b"\1" * 512).status_code == 204
    late = images.patch(image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert late.status_code == 403 and "queued" in fault(late)


def test_delete(cloud: Cloud, images: Images) -> None:
    image = images.create(disk_format="raw", container_format="bare", protected=True)
    assert images.upload(image["id"], b"\1" * 4096).status_code == 204
    stored = cloud.tmp / "images" / image["id"]
    assert stored.exists()
    alice = cloud.client("alice")
    assert cloud.client("bob").delete(f"{IMAGES}/{image['id']}").status_code == 404
    protected = alice.delete(f"{IMAGES}/{image['id']}")
    assert protected.status_code == 403 and "protected" in fault(protected)
    unprotect = [{"op": "replace", "path": "/protected", "value": False}]
    assert images.patch(image["id"], unprotect).status_code == 200

    server_id = cloud.boot("alice", imageRef=image["id"])
    in_use = alice.delete(f"{IMAGES}/{image['id']}")
    assert in_use.status_code == 409 and server_id in fault(in_use)
    assert alice.delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)

    assert alice.delete(f"{IMAGES}/{image['id']}").status_code == 204
    assert not stored.exists()
    assert alice.get(f"{IMAGES}/{image['id']}").status_code == 404
    assert alice.delete(f"{IMAGES}/{image['id']}").status_code == 404


def test_list_filters_sorting_and_paging(cloud: Cloud, images: Images) -> None:
    base = name()
    made = [
        images.create(name=f"{base}-{i}", tags=["listing", f"n{i}"], min_ram=i) for i in range(5)
    ]
    bob_community = images.create("bob", name=f"{base}-bob", visibility="community")
    newest_first = [image["name"] for image in reversed(made)]
    assert [n for n in images.names("alice", "?tag=listing")] == newest_first
    assert images.names("alice", "?tag=listing&tag=n3") == [f"{base}-3"]
    assert images.names("alice", f"?name={base}-2") == [f"{base}-2"]
    assert images.names("alice", "?tag=listing&sort=min_ram:asc") == [m["name"] for m in made]
    keyed = "?tag=listing&sort_key=name&sort_dir=asc"
    assert images.names("alice", keyed) == sorted(m["name"] for m in made)
    # other projects' community images: only when asked for
    assert f"{base}-bob" not in images.names("alice")
    assert f"{base}-bob" in images.names("alice", "?visibility=community")
    assert images.show(bob_community["id"])["visibility"] == "community"
    assert images.names("bob", "?tag=listing") == []  # alice's shared images

    pages: list[str] = []
    path = f"{IMAGES}?tag=listing&limit=2&sort_key=name&sort_dir=asc"
    while path:
        body = cloud.client("alice").get(path).json()
        pages.append(",".join(image["name"] for image in body["images"]))
        path = "/image" + body["next"] if "next" in body else ""
    assert pages == [f"{base}-0,{base}-1", f"{base}-2,{base}-3", f"{base}-4"]

    bad = cloud.client("alice").get(f"{IMAGES}?sort_key=colour")
    assert bad.status_code == 400 and "colour" in fault(bad)
    marker = cloud.client("alice").get(f"{IMAGES}?marker={uuid.uuid4()}")
    assert marker.status_code == 400


def test_servers_resolve_an_ambiguous_name_with_409(cloud: Cloud, images: Images) -> None:
    shared = name()
    for _ in range(2):
        image = images.create(name=shared, disk_format="raw", container_format="bare")
        assert images.upload(image["id"], b"\1" * 4096).status_code == 204
    body = {
        "server": {"name": "amb", "flavorRef": "m1.tiny", "imageRef": shared, "networks": "none"}
    }
    response = cloud.client("alice", "2.60").post("/v2.1/servers", body)
    assert response.status_code == 409, response.text
    assert f"2 images are named {shared}; give the image's id instead" in fault(response)
    # bob sees neither: for him the name does not exist
    assert cloud.client("bob", "2.60").post("/v2.1/servers", body).status_code == 400


def test_schemas(cloud: Cloud) -> None:
    schema = cloud.client("alice").get("/image/v2/schemas/image").json()
    assert schema["name"] == "image" and schema["additionalProperties"] == {
        "type": "string",
        "maxLength": 65535,
    }
    assert schema["properties"]["status"]["readOnly"] is True
    listing = cloud.client("alice").get("/image/v2/schemas/images").json()
    assert listing["name"] == "images"


def test_import_and_upload_store_alike(cloud: Cloud, images: Images, tmp_path: Path) -> None:
    """nubis-manage's import and the API's upload go through the same store code."""
    from nubis.core.api.image_registry import ImageAPI
    from nubis.core.context import get_admin_context

    data = qcow2_bytes(1 << 20, payload=4096)
    source = tmp_path / "same.qcow2"
    source.write_bytes(data)
    imported = ImageAPI(CONF).import_file(get_admin_context(), name(), str(source))
    images.made.append(imported.uuid)
    uploaded = images.create(disk_format="qcow2", container_format="bare")
    assert images.upload(uploaded["id"], data).status_code == 204
    shown = images.show(uploaded["id"])
    for key in ("size", "virtual_size", "checksum", "os_hash_value", "disk_format"):
        assert shown[key] == getattr(imported, key), key
