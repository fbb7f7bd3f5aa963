"""``/servers/{id}/tags`` (2.26) as Nova answers it: list, replace, remove all, one
tag's check/add/remove with Nova's statuses and Location header; the 50-tag limit and
the tag rules with one-line 400s; 409 in a vm state Nova refuses; concurrent adds; the
list filters ``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``; tags at create
(2.52); the server views; ``openstack server set/unset --tag`` and ``server list
--tags``."""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nubis.core.context import get_admin_context
from nubis.core.db import api as db
from tests.functional.api.conftest import Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml


def _message(response: requests.Response) -> str:
    """The one message of a Nova fault body."""
    (fault,) = response.json().values()
    message = str(fault["message"])
    assert "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def server(cloud: Cloud) -> Iterator[str]:
    server_id = cloud.boot("alice", name="tagged-one")
    yield server_id
    cloud.client("alice").delete(f"/v2.1/servers/{server_id}")
    cloud.wait_gone(server_id)


@pytest.fixture
def tags(cloud: Cloud, server: str) -> str:
    """The tags path of the module's server, with no tags."""
    path = f"/v2.1/servers/{server}/tags"
    assert cloud.client("alice", "2.26").delete(path).status_code == 204
    return path


def test_tag_lifecycle(cloud: Cloud, server: str, tags: str) -> None:
    alice = cloud.client("alice", "2.26")
    assert alice.get(tags).json() == {"tags": []}

    added = alice.put(f"{tags}/web")
    assert added.status_code == 201 and added.content == b""
    assert added.headers["Location"] == f"{cloud.url}/v2.1/servers/{server}/tags/web"
    again = alice.put(f"{tags}/web")
    assert again.status_code == 204 and "Location" not in again.headers
    spaced = alice.put(f"{tags}/db%20tier")
    assert spaced.status_code == 201
    assert spaced.headers["Location"].endswith(f"/servers/{server}/tags/db%20tier")
    assert alice.get(tags).json() == {"tags": ["db tier", "web"]}

    present = alice.get(f"{tags}/web")
    assert present.status_code == 204 and present.content == b""
    absent = alice.get(f"{tags}/nope")
    assert absent.status_code == 404
    assert _message(absent) == f"Server {server} has no tag 'nope'"

    replaced = alice.put(tags, {"tags": ["b", "a", "a"]})
    assert replaced.status_code == 200 and replaced.json() == {"tags": ["a", "b"]}
    assert alice.get(f"/v2.1/servers/{server}").json()["server"]["tags"] == ["a", "b"]

    assert alice.delete(f"{tags}/a").status_code == 204
    gone = alice.delete(f"{tags}/a")
    assert gone.status_code == 404 and _message(gone) == f"Instance {server} has no tag 'a'"
    assert alice.get(tags).json() == {"tags": ["b"]}
    deleted = alice.delete(tags)
    assert deleted.status_code == 204 and deleted.content == b""
    assert alice.get(tags).json() == {"tags": []}

    # an administrator may change anyone's; a reader of another project sees nothing
    admin = cloud.client("admin", "2.26")
    assert admin.put(f"{tags}/by-admin").status_code == 201
    assert admin.get(tags).json() == {"tags": ["by-admin"]}
    bob = cloud.client("bob", "2.26")
    for method, path in (("GET", tags), ("PUT", f"{tags}/x"), ("DELETE", tags)):
        other = bob.request(method, path)
        assert other.status_code == 404, (method, other.text)
    assert alice.get(tags).json() == {"tags": ["by-admin"]}


