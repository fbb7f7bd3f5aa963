"""``/os-aggregates`` as Nova answers it (the shapes Tempest's schemas check, per
microversion), the rules of its availability zones, and the zones everywhere else:
``/os-availability-zone``, ``os-hosts``, ``os-services`` and a server created in a
zone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.api.conftest import Client, Cloud

AGGREGATES = "/v2.1/os-aggregates"
FULL = {
    "availability_zone",
    "created_at",
    "deleted",
    "deleted_at",
    "hosts",
    "id",
    "metadata",
    "name",
    "updated_at",
}
CREATED = FULL - {"hosts", "metadata"}


def _name(prefix: str = "agg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(cloud: Cloud) -> Iterator[Client]:
    """The administrator's client; the aggregates a test made (named ``agg-...``) are
    emptied and deleted after it."""
    client = cloud.client("admin")
    yield client
    for aggregate in client.get(AGGREGATES).json()["aggregates"]:
        if not aggregate["name"].startswith(("agg-", "renamed-")):
            continue
        for host in aggregate["hosts"]:
            client.post(f"{AGGREGATES}/{aggregate['id']}/action", {"remove_host": {"host": host}})
        client.delete(f"{AGGREGATES}/{aggregate['id']}")


def _create(admin: Client, **body: Any) -> dict[str, Any]:
    response = admin.post(AGGREGATES, {"aggregate": {"name": _name(), **body}})
    assert response.status_code == 200, response.text
    return dict(response.json()["aggregate"])


def _action(admin: Client, aggregate_id: int, action: str, body: dict[str, Any]) -> Any:
    return admin.post(f"{AGGREGATES}/{aggregate_id}/action", {action: body})


def test_create_show_list_update_delete(admin: Client) -> None:
    name = _name()
    response = admin.post(AGGREGATES, {"aggregate": {"name": name}})
    assert response.status_code == 200, response.text
    created = response.json()["aggregate"]
    assert set(created) == CREATED
    assert created["name"] == name and created["availability_zone"] is None
    assert created["deleted"] is False and created["deleted_at"] is None
    assert created["updated_at"] is None and created["created_at"].count(":") == 2

    shown = admin.get(f"{AGGREGATES}/{created['id']}").json()["aggregate"]
    assert set(shown) == FULL and shown["hosts"] == [] and shown["metadata"] == {}
    listed = admin.get(AGGREGATES).json()["aggregates"]
    assert [a for a in listed if a["id"] == created["id"]] == [shown]

    renamed = admin.put(
        f"{AGGREGATES}/{created['id']}", {"aggregate": {"name": "  renamed-" + name + " "}}
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()["aggregate"]
    assert body["name"] == "renamed-" + name and body["updated_at"] is not None
    zoned = admin.put(f"{AGGREGATES}/{created['id']}", {"aggregate": {"availability_zone": "z1"}})
    assert zoned.json()["aggregate"]["availability_zone"] == "z1"
    assert zoned.json()["aggregate"]["metadata"] == {"availability_zone": "z1"}

    deleted = admin.delete(f"{AGGREGATES}/{created['id']}")
    assert deleted.status_code == 200 and deleted.content == b""
    assert admin.get(f"{AGGREGATES}/{created['id']}").status_code == 404
    assert admin.delete(f"{AGGREGATES}/{created['id']}").status_code == 404


def test_uuid_from_2_41(cloud: Cloud, admin: Client) -> None:
    new = cloud.client("admin", "2.41").post(AGGREGATES, {"aggregate": {"name": _name()}})
    assert new.status_code == 200 and set(new.json()["aggregate"]) == CREATED | {"uuid"}
    created = new.json()["aggregate"]
    uuid.UUID(created["uuid"])
    path = f"{AGGREGATES}/{created['id']}"
    assert set(cloud.client("admin", "2.41").get(path).json()["aggregate"]) == FULL | {"uuid"}
    assert set(cloud.client("admin", "2.40").get(path).json()["aggregate"]) == FULL
    listed = cloud.client("admin", "2.41").get(AGGREGATES).json()["aggregates"]
    assert all("uuid" in a for a in listed)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"name": ""}, 400, "aggregate.name"),
        ({"name": "a" * 256}, 400, "aggregate.name"),
        ({"name": " padded"}, 400, "aggregate.name"),
        ({}, 400, "name"),
        ({"name": "x", "availability_zone": ""}, 400, "aggregate.availability_zone"),
        ({"name": "x", "availability_zone": "a:b"}, 400, "aggregate.availability_zone"),
        ({"name": "x", "availability_zone": "z" * 256}, 400, "aggregate.availability_zone"),
        ({"name": "x", "hosts": []}, 400, "hosts"),
    ],
)
def test_bad_creates_name_the_field(admin: Client, body: Any, status: int, words: str) -> None:
    response = admin.post(AGGREGATES, {"aggregate": body})
    assert response.status_code == status, response.text
    assert words in response.json()["badRequest"]["message"]


def test_names_are_unique(admin: Client) -> None:
    first, second = _create(admin), _create(admin)
    duplicate = admin.post(AGGREGATES, {"aggregate": {"name": first["name"]}})
    assert duplicate.status_code == 409 and first["name"] in duplicate.text
    clash = admin.put(f"{AGGREGATES}/{second['id']}", {"aggregate": {"name": first["name"]}})
    assert clash.status_code == 409
    explicit_null = _create(admin, availability_zone=None)
    assert explicit_null["availability_zone"] is None


@pytest.mark.parametrize(
    ("path", "status"),
    [("abc", 400), ("-1", 404), ("0", 404), ("99999999999999999999", 404), ("2147483647", 404)],
)
def test_ids_are_integers(admin: Client, path: str, status: int) -> None:
    assert admin.get(f"{AGGREGATES}/{path}").status_code == status
    assert admin.delete(f"{AGGREGATES}/{path}").status_code == status
    update = admin.put(f"{AGGREGATES}/{path}", {"aggregate": {"name": "n"}})
    assert update.status_code == status
    add = admin.post(f"{AGGREGATES}/{path}/action", {"add_host": {"host": "cmp1"}})
    assert add.status_code == status


def test_update_needs_something_to_change(admin: Client) -> None:
    aggregate = _create(admin)
    empty = admin.put(f"{AGGREGATES}/{aggregate['id']}", {"aggregate": {}})
    assert empty.status_code == 400
    other = admin.put(f"{AGGREGATES}/{aggregate['id']}", {"aggregate": {"hosts": ["cmp1"]}})
    assert other.status_code == 400


def test_hosts(admin: Client) -> None:
    aggregate = _create(admin)
    added = _action(admin, aggregate["id"], "add_host", {"host": "cmp1"})
    assert added.status_code == 200, added.text
    body = added.json()["aggregate"]
    assert set(body) == FULL and body["hosts"] == ["cmp1"]
    assert _action(admin, aggregate["id"], "add_host", {"host": "cmp1"}).status_code == 409
    unknown = _action(admin, aggregate["id"], "add_host", {"host": "no-such-host"})
    assert unknown.status_code == 404 and "no-such-host" in unknown.text
    # a service host that is not a compute host
    conductor = admin.get("/v2.1/os-services?binary=nubis-conductor").json()["services"][0]
    not_compute = _action(admin, aggregate["id"], "add_host", {"host": conductor["host"]})
    assert not_compute.status_code in (404, 409)  # 409 when a compute host shares its name
    assert _action(admin, aggregate["id"], "add_host", {"host": "CMP1"}).status_code == 404
    bad = _action(admin, aggregate["id"], "add_host", {"host": "a b"})
    assert bad.status_code == 400 and "add_host.host" in bad.text

    in_use = admin.delete(f"{AGGREGATES}/{aggregate['id']}")
    assert in_use.status_code == 400 and "cmp1" in in_use.text

    removed = _action(admin, aggregate["id"], "remove_host", {"host": "cmp1"})
    assert removed.status_code == 200 and removed.json()["aggregate"]["hosts"] == []
    again = _action(admin, aggregate["id"], "remove_host", {"host": "cmp1"})
    assert again.status_code == 404 and "Cannot remove host cmp1" in again.text
    missing = admin.post(f"{AGGREGATES}/2147483646/action", {"remove_host": {"host": "cmp1"}})
    assert missing.status_code == 404
    assert admin.delete(f"{AGGREGATES}/{aggregate['id']}").status_code == 200


def test_a_host_in_several_aggregates(admin: Client) -> None:
    first, second = _create(admin), _create(admin, availability_zone="several")
    for aggregate in (first, second):
        assert _action(admin, aggregate["id"], "add_host", {"host": "cmp2"}).status_code == 200
    listed = {a["id"]: a for a in admin.get(AGGREGATES).json()["aggregates"]}
    assert listed[first["id"]]["hosts"] == listed[second["id"]]["hosts"] == ["cmp2"]


def test_set_metadata(admin: Client) -> None:
    aggregate = _create(admin, availability_zone="meta-zone")
    path_id = aggregate["id"]
    response = _action(admin, path_id, "set_metadata", {"metadata": {"a": "1", "b": "2"}})
    assert response.status_code == 200, response.text
    body = response.json()["aggregate"]
    assert set(body) == FULL and body["updated_at"] is not None
    assert body["metadata"] == {"a": "1", "b": "2", "availability_zone": "meta-zone"}
    response = _action(admin, path_id, "set_metadata", {"metadata": {"a": None, "c": "3"}})
    assert response.json()["aggregate"]["metadata"] == {
        "b": "2",
        "c": "3",
        "availability_zone": "meta-zone",
    }
    gone = _action(admin, path_id, "set_metadata", {"metadata": {"never-set": None}})
    assert gone.status_code == 200
    moved = _action(admin, path_id, "set_metadata", {"metadata": {"availability_zone": "z2"}})
    assert moved.json()["aggregate"]["availability_zone"] == "z2"
    for empty in (None, ""):
        refused = _action(
            admin, path_id, "set_metadata", {"metadata": {"availability_zone": empty}}
        )
        assert refused.status_code == 400 and "availability zone" in refused.text
    null_zone = admin.put(f"{AGGREGATES}/{path_id}", {"aggregate": {"availability_zone": None}})
    assert null_zone.status_code == 400
    bad_key = _action(admin, path_id, "set_metadata", {"metadata": {"bad/key": "x"}})
    assert bad_key.status_code == 400
    too_long = _action(admin, path_id, "set_metadata", {"metadata": {"k": "v" * 256}})
    assert too_long.status_code == 400
    assert _action(admin, path_id, "set_metadata", {}).status_code == 400


def _zones(cloud: Cloud, persona: str, path: str = "") -> dict[str, Any]:
    response = cloud.client(persona).get(f"/v2.1/os-availability-zone{path}")
    assert response.status_code == 200, response.text
    return {zone["zoneName"]: zone for zone in response.json()["availabilityZoneInfo"]}


def test_a_host_in_a_zone(cloud: Cloud, admin: Client) -> None:
    zone = _name("zone")
    aggregate = _create(admin, availability_zone=zone)
    assert _action(admin, aggregate["id"], "add_host", {"host": "cmp2"}).status_code == 200

    listed = _zones(cloud, "alice")
    assert set(listed) == {"nova", zone} and listed[zone]["hosts"] is None
    detail = _zones(cloud, "admin", "/detail")
    assert set(detail[zone]["hosts"]) == {"cmp2"} and set(detail["nova"]["hosts"]) == {"cmp1"}
    hosts = cloud.client("admin", "2.42").get(f"/v2.1/os-hosts?zone={zone}").json()["hosts"]
    assert [h["host_name"] for h in hosts] == ["cmp2"]
    services = admin.get("/v2.1/os-services?binary=nubis-compute").json()["services"]
    assert {s["host"]: s["zone"] for s in services} == {"cmp1": "nova", "cmp2": zone}

    # A host is in one zone at most.
    other = _create(admin, availability_zone=_name("zone"))
    conflict = _action(admin, other["id"], "add_host", {"host": "cmp2"})
    assert conflict.status_code == 409 and zone in conflict.text
    plain = _create(admin)
    assert _action(admin, plain["id"], "add_host", {"host": "cmp2"}).status_code == 200
    clash = admin.put(f"{AGGREGATES}/{plain['id']}", {"aggregate": {"availability_zone": "z9"}})
    assert clash.status_code == 400 and zone in clash.text

    # A server created in the zone runs there and says so.
    server_id = cloud.boot("alice", availability_zone=zone)
    server = cloud.server(server_id)
    assert server["OS-EXT-SRV-ATTR:host"] == "cmp2"
    assert server["OS-EXT-AZ:availability_zone"] == zone
    # ... and servers can no longer change zone under it.
    rezone = admin.put(
        f"{AGGREGATES}/{aggregate['id']}", {"aggregate": {"availability_zone": "zz"}}
    )
    assert rezone.status_code == 400 and "server" in rezone.text
    same = admin.put(f"{AGGREGATES}/{aggregate['id']}", {"aggregate": {"availability_zone": zone}})
    assert same.status_code == 200
    leave = _action(admin, aggregate["id"], "remove_host", {"host": "cmp2"})
    assert leave.status_code == 409 and "cmp2" in leave.text
    cloud.delete_all_servers()
    assert _action(admin, aggregate["id"], "remove_host", {"host": "cmp2"}).status_code == 200
    assert set(_zones(cloud, "alice")) == {"nova"}


def test_creating_a_server_in_a_zone(cloud: Cloud, admin: Client) -> None:
    unknown = cloud.client("alice", "2.60").post(
        "/v2.1/servers",
        {
            "server": {
                "name": "nowhere",
                "flavorRef": cloud.flavor_id,
                "imageRef": cloud.image_id,
                "networks": "none",
                "availability_zone": "no-such-zone",
            }
        },
    )
    assert unknown.status_code == 400 and "availability zone" in unknown.text
    # The default zone holds the hosts no aggregate puts in a zone.
    zone = _name("zone")
    aggregate = _create(admin, availability_zone=zone)
    assert _action(admin, aggregate["id"], "add_host", {"host": "cmp1"}).status_code == 200
    server = cloud.server(cloud.boot("alice", availability_zone="nova"))
    assert server["OS-EXT-SRV-ATTR:host"] == "cmp2"
    assert server["OS-EXT-AZ:availability_zone"] == "nova"
    # A zone whose every compute service is disabled is not available.
    disable = {"host": "cmp1", "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/disable", disable).status_code == 200
    try:
        refused = cloud.client("alice", "2.60").post(
            "/v2.1/servers",
            {
                "server": {
                    "name": "off",
                    "flavorRef": cloud.flavor_id,
                    "imageRef": cloud.image_id,
                    "networks": "none",
                    "availability_zone": zone,
                }
            },
        )
        assert refused.status_code == 400, refused.text
    finally:
        assert admin.put("/v2.1/os-services/enable", disable).status_code == 200
    cloud.delete_all_servers()
