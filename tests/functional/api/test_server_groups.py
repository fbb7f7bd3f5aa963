"""``/os-server-groups`` as Nova answers it (up to 2.60), and the scheduler enforcing the
groups' policies on the API's cloud of two compute hosts (cmp1, cmp2): create, list
(own project, ``all_projects`` for administrators, ``limit``/``offset``), show and
delete per microversion; one-line 400s; servers created with the ``group`` hint join the
group -- anti-affinity spreads them (within one multi-create too) until a third member
ends in ERROR with NoValidHost, affinity keeps them together, the soft policies weigh,
a live migration keeps to the policy; the ``server_groups`` and ``server_group_members``
quotas; the ``openstack`` CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import delete

from nubis.core.db import engine, models
from tests.functional.api.conftest import Cloud, wait_for
from tests.functional.api.test_clients import CLI, write_clouds_yaml

GROUPS = "/v2.1/os-server-groups"


def _wipe() -> None:
    with engine.get_engine().begin() as connection:
        for model in (
            models.InstanceGroupMember,
            models.InstanceGroup,
            models.Quota,
            models.ProjectUserQuota,
            models.QuotaClass,
        ):
            connection.execute(delete(model))


@pytest.fixture(autouse=True)
def clean(cloud: Cloud) -> Iterator[None]:
    """No servers, server groups or stored limits before and after each test."""
    cloud.delete_all_servers()
    _wipe()
    yield
    cloud.delete_all_servers()
    _wipe()


def _message(response: requests.Response) -> str:
    """The one message of a Nova fault body."""
    (fault,) = response.json().values()
    message = str(fault["message"])
    assert "\n" not in message, message
    return message


def _group(
    cloud: Cloud, policy: str, persona: str = "alice", version: str = "2.60", name: str = "g"
) -> dict[str, Any]:
    body = {"server_group": {"name": name, "policies": [policy]}}
    response = cloud.client(persona, version).post(GROUPS, body)
    assert response.status_code == 200, response.text
    return dict(response.json()["server_group"])


def _create(
    cloud: Cloud,
    group_id: str,
    persona: str = "alice",
    hints_key: str = "os:scheduler_hints",
    **server: Any,
) -> requests.Response:
    body = {
        "server": {
            "name": f"sg-{uuid.uuid4().hex[:6]}",
            "flavorRef": cloud.flavor_id,
            "imageRef": cloud.image_id,
            "networks": "none",
            **server,
        },
        hints_key: {"group": group_id},
    }
    return cloud.client(persona, "2.60").post("/v2.1/servers", body)


def _boot(cloud: Cloud, group_id: str, **server: Any) -> str:
    """A server of alice's in the group, ACTIVE; its id."""
    response = _create(cloud, group_id, **server)
    assert response.status_code == 202, response.text
    server_id = str(response.json()["server"]["id"])
    cloud.wait_status(server_id, "ACTIVE")
    return server_id


def _reservation(cloud: Cloud, group_id: str, count: int, **server: Any) -> list[dict[str, Any]]:
    """A multi-create of *count* servers in the group: the servers, once none builds."""
    response = _create(
        cloud, group_id, min_count=count, max_count=count, return_reservation_id=True, **server
    )
    assert response.status_code == 202, response.text
    reservation = response.json()["reservation_id"]
    admin = cloud.client("admin", "2.60")

    def settled() -> Any:
        servers = admin.get(
            f"/v2.1/servers/detail?all_tenants=1&reservation_id={reservation}"
        ).json()["servers"]
        done = len(servers) == count and all(s["status"] in ("ACTIVE", "ERROR") for s in servers)
        return servers if done else None

    return list(wait_for(settled, what=f"the {count} servers of {reservation}"))


def _host(cloud: Cloud, server_id: str) -> str:
    return str(cloud.server(server_id)["OS-EXT-SRV-ATTR:host"])


# --- the resource ---------------------------------------------------------------------


