"""Flavor extra specs (``/flavors/{id}/os-extra_specs``), flavor access for private
flavors (``os-flavor-access``, ``addTenantAccess``/``removeTenantAccess``) and the
flavor description update (2.55), as Nova answers them, through the REST API and the
``openstack`` CLI."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.api.conftest import Client, Cloud
from tests.functional.api.test_clients import CLI, write_clouds_yaml


@pytest.fixture
def flavor(cloud: Cloud) -> Iterator[str]:
    """A fresh public flavor of the admin's, deleted afterwards."""
    yield from _flavor(cloud, public=True)


@pytest.fixture
def private_flavor(cloud: Cloud) -> Iterator[str]:
    """A fresh private flavor, deleted afterwards."""
    yield from _flavor(cloud, public=False)


def _flavor(cloud: Cloud, public: bool) -> Iterator[str]:
    admin = cloud.client("admin")
    flavor_id = f"fx-{uuid.uuid4().hex[:8]}"
    body = {
        "name": flavor_id,
        "id": flavor_id,
        "ram": 64,
        "vcpus": 1,
        "disk": 0,
        "os-flavor-access:is_public": public,
    }
    made = admin.post("/v2.1/flavors", {"flavor": body})
    assert made.status_code == 200, made.text
    yield flavor_id
    cloud.delete_all_servers()
    admin.delete(f"/v2.1/flavors/{flavor_id}")


def _specs(client: Client, flavor_id: str) -> dict[str, str]:
    response = client.get(f"/v2.1/flavors/{flavor_id}/os-extra_specs")
    assert response.status_code == 200, response.text
    return dict(response.json()["extra_specs"])


def test_extra_specs_lifecycle(cloud: Cloud, flavor: str) -> None:
    admin, alice = cloud.client("admin"), cloud.client("alice")
    specs = f"/v2.1/flavors/{flavor}/os-extra_specs"
    assert _specs(alice, flavor) == {}

    added = admin.post(specs, {"extra_specs": {"hw:cpu_policy": "shared", "quota:cpu_shares": 8}})
    assert added.status_code == 200, added.text
    # the body comes back as given; later reads give every value as text
    assert added.json() == {"extra_specs": {"hw:cpu_policy": "shared", "quota:cpu_shares": 8}}
    assert _specs(alice, flavor) == {"hw:cpu_policy": "shared", "quota:cpu_shares": "8"}

    merged = admin.post(specs, {"extra_specs": {"hw:mem_page_size": "large"}})
    assert merged.status_code == 200, merged.text
    assert set(_specs(admin, flavor)) == {"hw:cpu_policy", "quota:cpu_shares", "hw:mem_page_size"}

    one = alice.get(f"{specs}/hw:cpu_policy")
    assert one.status_code == 200 and one.json() == {"hw:cpu_policy": "shared"}
    changed = admin.put(f"{specs}/hw:cpu_policy", {"hw:cpu_policy": "dedicated"})
    assert changed.status_code == 200 and changed.json() == {"hw:cpu_policy": "dedicated"}
    assert _specs(alice, flavor)["hw:cpu_policy"] == "dedicated"

    deleted = admin.delete(f"{specs}/hw:cpu_policy")
    assert deleted.status_code == 200, deleted.text
    assert "hw:cpu_policy" not in _specs(admin, flavor)
    missing = alice.get(f"{specs}/hw:cpu_policy")
    assert missing.status_code == 404
    assert "has no extra specs with key hw:cpu_policy" in missing.text
    assert admin.delete(f"{specs}/hw:cpu_policy").status_code == 404

    # members read, only administrators write
    assert alice.post(specs, {"extra_specs": {"a": "b"}}).status_code == 403
    assert alice.put(f"{specs}/a", {"a": "b"}).status_code == 403
    assert alice.delete(f"{specs}/hw:mem_page_size").status_code == 403


@pytest.mark.parametrize(
    ("method", "suffix", "body", "says"),
    [
        ("PUT", "/k1", {"k2": "v"}, "Request body and URI mismatch"),
        ("PUT", "/k1", {"k1": "v", "k2": "v"}, "k1"),
        ("PUT", "/k1", {}, "should be non-empty"),
        ("POST", "", {"extra_specs": {"bad/key": "v"}}, "bad/key"),
        ("POST", "", {"extra_specs": {"k": "x" * 256}}, "k"),
        ("POST", "", {"extra_specs": {"k": 10**300}}, "longer than 255"),
        ("POST", "", {"extra_specs": {"k": ["list"]}}, "k"),
        ("POST", "", {"specs": {}}, "extra_specs"),
    ],
)
def test_bad_extra_specs_are_refused_with_one_line(
    cloud: Cloud, flavor: str, method: str, suffix: str, body: object, says: str
) -> None:
    admin = cloud.client("admin")
    response = admin.request(method, f"/v2.1/flavors/{flavor}/os-extra_specs{suffix}", body)
    assert response.status_code == 400, response.text
    message = response.json()["badRequest"]["message"]
    assert says in message and "\n" not in message
    assert _specs(admin, flavor) == {}


