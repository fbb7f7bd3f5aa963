"""Servers through the REST API on the in-process cloud: create, show, list, stop,
start, reboot, live-migrate, delete."""

from __future__ import annotations

from tests.functional.api.conftest import Cloud, wait_for


def test_server_lifecycle(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.60")
    server_id = cloud.boot("alice", name="life")
    shown = alice.get(f"/v2.1/servers/{server_id}").json()["server"]
    assert shown["name"] == "life" and shown["status"] == "ACTIVE"
    assert shown["image"]["id"] == cloud.image_id
    assert "OS-EXT-SRV-ATTR:host" not in shown  # admin-only attribute
    listed = alice.get("/v2.1/servers/detail").json()["servers"]
    assert server_id in [s["id"] for s in listed]
    assert alice.post(f"/v2.1/servers/{server_id}/action", {"os-stop": None}).status_code == 202
    cloud.wait_status(server_id, "SHUTOFF")
    assert alice.post(f"/v2.1/servers/{server_id}/action", {"os-start": None}).status_code == 202
    cloud.wait_status(server_id, "ACTIVE")
    response = alice.post(f"/v2.1/servers/{server_id}/action", {"reboot": {"type": "HARD"}})
    assert response.status_code == 202
    cloud.wait_status(server_id, "ACTIVE")
    admin = cloud.client("admin", "2.60")
    source = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
    target = "cmp2" if source == "cmp1" else "cmp1"
    response = admin.post(
        f"/v2.1/servers/{server_id}/action",
        {"os-migrateLive": {"host": target, "block_migration": "auto"}},
    )
    assert response.status_code == 202, response.text
    wait_for(lambda: cloud.server(server_id)["OS-EXT-SRV-ATTR:host"] == target, what="moved")
    cloud.wait_status(server_id, "ACTIVE")
    events = alice.get(f"/v2.1/servers/{server_id}/os-instance-actions").json()
    assert {"create", "stop", "start", "reboot", "live-migration"} <= {
        a["action"] for a in events["instanceActions"]
    }
    assert alice.delete(f"/v2.1/servers/{server_id}").status_code == 204
    cloud.wait_gone(server_id)