def test_tags_need_microversion_2_26(cloud: Cloud, server: str, tags: str) -> None:
    old = cloud.client("alice", "2.25")
    for method, path in (
        ("GET", tags),
        ("PUT", tags),
        ("DELETE", tags),
        ("GET", f"{tags}/a"),
        ("PUT", f"{tags}/a"),
        ("DELETE", f"{tags}/a"),
    ):
        response = old.request(method, path, {"tags": []} if method == "PUT" else None)
        assert response.status_code == 404, (method, path, response.text)
        assert "not available at microversion 2.25" in _message(response)
    # the server view has no tags before 2.26, and the real ones from 2.26
    cloud.client("alice", "2.26").put(f"{tags}/seen")
    assert "tags" not in old.get(f"/v2.1/servers/{server}").json()["server"]
    assert cloud.client("alice", "2.26").get(f"/v2.1/servers/{server}").json()["server"][
        "tags"
    ] == ["seen"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["ok", "a/b"]}, "tags[1]"),
        ({"tags": ["a,b"]}, "tags[0]"),
        ({"tags": [""]}, "tags[0]"),
        ({"tags": ["x" * 61]}, "tags[0]"),
        ({"tags": [7]}, "tags[0]"),
        ({"tags": ["nul\u0000"]}, "tags[0]"),
        ({"tags": "web"}, "tags"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({}, "tags"),
        ({"tags": [], "extra": 1}, "extra"),
        (None, "body"),
    ],
)
def test_bad_bodies_of_a_replace(cloud: Cloud, tags: str, body: Any, field: str) -> None:
    alice = cloud.client("alice", "2.26")
    response = alice.put(tags, body)
    assert response.status_code == 400, response.text
    assert f"Invalid input for field/attribute {field}" in _message(response)
    assert alice.get(tags).json() == {"tags": []}


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("a,b", "it contains '/' or ','"),
        ("x" * 61, "it is 61 characters long, more than 60"),
        ("nul%00", "it contains a NUL character"),
    ],
)
def test_bad_tags_in_the_path(cloud: Cloud, tags: str, tag: str, why: str) -> None:
    alice = cloud.client("alice", "2.26")
    response = alice.put(f"{tags}/{tag}")
    assert response.status_code == 400
    shown = tag.replace("%00", "\\x00")  # a control character is shown escaped
    assert _message(response) == (
        f"Tag '{shown}' is invalid. It must be a non empty string without characters '/' "
        f"and ','. Validation error message: {why}."
    )
    # such a tag cannot be there: checking or removing it is a 404
    assert alice.get(f"{tags}/{tag}").status_code == 404
    assert alice.delete(f"{tags}/{tag}").status_code == 404


def test_add_takes_no_body(cloud: Cloud, tags: str) -> None:
    response = cloud.client("alice", "2.26").put(f"{tags}/web", {"tag": "web"})
    assert response.status_code == 400
    assert "Invalid input for field/attribute body" in _message(response)
    assert "is not of type 'null'" in _message(response)


def test_at_most_fifty_tags(cloud: Cloud, tags: str) -> None:
    alice = cloud.client("alice", "2.26")
    fifty = [f"t{i:02d}" for i in range(50)]
    assert alice.put(tags, {"tags": fifty}).json() == {"tags": fifty}
    over = alice.put(f"{tags}/one-more")
    assert over.status_code == 400
    assert _message(over) == "The number of tags exceeded the per-server limit 50"
    # Nova checks the count before looking for the tag
    assert alice.put(f"{tags}/t00").status_code == 400
    assert alice.delete(f"{tags}/t00").status_code == 204
    assert alice.put(f"{tags}/one-more").status_code == 201


def test_concurrent_adds_stop_at_fifty(cloud: Cloud, tags: str) -> None:
    alice = cloud.client("alice", "2.26")
    assert alice.put(tags, {"tags": [f"t{i:02d}" for i in range(45)]}).status_code == 200

    def add(tag: str) -> int:
        return cloud.client("alice", "2.26").put(f"{tags}/{tag}").status_code

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(add, [f"new{i}" for i in range(10)]))
    assert sorted(statuses) == [201] * 5 + [400] * 5
    assert len(alice.get(tags).json()["tags"]) == 50


