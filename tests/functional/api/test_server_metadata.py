"""``/servers/{id}/metadata`` and ``PUT /servers/{id}`` as Nova answers them: list,
replace, merge, one key's show/set/delete, the per-server limit, refusals while busy;
rename, description (2.19) and access addresses; a create with ``key_name``,
``description``, ``accessIPv4``/``accessIPv6`` and ``return_reservation_id``; a
server's (empty) addresses and password."""

from __future__ import annotations

import concurrent.futures

import pytest

from nubis.core import objects
from nubis.core.context import get_admin_context
from tests.functional.api.conftest import Cloud


@pytest.fixture
def server(cloud: Cloud, flags):  # type: ignore[no-untyped-def]
    flags(group="quota", metadata_items=20)
    server_id = cloud.boot("alice", name="with-metadata", metadata={"a": "1"})
    yield server_id
    cloud.client("alice").delete(f"/v2.1/servers/{server_id}")
    cloud.wait_gone(server_id)


def test_metadata_items(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice")
    path = f"/v2.1/servers/{server}/metadata"
    assert alice.get(path).json() == {"metadata": {"a": "1"}}
    merged = alice.post(path, {"metadata": {"b": "2"}})
    assert merged.status_code == 200 and merged.json() == {"metadata": {"a": "1", "b": "2"}}
    replaced = alice.put(path, {"metadata": {"c": "3"}})
    assert replaced.json() == {"metadata": {"c": "3"}}
    assert alice.put(f"{path}/d", {"meta": {"d": "4"}}).json() == {"meta": {"d": "4"}}
    assert alice.get(f"{path}/d").json() == {"meta": {"d": "4"}}
    assert alice.delete(f"{path}/c").status_code == 204
    assert alice.get(path).json() == {"metadata": {"d": "4"}}
    assert cloud.server(server)["metadata"] == {"d": "4"}

    missing = alice.get(f"{path}/nope")
    assert missing.status_code == 404 and "Metadata item was not found" in missing.text
    assert alice.delete(f"{path}/nope").status_code == 404
    mismatch = alice.put(f"{path}/x", {"meta": {"y": "1"}})
    assert mismatch.status_code == 400 and "Request body and URI mismatch" in mismatch.text
    two = alice.put(f"{path}/x", {"meta": {"x": "1", "y": "2"}})
    assert two.status_code == 400
    blank = alice.post(path, {"metadata": {"": "v"}})
    assert blank.status_code == 400 and "metadata" in blank.text
    too_long = alice.post(path, {"metadata": {"k": "v" * 256}})
    assert too_long.status_code == 400
    over = alice.post(path, {"metadata": {f"k{i}": "v" for i in range(20)}})
    assert over.status_code == 403 and "at most 20" in over.text
    assert cloud.client("bob").get(path).status_code == 404


def test_concurrent_changes_keep_every_key(cloud: Cloud, server: str) -> None:
    path = f"/v2.1/servers/{server}/metadata"
    keys = [f"k{i}" for i in range(12)]
    with concurrent.futures.ThreadPoolExecutor(len(keys)) as pool:
        answers = list(
            pool.map(lambda key: cloud.client("alice").post(path, {"metadata": {key: "v"}}), keys)
        )
    assert all(answer.status_code == 200 for answer in answers)
    assert set(keys) <= set(cloud.client("alice").get(path).json()["metadata"])


def test_metadata_is_refused_while_the_server_is_busy(cloud: Cloud, server: str) -> None:
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    instance.task_state = "powering-off"
    instance.save()
    try:
        busy = cloud.client("alice").post(f"/v2.1/servers/{server}/metadata", {"metadata": {}})
        assert busy.status_code == 409 and "no task running" in busy.text
    finally:
        instance.task_state = None
        instance.save()


def test_update_a_server(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice", "2.19")
    changed = alice.put(
        f"/v2.1/servers/{server}",
        {"server": {"name": "renamed", "description": "mine", "accessIPv4": "192.0.2.7"}},
    )
    assert changed.status_code == 200, changed.text
    view = changed.json()["server"]
    assert (view["name"], view["description"], view["accessIPv4"]) == (
        "renamed",
        "mine",
        "192.0.2.7",
    )
    assert cloud.server(server)["name"] == "renamed"
    # as Nova's before 2.75: the basic view, without the extended attributes
    assert "OS-EXT-STS:vm_state" not in view and "key_name" not in view
    assert {"id", "status", "flavor", "image", "links"} <= set(view)
    early = cloud.client("alice", "2.18").put(
        f"/v2.1/servers/{server}", {"server": {"description": "x"}}
    )
    assert early.status_code == 400 and "description" in early.text
    bad_ip = alice.put(f"/v2.1/servers/{server}", {"server": {"accessIPv6": "not-an-ip"}})
    assert bad_ip.status_code == 400 and "accessIPv6" in bad_ip.text
    other = cloud.client("bob").put(f"/v2.1/servers/{server}", {"server": {"name": "x"}})
    assert other.status_code == 404


def test_create_with_key_description_addresses_and_reservation(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.19")
    assert alice.post("/v2.1/os-keypairs", {"keypair": {"name": "boot-key"}}).status_code == 201
    body = {
        "server": {
            "name": "fully-described",
            "flavorRef": cloud.flavor_id,
            "imageRef": cloud.image_id,
            "key_name": "boot-key",
            "description": "a server",
            "accessIPv4": "192.0.2.1",
            "accessIPv6": "2001:0db8:0000::0001",
            "min_count": 2,
            "return_reservation_id": True,
        }
    }
    try:
        made = alice.post("/v2.1/servers", body)
        assert made.status_code == 202, made.text
        reservation = made.json()["reservation_id"]
        assert reservation.startswith("r-") and "server" not in made.json()
        listed = alice.get(f"/v2.1/servers/detail?reservation_id={reservation}").json()
        servers = listed["servers"]
        assert len(servers) == 2
        for view in servers:
            assert view["key_name"] == "boot-key" and view["description"] == "a server"
            # stored and shown in canonical (compressed) form, as Nova does
            assert (view["accessIPv4"], view["accessIPv6"]) == ("192.0.2.1", "2001:db8::1")
            cloud.wait_status(view["id"], "ACTIVE")
        unknown = alice.post(
            "/v2.1/servers", {"server": {**body["server"], "key_name": "no-such-key"}}
        )
        assert unknown.status_code == 400 and "Invalid key_name provided" in unknown.text
    finally:
        for view in alice.get("/v2.1/servers?name=^fully-described").json()["servers"]:
            alice.delete(f"/v2.1/servers/{view['id']}")
            cloud.wait_gone(view["id"])
        alice.delete("/v2.1/os-keypairs/boot-key")


def test_addresses_and_password_of_a_server_without_networks(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice")
    assert alice.get(f"/v2.1/servers/{server}/ips").json() == {"addresses": {}}
    network = alice.get(f"/v2.1/servers/{server}/ips/private")
    assert network.status_code == 404 and "There is no such network" in network.text
    assert alice.get(f"/v2.1/servers/{server}/os-server-password").json() == {"password": ""}
    assert alice.delete(f"/v2.1/servers/{server}/os-server-password").status_code == 204
    assert cloud.client("bob").get(f"/v2.1/servers/{server}/ips").status_code == 404