def test_extra_specs_of_a_missing_flavor_are_404(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    path = "/v2.1/flavors/no-such-flavor/os-extra_specs"
    assert admin.get(path).status_code == 404
    assert admin.post(path, {"extra_specs": {"k": "v"}}).status_code == 404
    assert admin.put(f"{path}/k", {"k": "v"}).status_code == 404
    assert admin.delete(f"{path}/k").status_code == 404


def test_concurrent_extra_spec_changes_keep_each_others_keys(cloud: Cloud, flavor: str) -> None:
    admin = cloud.client("admin")
    failures: list[str] = []

    def add(index: int) -> None:
        body = {"extra_specs": {f"key{index}": str(index)}}
        response = admin.post(f"/v2.1/flavors/{flavor}/os-extra_specs", body)
        if response.status_code != 200:
            failures.append(response.text)

    threads = [threading.Thread(target=add, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _specs(admin, flavor) == {f"key{index}": str(index) for index in range(8)}


def _flavor_ids(client: Client, query: str = "") -> set[str]:
    response = client.get(f"/v2.1/flavors{query}")
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["flavors"]}


def test_private_flavor_access(cloud: Cloud, private_flavor: str) -> None:
    admin, alice, bob = cloud.client("admin"), cloud.client("alice"), cloud.client("bob")
    access = f"/v2.1/flavors/{private_flavor}/os-flavor-access"
    action = f"/v2.1/flavors/{private_flavor}/action"
    project_a = cloud.projects["alice"]

    # nobody has access: members neither list, show nor boot it
    assert admin.get(access).json() == {"flavor_access": []}
    assert private_flavor not in _flavor_ids(alice)
    assert alice.get(f"/v2.1/flavors/{private_flavor}").status_code == 404
    refused = alice.post(
        "/v2.1/servers",
        {"server": {"name": "p", "imageRef": cloud.image_id, "flavorRef": private_flavor}},
    )
    assert refused.status_code == 400 and "flavorRef" in refused.text
    # administrators see it with is_public=false or none
    assert private_flavor in _flavor_ids(admin, "?is_public=false")
    assert private_flavor in _flavor_ids(admin, "?is_public=none")
    assert private_flavor not in _flavor_ids(admin)

    granted = admin.post(action, {"addTenantAccess": {"tenant": project_a}})
    assert granted.status_code == 200, granted.text
    assert granted.json() == {
        "flavor_access": [{"flavor_id": private_flavor, "tenant_id": project_a}]
    }
    again = admin.post(action, {"addTenantAccess": {"tenant": project_a}})
    assert again.status_code == 409 and "already exists" in again.text

    # alice's project now lists, shows and boots it; bob's still does not
    assert private_flavor in _flavor_ids(alice)
    shown = alice.get(f"/v2.1/flavors/{private_flavor}")
    assert shown.status_code == 200
    assert shown.json()["flavor"]["os-flavor-access:is_public"] is False
    assert private_flavor not in _flavor_ids(bob)
    assert bob.get(f"/v2.1/flavors/{private_flavor}").status_code == 404
    server = cloud.boot("alice", name="on-private", flavorRef=private_flavor)
    cloud.wait_status(server, "ACTIVE")

    removed = admin.post(action, {"removeTenantAccess": {"tenant": project_a}})
    assert removed.status_code == 200 and removed.json() == {"flavor_access": []}
    assert admin.post(action, {"removeTenantAccess": {"tenant": project_a}}).status_code == 404
    assert private_flavor not in _flavor_ids(alice)
    # the server made while alice had access is left alone and still shows its flavor
    assert cloud.server(server)["flavor"]["original_name"] == private_flavor

    # only administrators manage access
    assert alice.get(access).status_code == 403
    assert alice.post(action, {"addTenantAccess": {"tenant": project_a}}).status_code == 403


def test_public_flavors_have_no_access_list(cloud: Cloud, flavor: str) -> None:
    admin = cloud.client("admin", "2.7")
    listed = admin.get(f"/v2.1/flavors/{flavor}/os-flavor-access")
    assert listed.status_code == 404
    assert "not available for public flavors" in listed.text
    body = {"addTenantAccess": {"tenant": cloud.projects["alice"]}}
    assert admin.post(f"/v2.1/flavors/{flavor}/action", body).status_code == 409
    # before 2.7 Nova records it anyway
    old = cloud.client("admin", "2.6").post(f"/v2.1/flavors/{flavor}/action", body)
    assert old.status_code == 200, old.text
    bad = admin.post(f"/v2.1/flavors/{flavor}/action", {"addTenantAccess": {}})
    assert bad.status_code == 400 and "tenant" in bad.json()["badRequest"]["message"]


def test_deleting_a_flavor_takes_its_specs_and_access_along(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    flavor_id = f"fx-{uuid.uuid4().hex[:8]}"
    body = {"name": flavor_id, "id": flavor_id, "ram": 64, "vcpus": 1, "disk": 0}
    for public in (False, True):
        body["os-flavor-access:is_public"] = public
        assert admin.post("/v2.1/flavors", {"flavor": body}).status_code == 200
        specs = {"extra_specs": {"k": "v"}}
        assert admin.post(f"/v2.1/flavors/{flavor_id}/os-extra_specs", specs).status_code == 200
        if not public:
            grant = {"addTenantAccess": {"tenant": "p"}}
            assert admin.post(f"/v2.1/flavors/{flavor_id}/action", grant).status_code == 200
        assert admin.delete(f"/v2.1/flavors/{flavor_id}").status_code == 202
        # the same id again starts with nothing
    recreated = admin.post("/v2.1/flavors", {"flavor": body})
    assert recreated.status_code == 200
    assert _specs(admin, flavor_id) == {}
    admin.delete(f"/v2.1/flavors/{flavor_id}")


def test_flavor_description_update(cloud: Cloud, flavor: str) -> None:
    admin = cloud.client("admin", "2.55")
    changed = admin.put(f"/v2.1/flavors/{flavor}", {"flavor": {"description": "small one"}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["flavor"]["description"] == "small one"
    assert admin.get(f"/v2.1/flavors/{flavor}").json()["flavor"]["description"] == "small one"
    cleared = admin.put(f"/v2.1/flavors/{flavor}", {"flavor": {"description": None}})
    assert cleared.status_code == 200 and cleared.json()["flavor"]["description"] is None
    ram = admin.put(f"/v2.1/flavors/{flavor}", {"flavor": {"description": "x", "ram": 128}})
    assert ram.status_code == 400 and "ram" in ram.text
    older = cloud.client("admin", "2.54").put(
        f"/v2.1/flavors/{flavor}", {"flavor": {"description": "x"}}
    )
    assert older.status_code in (404, 405), older.text
    member = cloud.client("alice", "2.55").put(
        f"/v2.1/flavors/{flavor}", {"flavor": {"description": "x"}}
    )
    assert member.status_code == 403


def test_openstack_flavor_commands(cloud: Cloud, tmp_path: Path) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    name = f"cli-fx-{uuid.uuid4().hex[:6]}"
    project_a = cloud.projects["alice"]
    created = cli.run(
        "admin",
        "flavor",
        "create",
        "--ram", "64", "--vcpus", "1", "--disk", "0",
        "--private",
        "--project", project_a,
        "--property", "hw:cpu_policy=shared",
        name,
    )  # fmt: skip
    assert created["os-flavor-access:is_public"] is False
    try:
        shown = cli.run("alice", "flavor", "show", name)
        assert shown["properties"] == {"hw:cpu_policy": "shared"}
        assert name in {f["Name"] for f in cli.run("alice", "flavor", "list", "--all")}
        assert name not in {f["Name"] for f in cli.run("bob", "flavor", "list", "--all")}

        cli.run("admin", "flavor", "set", "--property", "hw:mem_page_size=large", name, parse=False)
        cli.run("admin", "flavor", "unset", "--property", "hw:cpu_policy", name, parse=False)
        assert cli.run("admin", "flavor", "show", name)["properties"] == {
            "hw:mem_page_size": "large"
        }
        cli.run("admin", "flavor", "set", "--project", cloud.projects["bob"], name, parse=False)
        assert name in {f["Name"] for f in cli.run("bob", "flavor", "list", "--all")}
        access = cli.run("admin", "flavor", "show", name)["access_project_ids"]
        assert sorted(access) == sorted([project_a, cloud.projects["bob"]])
        cli.run("admin", "flavor", "unset", "--project", project_a, name, parse=False)
        assert name not in {f["Name"] for f in cli.run("alice", "flavor", "list", "--all")}
    finally:
        cli.run("admin", "flavor", "delete", name, parse=False)