def test_changes_are_refused_in_a_vm_state_nova_refuses(
    cloud: Cloud, server: str, tags: str
) -> None:
    alice = cloud.client("alice", "2.26")
    assert alice.put(f"{tags}/kept").status_code == 201
    admin = cloud.client("admin", "2.26")
    action = f"/v2.1/servers/{server}/action"
    assert admin.post(action, {"os-resetState": {"state": "error"}}).status_code == 202
    try:
        for method, path, body, verb in (
            ("PUT", f"{tags}/x", None, "update tag"),
            ("PUT", f"{tags}/x,y", None, "update tag"),  # the state is checked first
            ("PUT", tags, {"tags": ["x"]}, "update tags"),
            ("DELETE", f"{tags}/kept", None, "delete tag"),
            ("DELETE", tags, None, "delete tags"),
        ):
            refused = alice.request(method, path, body)
            assert refused.status_code == 409, (method, path, refused.text)
            assert _message(refused) == (
                f"Cannot '{verb}' instance {server} while it is in vm_state error"
            )
        # reading is fine in any state
        assert alice.get(tags).json() == {"tags": ["kept"]}
        assert alice.get(f"{tags}/kept").status_code == 204
    finally:
        assert admin.post(action, {"os-resetState": {"state": "active"}}).status_code == 202
    assert alice.put(f"{tags}/x").status_code == 201


@pytest.fixture(scope="module")
def three(cloud: Cloud) -> Iterator[dict[str, str]]:
    """Servers of alice's named filter-{ab,a,none}, with tags a+b, a, none."""
    alice = cloud.client("alice", "2.26")
    made = {}
    for name, tags in (("ab", ["a", "b"]), ("a", ["a"]), ("none", [])):
        made[name] = cloud.boot("alice", name=f"filter-{name}")
        put = alice.put(f"/v2.1/servers/{made[name]}/tags", {"tags": tags})
        assert put.status_code == 200, put.text
    yield made
    for server_id in made.values():
        alice.delete(f"/v2.1/servers/{server_id}")
    for server_id in made.values():
        cloud.wait_gone(server_id)


def test_list_filters(cloud: Cloud, three: dict[str, str]) -> None:
    by_id = {server_id: name for name, server_id in three.items()}

    def listed(query: str, version: str = "2.26", detail: bool = False) -> list[str]:
        path = "/v2.1/servers" + ("/detail" if detail else "")
        response = cloud.client("alice", version).get(f"{path}?name=^filter-&{query}")
        assert response.status_code == 200, response.text
        return sorted(by_id[s["id"]] for s in response.json()["servers"])

    assert listed("tags=a,b") == ["ab"]
    assert listed("tags=a") == ["a", "ab"]
    assert listed("tags=a,nope") == []
    assert listed("tags-any=b,nope") == ["ab"]
    assert listed("tags-any=a,b") == ["a", "ab"]
    assert listed("not-tags=a,b") == ["a", "none"]
    assert listed("not-tags-any=b") == ["a", "none"]
    assert listed("not-tags-any=a,b") == ["none"]
    assert listed("tags=a&not-tags-any=b") == ["a"]
    assert listed("tags=a,b", detail=True) == ["ab"]
    assert listed("tags=") == []  # an empty tag, which no server has, as in Nova
    # before 2.26 the filters are ignored, as Nova ignores unknown parameters
    assert listed("tags=a,b", version="2.25") == ["a", "ab", "none"]
    # another project's servers are not found by their tags
    bob = cloud.client("bob", "2.26").get("/v2.1/servers?tags=a").json()["servers"]
    assert not {s["id"] for s in bob} & set(by_id)
    too_long = cloud.client("alice", "2.26").get("/v2.1/servers?tags=" + "x" * 4097)
    assert too_long.status_code == 400 and "query parameter tags" in _message(too_long)


def test_views_show_every_servers_tags(cloud: Cloud, three: dict[str, str]) -> None:
    alice = cloud.client("alice", "2.26")
    detail = alice.get("/v2.1/servers/detail?name=^filter-").json()["servers"]
    assert {s["name"]: s["tags"] for s in detail} == {
        "filter-ab": ["a", "b"],
        "filter-a": ["a"],
        "filter-none": [],
    }
    shown = alice.get(f"/v2.1/servers/{three['ab']}").json()["server"]
    assert shown["tags"] == ["a", "b"]
    updated = alice.put(f"/v2.1/servers/{three['ab']}", {"server": {"name": "filter-ab"}})
    assert updated.json()["server"]["tags"] == ["a", "b"]
    old = cloud.client("alice", "2.25").get("/v2.1/servers/detail?name=^filter-").json()
    assert all("tags" not in s for s in old["servers"])
    # the summary list has no tags, as in Nova
    assert all("tags" not in s for s in alice.get("/v2.1/servers").json()["servers"])


