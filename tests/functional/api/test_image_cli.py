"""The ``openstack image`` commands of python-openstackclient against nubis-api's Image
API, one process per command as a user runs them (the helpers of test_clients):
create with ``--file`` (qcow2 and raw), list, show, save, set (name, properties,
private/public), delete. Images made here are named ``cli-img-...``."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.api.conftest import Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml
from tests.functional.api.test_images_v2 import qcow2_bytes


@pytest.fixture(scope="module")
def cli(cloud: Cloud, tmp_path_factory: Any) -> Iterator[CLI]:
    clouds = write_clouds_yaml(tmp_path_factory.mktemp("image-cli") / "clouds.yaml", cloud.url)
    runner = CLI(clouds)
    yield runner
    admin = cloud.client("admin")
    leftovers = admin.get("/image/v2/images?limit=1000").json()["images"]
    for image in leftovers:
        if str(image.get("name") or "").startswith("cli-img-"):
            admin.delete(f"/image/v2/images/{image['id']}")


def test_image_lifecycle_with_the_cli(cloud: Cloud, cli: CLI, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    qcow2, raw = f"cli-img-{tag}-q", f"cli-img-{tag}-r"
    qcow2_file = tmp_path / "disk.qcow2"
    qcow2_file.write_bytes(qcow2_bytes(1 << 30, payload=300_000))
    raw_file = tmp_path / "disk.raw"
    raw_file.write_bytes(os.urandom(1 << 20))

    made = cli.run(
        "alice", "image", "create", "--file", str(qcow2_file), "--disk-format", "qcow2", qcow2
    )
    assert made["status"] == "active" and made["disk_format"] == "qcow2"
    assert made["size"] == qcow2_file.stat().st_size
    assert (
        made["checksum"] == hashlib.md5(qcow2_file.read_bytes(), usedforsecurity=False).hexdigest()
    )
    made_raw = cli.run(
        "alice", "image", "create", "--file", str(raw_file), "--disk-format", "raw", raw
    )
    assert made_raw["status"] == "active" and made_raw["size"] == 1 << 20

    listed = {image["Name"]: image for image in cli.run("alice", "image", "list")}
    assert listed[qcow2]["Status"] == "active" and raw in listed and "tiny" in listed
    assert qcow2 not in {image["Name"] for image in cli.run("bob", "image", "list")}

    shown = cli.run("alice", "image", "show", qcow2)
    assert shown["id"] == made["id"] and shown["virtual_size"] == 1 << 30
    assert shown["owner"] == cloud.projects["alice"]

    saved = tmp_path / "saved.qcow2"
    cli.run("alice", "image", "save", "--file", str(saved), qcow2, parse=False)
    assert saved.read_bytes() == qcow2_file.read_bytes()

    renamed = f"cli-img-{tag}-renamed"
    cli.run(
        "alice",
        "image",
        "set",
        "--name",
        renamed,
        "--property",
        "os_distro=cirros",
        "--property",
        "hw_disk_bus=virtio",
        "--private",
        qcow2,
        parse=False,
    )
    shown = cli.run("alice", "image", "show", renamed)
    assert shown["visibility"] == "private"
    assert shown["properties"]["os_distro"] == "cirros"
    assert shown["properties"]["hw_disk_bus"] == "virtio"
    refused = cli.run("alice", "image", "set", "--public", renamed, parse=False, expect=1)
    assert "403" in refused or "publicize" in refused
    cli.run("admin", "image", "set", "--public", made["id"], parse=False)
    assert cli.run("bob", "image", "show", renamed)["visibility"] == "public"

    cli.run("alice", "image", "delete", renamed, raw, parse=False)
    names = {image["Name"] for image in cli.run("alice", "image", "list")}
    assert renamed not in names and raw not in names
    assert not (cloud.tmp / "images" / made["id"]).exists()


def test_tags_protection_and_list_filters_with_the_cli(
    cloud: Cloud, cli: CLI, tmp_path: Path
) -> None:
    image_name = f"cli-img-{uuid.uuid4().hex[:6]}"
    data = tmp_path / "d.raw"
    data.write_bytes(b"\1" * 65536)
    made = cli.run(
        "alice",
        "image",
        "create",
        "--file",
        str(data),
        "--disk-format",
        "raw",
        "--tag",
        "gold",
        "--property",
        "os_distro=debian",
        "--min-ram",
        "128",
        "--protected",
        image_name,
    )
    assert made["protected"] is True and made["min_ram"] == 128 and made["tags"] == ["gold"]
    cli.run("alice", "image", "set", "--tag", "silver", "--min-disk", "2", image_name, parse=False)
    cli.run("alice", "image", "unset", "--property", "os_distro", image_name, parse=False)
    shown = cli.run("alice", "image", "show", image_name)
    assert sorted(shown["tags"]) == ["gold", "silver"] and shown["min_disk"] == 2
    assert "os_distro" not in shown.get("properties", {})
    tagged = cli.run("alice", "image", "list", "--tag", "silver")
    assert [image["Name"] for image in tagged] == [image_name]
    assert cli.run("alice", "image", "list", "--name", image_name)[0]["ID"] == made["id"]
    refused = cli.run("alice", "image", "delete", image_name, parse=False, expect=1)
    assert "protected" in refused
    cli.run("alice", "image", "set", "--unprotected", image_name, parse=False)
    cli.run("alice", "image", "delete", image_name, parse=False)
    assert cli.run("alice", "image", "list", "--name", image_name) == []
