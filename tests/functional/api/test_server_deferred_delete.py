"""Deferred delete through the whole path (API -> compute API -> compute RPC -> compute
manager -> fake driver), as Nova does it with ``[DEFAULT] reclaim_instance_interval``:
``DELETE`` soft-deletes (the guest powered off, the server shown SOFT_DELETED, left out
of lists and quotas), ``restore`` and ``forceDelete``, the host's
``reclaim_queued_deletes`` task, the cases Nova deletes at once instead, and the
refusals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import objects
from nubis.core.compute import api as compute_api
from nubis.core.compute.states import TaskState
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.core.virt import power_state
from nubis.plugins.periodic_tasks.compute import reclaim_queued_deletes
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for

INTERVAL = 3600


@pytest.fixture
def deferred(flags: Any) -> None:
    flags(reclaim_instance_interval=INTERVAL)


@pytest.fixture
def server(cloud: Cloud, deferred: None) -> Iterator[str]:
    yield cloud.boot("alice", name="deferred-vm")
    CONF.clear_override("reclaim_instance_interval")  # the cleanup deletes at once
    cloud.delete_all_servers()


def act(cloud: Cloud, server_id: str, action: str, persona: str = "alice") -> Any:
    return cloud.client(persona, "2.60").post(f"/v2.1/servers/{server_id}/action", {action: None})


def soft_delete(cloud: Cloud, server_id: str, persona: str = "alice") -> dict[str, Any]:
    assert cloud.client(persona).delete(f"/v2.1/servers/{server_id}").status_code == 204
    return cloud.wait_status(server_id, "SOFT_DELETED")


def guest(cloud: Cloud, server_id: str) -> Any:
    host = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
    return cloud.driver(host)._guests.get(server_id)


def used_instances(cloud: Cloud) -> int:
    limits = cloud.client("alice").get("/v2.1/limits").json()["limits"]["absolute"]
    return int(limits["totalInstancesUsed"])


def test_delete_soft_deletes_and_restore_brings_it_back(cloud: Cloud, server: str) -> None:
    used = used_instances(cloud)
    deleted = soft_delete(cloud, server)
    assert deleted["OS-EXT-STS:power_state"] == power_state.SHUTDOWN
    assert deleted["OS-EXT-STS:vm_state"] == "soft-delete"
    assert guest(cloud, server).state == power_state.SHUTDOWN  # kept, off
    assert cloud.ended_action(server) == ("delete", {"compute_soft_delete_instance": "Success"})
    assert used_instances(cloud) == used - 1  # counted out, as Nova counts it
    row = objects.Instance.get_by_uuid(get_admin_context(), server)
    assert row.deleted_at is not None and not row.deleted

    alice = cloud.client("alice", "2.60")
    assert server not in {s["id"] for s in alice.get("/v2.1/servers").json()["servers"]}
    admin = cloud.client("admin", "2.60")
    deleted_ones = admin.get("/v2.1/servers/detail?all_tenants=1&deleted=true").json()
    assert server in {s["id"] for s in deleted_ones["servers"]}
    live_ones = admin.get("/v2.1/servers?all_tenants=1&deleted=false").json()
    assert server not in {s["id"] for s in live_ones["servers"]}
    since = alice.get("/v2.1/servers?changes-since=2000-01-01T00:00:00Z").json()
    assert server in {s["id"] for s in since["servers"]}

    restored = act(cloud, server, "restore")
    assert restored.status_code == 202 and restored.text == ""
    active = cloud.wait_status(server, "ACTIVE")
    assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert guest(cloud, server).state == power_state.RUNNING
    assert cloud.ended_action(server) == ("restore", {"compute_restore_instance": "Success"})
    assert used_instances(cloud) == used
    assert objects.Instance.get_by_uuid(get_admin_context(), server).deleted_at is None


def test_force_delete_a_soft_deleted_and_an_active_server(cloud: Cloud, server: str) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    soft_delete(cloud, server)
    forced = act(cloud, server, "forceDelete")
    assert forced.status_code == 202 and forced.text == ""
    cloud.wait_gone(server)
    assert server not in cloud.driver(host).list_instance_uuids()

    other = cloud.boot("alice", name="deferred-other")
    assert act(cloud, other, "forceDelete").status_code == 202  # any state, as Nova's
    cloud.wait_gone(other)


def test_the_host_reclaims_what_waited_long_enough(cloud: Cloud, server: str, flags: Any) -> None:
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    manager = cloud.services[host].manager
    young = cloud.boot("alice", name="deferred-young")
    soft_delete(cloud, server)
    ctx = get_admin_context()
    assert reclaim_queued_deletes(manager, ctx) == []  # not an hour old
    flags(reclaim_instance_interval=1)
    time.sleep(1.1)
    soft_delete(cloud, young)
    young_host = cloud.server(young)["OS-EXT-SRV-ATTR:host"]
    assert reclaim_queued_deletes(manager, ctx) == [server]
    cloud.wait_gone(server)
    assert server not in cloud.driver(host).list_instance_uuids()
    assert cloud.server(young)["status"] == "SOFT_DELETED"
    flags(reclaim_instance_interval=0)
    assert reclaim_queued_deletes(cloud.services[young_host].manager, ctx) == []


def test_deleted_at_once_where_nova_does(cloud: Cloud, deferred: None) -> None:
    # A build that failed on every host: never launched, no host.
    drivers = [cloud.driver(h) for h in ("cmp1", "cmp2")]
    for drv in drivers:
        drv.fail_next_spawns(5, "no room")
    try:
        made = cloud.client("alice", "2.60").post(
            "/v2.1/servers",
            {
                "server": {
                    "name": "deferred-failed",
                    "flavorRef": cloud.flavor_id,
                    "imageRef": cloud.image_id,
                    "networks": "none",
                }
            },
        )
        failed = made.json()["server"]["id"]
        wait_for(lambda: cloud.server(failed)["status"] == "ERROR", what="the build to fail")
    finally:
        for drv in drivers:
            drv.fail_next_spawns(0)
    assert cloud.client("alice").delete(f"/v2.1/servers/{failed}").status_code == 204
    cloud.wait_gone(failed)

    # A host that is down: deleted here, as a delete does.
    down = cloud.boot("alice", name="deferred-down")
    host = cloud.server(down)["OS-EXT-SRV-ATTR:host"]
    by_host = {"host": host, "binary": "nubis-compute"}
    admin = cloud.client("admin", "2.11")
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        assert cloud.client("alice").delete(f"/v2.1/servers/{down}").status_code == 204
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    cloud.wait_gone(down)


def test_an_older_host_gets_an_ordinary_delete(cloud: Cloud, server: str, flags: Any) -> None:
    flags(group="upgrade_levels", compute="1.5")
    api = compute_api.API(CONF)  # its RPC client is capped at 1.5 when made
    ctx = get_admin_context()
    try:
        api.soft_delete(ctx, objects.Instance.get_by_uuid(ctx, server))
    finally:
        api.cleanup()
    cloud.wait_gone(server)


def test_restore_refusals(cloud: Cloud, server: str, flags: Any) -> None:
    active = act(cloud, server, "restore")
    assert active.status_code == 409, active.text
    assert "cannot restore instance" in active.text
    assert "while it is vm_state active; it must be vm_state soft-delete" in active.text
    missing = act(cloud, "00000000-0000-4000-8000-000000000000", "restore")
    assert missing.status_code == 404
    assert act(cloud, "00000000-0000-4000-8000-000000000000", "forceDelete").status_code == 404
    assert act(cloud, server, "restore", persona="bob").status_code == 404

    soft_delete(cloud, server)
    used = used_instances(cloud)
    flags(group="quota", instances=used)  # no room for it again
    over = act(cloud, server, "restore")
    assert over.status_code == 403 and "Quota exceeded for instances" in over.text
    flags(group="quota", instances=-1)
    assert cloud.server(server)["status"] == "SOFT_DELETED"

    assert act(cloud, server, "lock").status_code == 202
    locked = act(cloud, server, "restore")
    assert locked.status_code == 409 and "is locked" in locked.text
    assert act(cloud, server, "forceDelete").status_code == 409
    assert act(cloud, server, "unlock").status_code == 202


def test_a_rescued_server_is_restored_with_its_own_guest(cloud: Cloud, server: str) -> None:
    rescued = cloud.client("alice").post(f"/v2.1/servers/{server}/action", {"rescue": None})
    assert rescued.status_code == 200
    cloud.wait_status(server, "RESCUE")
    soft_delete(cloud, server)
    assert guest(cloud, server).rescue_image is None  # unrescued first
    assert act(cloud, server, "restore").status_code == 202
    cloud.wait_status(server, "ACTIVE")
    assert guest(cloud, server).console[-4].endswith(f"image {cloud.image_id}")


def test_lost_requests_and_a_bus_that_refuses(
    cloud: Cloud, server: str, flags: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rpcapi = cloud.api.app.deps.compute_api.compute_rpcapi

    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the broker closed the connection")

    with monkeypatch.context() as patched:
        patched.setattr(rpcapi, "soft_delete_instance", refused)
        response = cloud.client("alice").delete(f"/v2.1/servers/{server}")
    assert response.status_code == 503 and "the broker closed the connection" in response.text
    row = objects.Instance.get_by_uuid(get_admin_context(), server)
    assert (row.vm_state, row.task_state, row.deleted_at) == ("active", None, None)

    soft_delete(cloud, server)
    manager = cloud.services[cloud.server(server)["OS-EXT-SRV-ATTR:host"]].manager
    monkeypatch.setattr(manager, "restore_instance", lambda *a, **k: None)  # the cast is lost
    assert act(cloud, server, "restore").status_code == 202
    assert cloud.server(server)["OS-EXT-STS:task_state"] == TaskState.RESTORING
    flags(group="conductor", task_timeout=1)
    time.sleep(2.1)  # updated_at has a resolution of one second
    Reconciler(CONF, "test-conductor").run(get_admin_context())
    ended = cloud.server(server)
    assert (ended["status"], ended["OS-EXT-STS:task_state"]) == ("SOFT_DELETED", None)