def test_create_show_list_delete_per_microversion(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.1")
    created = alice.post(GROUPS, {"server_group": {"name": "web", "policies": ["anti-affinity"]}})
    assert created.status_code == 200, created.text
    group = created.json()["server_group"]
    assert set(group) == {"id", "name", "policies", "members", "metadata"}
    assert (group["name"], group["policies"], group["members"], group["metadata"]) == (
        "web",
        ["anti-affinity"],
        [],
        {},
    )
    uuid.UUID(group["id"])
    shown = cloud.client("alice", "2.13").get(f"{GROUPS}/{group['id']}").json()["server_group"]
    assert shown["project_id"] == cloud.projects["alice"] and shown["user_id"]
    assert {k: v for k, v in shown.items() if k not in ("project_id", "user_id")} == group

    # the soft policies from 2.15
    soft = {"server_group": {"name": "soft", "policies": ["soft-affinity"]}}
    refused = cloud.client("alice", "2.14").post(GROUPS, soft)
    assert refused.status_code == 400
    assert "server_group.policies[0]" in _message(refused)
    assert _group(cloud, "soft-anti-affinity", version="2.15")["policies"] == ["soft-anti-affinity"]

    # bob sees none of alice's groups and may neither show nor delete them (403, Nova's)
    bob = cloud.client("bob", "2.60")
    assert bob.get(GROUPS).json() == {"server_groups": []}
    assert bob.get(f"{GROUPS}/{group['id']}").status_code == 403
    assert bob.delete(f"{GROUPS}/{group['id']}").status_code == 403
    unknown = alice.get(f"{GROUPS}/{uuid.uuid4()}")
    assert unknown.status_code == 404 and "could not be found" in _message(unknown)

    deleted = alice.delete(f"{GROUPS}/{group['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert alice.get(f"{GROUPS}/{group['id']}").status_code == 404
    assert alice.delete(f"{GROUPS}/{group['id']}").status_code == 404


def test_listing_all_projects_and_paging(cloud: Cloud) -> None:
    mine = [_group(cloud, "affinity", name=f"a{i}")["id"] for i in range(4)]
    theirs = _group(cloud, "anti-affinity", persona="bob")["id"]
    admins = _group(cloud, "affinity", persona="admin")["id"]

    def ids(persona: str, query: str = "") -> list[str]:
        response = cloud.client(persona, "2.60").get(f"{GROUPS}{query}")
        assert response.status_code == 200, response.text
        return [g["id"] for g in response.json()["server_groups"]]

    assert ids("alice") == mine
    assert ids("alice", "?all_projects=1") == mine  # ignored for members, as in Nova
    assert ids("admin") == [admins]
    assert ids("admin", "?all_projects") == [*mine, theirs, admins]  # any value, or none
    assert ids("admin", "?all_projects=0") == [*mine, theirs, admins]  # Nova reads presence
    assert ids("alice", "?limit=2") == mine[:2]
    assert ids("alice", "?limit=2&offset=3") == mine[3:]
    assert ids("alice", "?offset=4") == []
    assert ids("alice", "?limit=0") == mine  # 0: [api] max_limit
    assert ids("alice", "?foo=bar") == mine  # unknown parameters ignored before 2.75


def test_members_are_the_servers_not_deleted(cloud: Cloud) -> None:
    group = _group(cloud, "soft-anti-affinity")
    first = _boot(cloud, group["id"])
    second = _boot(cloud, group["id"], hints_key="OS-SCH-HNT:scheduler_hints")
    path = f"{GROUPS}/{group['id']}"
    alice = cloud.client("alice", "2.60")
    assert sorted(alice.get(path).json()["server_group"]["members"]) == sorted([first, second])
    assert alice.delete(f"/v2.1/servers/{first}").status_code == 204
    cloud.wait_gone(first)
    assert alice.get(path).json()["server_group"]["members"] == [second]
    listed = alice.get(GROUPS).json()["server_groups"]
    assert [g["members"] for g in listed] == [[second]]
    # deleting the group leaves its servers
    assert alice.delete(path).status_code == 204
    assert cloud.server(second)["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "body, names",
    [
        ({}, "server_group: required"),
        ({"server_group": {"policies": ["affinity"]}}, "server_group.name: required"),
        ({"server_group": {"name": "g"}}, "server_group.policies: required"),
        ({"server_group": {"name": "", "policies": ["affinity"]}}, "server_group.name."),
        ({"server_group": {"name": " g", "policies": ["affinity"]}}, "server_group.name."),
        ({"server_group": {"name": "g" * 256, "policies": ["affinity"]}}, "server_group.name."),
        ({"server_group": {"name": "g", "policies": "affinity"}}, "server_group.policies."),
        ({"server_group": {"name": "g", "policies": []}}, "server_group.policies."),
        (
            {"server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}},
            "server_group.policies",
        ),
        ({"server_group": {"name": "g", "policies": ["legacy"]}}, "server_group.policies[0]."),
        ({"server_group": {"name": "g", "policy": "affinity"}}, "server_group.policies: required"),
        (
            {"server_group": {"name": "g", "policies": ["affinity"], "rules": {}}},
            "server_group.rules: not an accepted attribute",
        ),
        ({"server_group": {"name": "g", "policies": ["affinity"]}, "x": 1}, "x: not an"),
    ],
)
def test_bad_bodies_are_one_line_400s(cloud: Cloud, body: Any, names: str) -> None:
    response = cloud.client("alice", "2.60").post(GROUPS, body)
    assert response.status_code == 400, response.text
    assert names in _message(response)
    assert cloud.client("alice").get(GROUPS).json() == {"server_groups": []}


@pytest.mark.parametrize("query", ["limit=-1", "limit=x", "offset=-2", "offset=1.5"])
def test_bad_paging_is_a_one_line_400(cloud: Cloud, query: str) -> None:
    response = cloud.client("alice").get(f"{GROUPS}?{query}")
    assert response.status_code == 400
    assert f"query parameter {query.split('=')[0]}" in _message(response)


def test_bad_group_hints_are_one_line_400s(cloud: Cloud) -> None:
    missing = str(uuid.uuid4())
    response = _create(cloud, missing)
    assert response.status_code == 400
    assert _message(response) == f"Instance group {missing} could not be found."
    response = _create(cloud, "not-a-uuid")
    assert response.status_code == 400
    assert "os:scheduler_hints.group" in _message(response)
    # another project's group is not one to join
    theirs = _group(cloud, "affinity", persona="bob")["id"]
    response = _create(cloud, theirs)
    assert response.status_code == 400
    assert _message(response) == f"Instance group {theirs} could not be found."
    assert cloud.client("alice").get("/v2.1/servers").json()["servers"] == []


def test_a_group_deleted_during_a_create_leaves_no_server(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nubis.core import quota
    from nubis.core.context import get_admin_context
    from nubis.core.db import api as db

    group = _group(cloud, "affinity")
    check = quota.check_group_members

    def deleted_before_the_recheck(context: Any, conf: Any, *args: Any) -> None:
        if args[-1] == 0:  # the recheck, once the servers are recorded
            db.instance_group_delete(get_admin_context(), group["id"])
        check(context, conf, *args)

    monkeypatch.setattr(quota, "check_group_members", deleted_before_the_recheck)
    response = _create(cloud, group["id"], min_count=2, max_count=2)
    assert response.status_code == 400
    assert _message(response) == f"Instance group {group['id']} could not be found."
    assert cloud.client("alice").get("/v2.1/servers").json()["servers"] == []


# --- the scheduler enforcing the policies ------------------------------------------------


def test_anti_affinity_spreads_and_a_third_member_finds_no_host(cloud: Cloud) -> None:
    group = _group(cloud, "anti-affinity")
    first = _boot(cloud, group["id"])
    second = _boot(cloud, group["id"])
    assert {_host(cloud, first), _host(cloud, second)} == {"cmp1", "cmp2"}
    response = _create(cloud, group["id"])
    assert response.status_code == 202, response.text
    third = response.json()["server"]["id"]
    failed = cloud.wait_status(third, "ERROR")
    message = failed["fault"]["message"]
    assert message.startswith("NoValidHost: no valid host was found: ServerGroupAntiAffinity")
    assert f"server group {group['id']} (anti-affinity; its hosts: cmp1, cmp2)" in message
    members = cloud.client("alice").get(f"{GROUPS}/{group['id']}").json()["server_group"]
    assert sorted(members["members"]) == sorted([first, second, third])


def test_a_multi_create_with_anti_affinity_spreads_within_the_request(cloud: Cloud) -> None:
    group = _group(cloud, "anti-affinity")
    servers = _reservation(cloud, group["id"], 2)
    assert [s["status"] for s in servers] == ["ACTIVE", "ACTIVE"]
    assert {s["OS-EXT-SRV-ATTR:host"] for s in servers} == {"cmp1", "cmp2"}
    cloud.delete_all_servers()
    # three cannot spread over two hosts: the request is placed whole or not at all
    servers = _reservation(cloud, group["id"], 3)
    assert [s["status"] for s in servers] == ["ERROR"] * 3
    assert all("for instance 3 of 3" in s["fault"]["message"] for s in servers)


def test_affinity_keeps_the_servers_together(cloud: Cloud) -> None:
    group = _group(cloud, "affinity")
    servers = _reservation(cloud, group["id"], 2)
    hosts = {s["OS-EXT-SRV-ATTR:host"] for s in servers}
    assert [s["status"] for s in servers] == ["ACTIVE", "ACTIVE"] and len(hosts) == 1
    for _ in range(2):
        assert {_host(cloud, _boot(cloud, group["id"]))} == hosts


def test_soft_policies_weigh(cloud: Cloud, flags: Any) -> None:
    spread = _group(cloud, "soft-anti-affinity")
    servers = [_boot(cloud, spread["id"]) for _ in range(3)]  # a third still fits
    hosts = [_host(cloud, s) for s in servers]
    assert set(hosts[:2]) == {"cmp1", "cmp2"}
    cloud.delete_all_servers()
    # soft-affinity against the ram weigher's spreading: with a multiplier above the
    # ram weigher's, the group's servers stay where the first one went
    flags(group="scheduler", soft_affinity_weight_multiplier=2.0)
    together = _group(cloud, "soft-affinity")
    servers = [_boot(cloud, together["id"]) for _ in range(3)]
    assert len({_host(cloud, s) for s in servers}) == 1


def test_live_migration_keeps_to_the_policy(cloud: Cloud) -> None:
    group = _group(cloud, "anti-affinity")
    first, second = _boot(cloud, group["id"]), _boot(cloud, group["id"])
    source = _host(cloud, first)
    move = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
    admin = cloud.client("admin", "2.60")
    refused = admin.post(f"/v2.1/servers/{first}/action", move)
    assert refused.status_code == 400
    assert "ServerGroupAntiAffinityFilter eliminated the last 1 host" in _message(refused)
    assert cloud.wait_status(first, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == source
    # once the other member is gone, the host it had is free for the group again
    assert cloud.client("alice").delete(f"/v2.1/servers/{second}").status_code == 204
    cloud.wait_gone(second)
    assert admin.post(f"/v2.1/servers/{first}/action", move).status_code == 202
    wait_for(lambda: _host(cloud, first) != source, what="the live migration")
    cloud.wait_status(first, "ACTIVE")


# --- quotas -----------------------------------------------------------------------------


def test_the_server_groups_quota(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    project_a = cloud.projects["alice"]
    limits = cloud.client("alice", "2.60").get("/v2.1/limits").json()["limits"]["absolute"]
    assert (limits["maxServerGroups"], limits["totalServerGroupsUsed"]) == (10, 0)
    changed = admin.put(f"/v2.1/os-quota-sets/{project_a}", {"quota_set": {"server_groups": 2}})
    assert changed.status_code == 200, changed.text
    _group(cloud, "affinity")
    _group(cloud, "affinity")
    refused = cloud.client("alice", "2.60").post(
        GROUPS, {"server_group": {"name": "three", "policies": ["affinity"]}}
    )
    assert refused.status_code == 403
    assert _message(refused) == "Quota exceeded, too many server groups."
    assert len(cloud.client("alice").get(GROUPS).json()["server_groups"]) == 2
    limits = cloud.client("alice", "2.60").get("/v2.1/limits").json()["limits"]["absolute"]
    assert (limits["maxServerGroups"], limits["totalServerGroupsUsed"]) == (2, 2)
    detail = admin.get(f"/v2.1/os-quota-sets/{project_a}/detail").json()["quota_set"]
    assert detail["server_groups"] == {"limit": 2, "in_use": 2, "reserved": 0}
    assert detail["server_group_members"]["in_use"] == 0  # reported with no use, as Nova
    # bob's project has its own
    assert _group(cloud, "affinity", persona="bob")["policies"] == ["affinity"]


def test_the_server_group_members_quota(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    project_a = cloud.projects["alice"]
    body = {"quota_set": {"server_group_members": 2}}
    assert admin.put(f"/v2.1/os-quota-sets/{project_a}", body).status_code == 200
    group = _group(cloud, "soft-affinity")
    _boot(cloud, group["id"])
    # two more do not fit: the whole multi-create is refused, as in Nova
    refused = _create(cloud, group["id"], min_count=1, max_count=2)
    assert refused.status_code == 403
    assert _message(refused) == "Quota exceeded, too many servers in group"
    assert len(cloud.client("alice").get("/v2.1/servers").json()["servers"]) == 1
    _boot(cloud, group["id"])
    refused = _create(cloud, group["id"])
    assert refused.status_code == 403
    # it counts per group: another group has room
    other = _group(cloud, "soft-affinity", name="other")
    _boot(cloud, other["id"])


# --- the openstack CLI ------------------------------------------------------------------


def test_openstack_server_group_commands(cloud: Cloud, tmp_path: Path) -> None:
    cli = CLI(write_clouds_yaml(tmp_path / "clouds.yaml", cloud.url))
    created = cli.run("alice", "server", "group", "create", "--policy", "anti-affinity", "cli-g")
    assert created["name"] == "cli-g" and created["policies"] == ["anti-affinity"]
    group_id = created["id"]
    listed = cli.run("alice", "server", "group", "list")
    assert [(g["ID"], g["Name"]) for g in listed] == [(group_id, "cli-g")]
    assert cli.run("bob", "server", "group", "list") == []

    first = cli.run(
        "alice",
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "tiny",
        "--hint",
        f"group={group_id}",
        "--wait",
        "cli-sg-1",
    )
    second = cli.run(
        "alice",
        "server",
        "create",
        "--flavor",
        "m1.tiny",
        "--image",
        "tiny",
        "--hint",
        f"group={group_id}",
        "--wait",
        "cli-sg-2",
    )
    assert first["status"] == second["status"] == "ACTIVE"
    assert {_host(cloud, first["id"]), _host(cloud, second["id"])} == {"cmp1", "cmp2"}
    shown = cli.run("alice", "server", "group", "show", "cli-g")
    members = shown["members"]
    assert first["id"] in members and second["id"] in members
    everyone = cli.run("admin", "server", "group", "list", "--all-projects")
    assert group_id in {g["ID"] for g in everyone}

    cli.run("alice", "server", "group", "delete", "cli-g", parse=False)
    assert cli.run("alice", "server", "group", "list") == []
    assert cloud.server(first["id"])["status"] == "ACTIVE"