def _create_body(cloud: Cloud, name: str, **server: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "flavorRef": cloud.flavor_id,
        "imageRef": cloud.image_id,
        "networks": "none",
    }
    return {"server": {**body, **server}}


def test_create_with_tags(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.52")
    name = f"born-tagged-{uuid.uuid4().hex[:6]}"
    made = alice.post("/v2.1/servers", _create_body(cloud, name, tags=["x", "y", "x"], max_count=2))
    assert made.status_code == 202, made.text
    ids: list[str] = []
    try:
        servers = alice.get(f"/v2.1/servers/detail?name=^{name}").json()["servers"]
        ids = [view["id"] for view in servers]
        assert len(servers) == 2
        for view in servers:
            assert view["tags"] == ["x", "y"]
            cloud.wait_status(view["id"], "ACTIVE")
        assert alice.get(f"/v2.1/servers?name=^{name}&tags=x,y").json()["servers"]
    finally:
        for view in alice.get(f"/v2.1/servers?name=^{name}").json()["servers"]:
            alice.delete(f"/v2.1/servers/{view['id']}")
            cloud.wait_gone(view["id"])
    # a deleted server's tags are gone with it
    assert db.instance_tag_get_by_instance_uuids(get_admin_context(), ids) == {i: [] for i in ids}

    early = cloud.client("alice", "2.51").post(
        "/v2.1/servers", _create_body(cloud, "never", tags=["x"])
    )
    assert early.status_code == 400
    assert _message(early).startswith(
        "Invalid input for field/attribute server.tags: not an accepted attribute"
    )
    for tags, field in (
        ([f"t{i}" for i in range(51)], "server.tags"),
        (["a/b"], "server.tags[0]"),
        ([""], "server.tags[0]"),
    ):
        refused = alice.post("/v2.1/servers", _create_body(cloud, "never", tags=tags))
        assert refused.status_code == 400
        assert f"Invalid input for field/attribute {field}" in _message(refused)
    assert alice.get("/v2.1/servers?name=^never$").json()["servers"] == []


@pytest.fixture(scope="module")
def cli(cloud: Cloud, tmp_path_factory: Any) -> CLI:
    path: Path = tmp_path_factory.mktemp("tags-cli") / "clouds.yaml"
    return CLI(write_clouds_yaml(path, cloud.url))


def test_openstack_cli_tags(cloud: Cloud, server: str, tags: str, cli: CLI) -> None:
    version = ("--os-compute-api-version", "2.60")
    cli.run(
        "alice", *version, "server", "set", "--tag", "blue", "--tag", "green", server, parse=False
    )
    shown = cli.run("alice", *version, "server", "show", server)
    assert sorted(shown["tags"]) == ["blue", "green"]
    listed = cli.run("alice", *version, "server", "list", "--tags", "blue", "--tags", "green")
    assert [s["ID"] for s in listed] == [server]
    assert cli.run("alice", *version, "server", "list", "--tags", "red") == []
    unlisted = cli.run("alice", *version, "server", "list", "--not-tags", "blue")
    assert server not in {s["ID"] for s in unlisted}

    cli.run("alice", *version, "server", "unset", "--tag", "blue", server, parse=False)
    assert cloud.client("alice", "2.26").get(tags).json() == {"tags": ["green"]}
    bad = cli.run("alice", *version, "server", "set", "--tag", "a,b", server, parse=False, expect=1)
    assert "Tag 'a,b' is invalid" in bad
    cli.run("alice", *version, "server", "unset", "--all-tags", server, parse=False)
    assert cloud.client("alice", "2.26").get(tags).json() == {"tags": []}
