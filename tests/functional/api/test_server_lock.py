"""The ``lock`` and ``unlock`` server actions (Nova's ``os-lock-server``) through the
whole path, and what a lock refuses: a locked server's owner cannot delete, stop,
reboot, rebuild or change its metadata (409 "Instance ... is locked") while an
administrator still can; who locked it decides who may unlock it; the reason (2.73) is
kept in system_metadata; both are recorded as instance actions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.api.microversion import APIVersion
from nubis.core.api.resources import server_lock
from nubis.core.api.validation import validate
from nubis.core.compute import instance_lock
from nubis.core.context import get_admin_context
from tests.functional.api.conftest import Cloud


def act(cloud: Cloud, persona: str, server_id: str, body: Any, version: str = "2.60") -> Any:
    return cloud.client(persona, version).post(f"/v2.1/servers/{server_id}/action", body)


def record(server_id: str) -> Any:
    return objects.Instance.get_by_uuid(get_admin_context(), server_id)


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    server_id = cloud.boot("alice", name="lock-vm")
    yield server_id
    cloud.delete_all_servers()


def assert_locked_out(response: Any, server_id: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["conflictingRequest"]["message"] == f"Instance {server_id} is locked"


def test_a_locked_server_refuses_its_owner_until_unlocked(cloud: Cloud, server: str) -> None:
    alice = cloud.client("alice", "2.60")
    assert alice.get(f"/v2.1/servers/{server}").json()["server"]["locked"] is False
    assert act(cloud, "alice", server, {"lock": None}).status_code == 202
    shown = alice.get(f"/v2.1/servers/{server}").json()["server"]
    assert shown["locked"] is True and shown["status"] == "ACTIVE"
    assert "locked_reason" not in shown  # from 2.73
    assert (
        "locked" not in cloud.client("alice", "2.8").get(f"/v2.1/servers/{server}").json()["server"]
    )
    assert (record(server).locked, record(server).locked_by) == (True, "owner")

    assert_locked_out(act(cloud, "alice", server, {"os-stop": None}), server)
    assert_locked_out(act(cloud, "alice", server, {"reboot": {"type": "HARD"}}), server)
    rebuild = {"rebuild": {"imageRef": cloud.image_id}}
    assert_locked_out(act(cloud, "alice", server, rebuild), server)
    assert_locked_out(alice.delete(f"/v2.1/servers/{server}"), server)
    meta = {"metadata": {"k": "v"}}
    assert_locked_out(alice.post(f"/v2.1/servers/{server}/metadata", meta), server)
    assert_locked_out(alice.put(f"/v2.1/servers/{server}/metadata/k", {"meta": {"k": "v"}}), server)
    assert_locked_out(alice.delete(f"/v2.1/servers/{server}/metadata/k"), server)
    # reading is not refused, nor is locking again (a no-op for the owner)
    assert alice.get(f"/v2.1/servers/{server}/metadata").status_code == 200
    assert act(cloud, "alice", server, {"lock": None}).status_code == 202
    assert cloud.server(server)["status"] == "ACTIVE"

    assert act(cloud, "alice", server, {"unlock": None}).status_code == 202
    assert (record(server).locked, record(server).locked_by) == (False, None)
    assert alice.get(f"/v2.1/servers/{server}").json()["server"]["locked"] is False
    assert act(cloud, "alice", server, {"os-stop": None}).status_code == 202
    cloud.wait_status(server, "SHUTOFF")
    assert act(cloud, "alice", server, {"os-start": None}).status_code == 202
    cloud.wait_status(server, "ACTIVE")
    actions = alice.get(f"/v2.1/servers/{server}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in actions][:4] == ["start", "stop", "unlock", "lock"]


def test_administrators_act_on_a_locked_server(cloud: Cloud, server: str) -> None:
    assert act(cloud, "alice", server, {"lock": None}).status_code == 202
    stopped = act(cloud, "admin", server, {"os-stop": None})
    assert stopped.status_code == 202, stopped.text
    cloud.wait_status(server, "SHUTOFF")
    assert_locked_out(act(cloud, "alice", server, {"os-start": None}), server)
    assert act(cloud, "admin", server, {"os-start": None}).status_code == 202
    cloud.wait_status(server, "ACTIVE")
    assert cloud.client("admin").delete(f"/v2.1/servers/{server}").status_code == 204
    cloud.wait_gone(server)


def test_who_locked_it_decides_who_may_unlock(cloud: Cloud, server: str) -> None:
    # an administrator of another project locks it: its owner may not unlock it
    assert act(cloud, "admin", server, {"lock": None}).status_code == 202
    assert record(server).locked_by == "admin"
    refused = act(cloud, "alice", server, {"unlock": None})
    assert refused.status_code == 403, refused.text
    assert "unlock_override" in refused.text
    # the owner locking it again changes nothing
    assert act(cloud, "alice", server, {"lock": None}).status_code == 202
    assert record(server).locked_by == "admin"
    assert act(cloud, "admin", server, {"unlock": None}).status_code == 202
    # locked by its owner, an administrator unlocks it (unlock_override is theirs)
    assert act(cloud, "alice", server, {"lock": None}).status_code == 202
    assert act(cloud, "admin", server, {"unlock": None}).status_code == 202
    assert record(server).locked is False
    # unlocking an unlocked server is accepted
    assert act(cloud, "alice", server, {"unlock": None}).status_code == 202


def test_lock_bodies_and_missing_servers(cloud: Cloud, server: str) -> None:
    # before 2.73 the value of lock is not read, as in Nova
    assert act(cloud, "alice", server, {"lock": {"locked_reason": "x" * 300}}).status_code == 202
    assert instance_lock.locked_reason(record(server)) is None
    assert act(cloud, "alice", server, {"unlock": {"anything": 1}}).status_code == 202
    missing = "00000000-0000-4000-8000-000000000000"
    assert act(cloud, "alice", missing, {"lock": None}).status_code == 404
    assert act(cloud, "admin", missing, {"unlock": None}).status_code == 404
    assert act(cloud, "bob", server, {"lock": None}).status_code == 404
    # from 2.73: null or an object with a reason of 1-255 characters
    route = next(r for r in server_lock.routes(None) if r.action == "lock")
    v273 = route.body_schema(APIVersion.parse("2.73"))
    assert v273 is not None and route.body_schema(APIVersion.parse("2.72")) is not v273
    validate(v273, {"lock": None})
    validate(v273, {"lock": {}})
    validate(v273, {"lock": {"locked_reason": "r" * 255}})
    for bad in ({"locked_reason": ""}, {"locked_reason": "r" * 256}, {"other": 1}, "x"):
        with pytest.raises(Exception, match="Invalid input"):
            validate(v273, {"lock": bad})


def test_the_reason_lives_in_system_metadata(cloud: Cloud, server: str) -> None:
    context = get_admin_context()
    context.project_id = cloud.projects["alice"]
    context.is_admin = False
    instance = record(server)
    instance.system_metadata = {**(instance.system_metadata or {}), "other": "kept"}
    instance.save()
    instance_lock.lock(context, instance, reason="maintenance window")
    again = record(server)
    assert (again.locked, again.locked_by) == (True, "owner")
    assert again.system_metadata == {"other": "kept", "locked_reason": "maintenance window"}
    with pytest.raises(exception.InstanceIsLocked):
        instance_lock.check_unlocked(context, again)
    instance_lock.check_unlocked(get_admin_context(), again)  # administrators pass
    assert instance_lock.is_expected_locked_by(context, again)
    instance_lock.unlock(context, again)
    assert record(server).system_metadata == {"other": "kept"}
    assert instance_lock.locked_reason(record(server)) is None
