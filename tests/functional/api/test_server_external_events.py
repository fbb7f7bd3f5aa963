"""``POST /os-server-external-events`` as Nova answers it -- a code per event (200
accepted, 404 no such server, 400 a required tag missing, 422 a server with no host),
200 overall only when every event was accepted, else 207 -- who may send events, the
event names each microversion accepts, and what nubis does with them: a
``power-update`` makes the record take the power state the sender reports; the other
events change nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import objects
from nubis.core.api.identity import IdentityStore
from nubis.core.api.microversion import APIVersion
from nubis.core.api.resources import server_external_events
from nubis.core.compute import external_events
from nubis.core.context import get_admin_context
from nubis.core.virt import power_state
from tests.functional.api.conftest import PASSWORD, Cloud, get_token

PATH = "/v2.1/os-server-external-events"
MISSING = "00000000-0000-4000-8000-000000000000"


def send(cloud: Cloud, events: list[dict[str, Any]], version: str = "2.60", **kw: Any) -> Any:
    return cloud.client(kw.get("persona", "admin"), version).post(PATH, {"events": events})


def record(server_id: str) -> Any:
    return objects.Instance.get_by_uuid(get_admin_context(), server_id)


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    server_id = cloud.boot("alice", name="events-vm")
    yield server_id
    cloud.delete_all_servers()


def test_an_accepted_event_answers_200_and_changes_nothing(cloud: Cloud, server: str) -> None:
    before = record(server)
    event = {"name": "network-vif-plugged", "server_uuid": server, "tag": "port-1"}
    response = send(cloud, [event])
    assert response.status_code == 200, response.text
    assert response.json() == {"events": [{**event, "status": "completed", "code": 200}]}
    # status defaults to completed; a sender's failed/in-progress is answered completed
    # once accepted, as Nova does
    response = send(cloud, [{"name": "network-changed", "server_uuid": server, "status": "failed"}])
    assert response.json()["events"][0]["status"] == "completed"
    after = record(server)
    assert (after.vm_state, after.power_state, after.updated_at) == (
        before.vm_state,
        before.power_state,
        before.updated_at,
    )


def test_codes_per_event_and_the_overall_status(cloud: Cloud, server: str) -> None:
    events = [
        {"name": "network-changed", "server_uuid": server},
        {"name": "network-vif-deleted", "server_uuid": MISSING, "tag": "p"},
        {"name": "volume-extended", "server_uuid": server},  # no tag: 400
        {"name": "volume-extended", "server_uuid": server, "tag": "vol-1"},
    ]
    response = send(cloud, events, "2.51")
    assert response.status_code == 207, response.text
    answered = response.json()["events"]
    assert [(e["code"], e["status"]) for e in answered] == [
        (200, "completed"),
        (404, "failed"),
        (400, "failed"),
        (200, "completed"),
    ]
    assert [e["server_uuid"] for e in answered] == [e["server_uuid"] for e in events]
    assert "tag" not in answered[0] and answered[1]["tag"] == "p"
    # none found: 207 with every event failed (Nova answers no 404 since 2019)
    response = send(cloud, [{"name": "network-changed", "server_uuid": MISSING}])
    assert response.status_code == 207
    assert response.json()["events"][0]["code"] == 404


def test_a_server_without_a_host_answers_422(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    flavor = f"events-{uuid.uuid4().hex[:6]}"
    made = admin.post(
        "/v2.1/flavors",
        {"flavor": {"name": flavor, "id": flavor, "ram": 1 << 30, "vcpus": 1, "disk": 0}},
    )
    assert made.status_code == 200, made.text
    try:
        body = {
            "server": {
                "name": "events-nohost",
                "flavorRef": flavor,
                "imageRef": cloud.image_id,
                "networks": "none",
            }
        }
        created = cloud.client("alice", "2.60").post("/v2.1/servers", body)
        assert created.status_code == 202, created.text
        server_id = created.json()["server"]["id"]
        cloud.wait_status(server_id, "ERROR")  # no host has a TiB of memory
        assert record(server_id).host is None
        response = send(cloud, [{"name": "network-changed", "server_uuid": server_id}])
        assert response.status_code == 207
        assert response.json()["events"][0]["code"] == 422
    finally:
        cloud.delete_all_servers()
        admin.delete(f"/v2.1/flavors/{flavor}")


def test_event_names_grow_with_the_microversion(cloud: Cloud, server: str) -> None:
    refused = send(cloud, [{"name": "volume-extended", "server_uuid": server, "tag": "v"}], "2.50")
    assert refused.status_code == 400 and "volume-extended" in refused.text
    for bad in (
        [],
        [{"name": "network-changed"}],
        [{"name": "network-changed", "server_uuid": "not-a-uuid"}],
        [{"name": "network-changed", "server_uuid": server, "status": "done"}],
        [{"name": "network-changed", "server_uuid": server, "tag": "t" * 256}],
        [{"name": "network-changed", "server_uuid": server, "extra": 1}],
        [{"name": "power-update", "server_uuid": server, "tag": "POWER_OFF"}],  # 2.76
    ):
        response = send(cloud, bad)
        assert response.status_code == 400, (bad, response.text)
    route = server_external_events.routes(None)[0]

    def names(version: str) -> list[str]:
        schema = route.body_schema(APIVersion.parse(version))
        assert schema is not None
        return list(schema["properties"]["events"]["items"]["properties"]["name"]["enum"])

    network = [
        "network-changed",
        "network-vif-plugged",
        "network-vif-unplugged",
        "network-vif-deleted",
    ]
    assert names("2.1") == names("2.50") == network
    assert names("2.51") == names("2.75") == [*network, "volume-extended"]
    assert names("2.76")[-1] == "power-update" and "accelerator-request-bound" not in names("2.81")
    assert names("2.82")[-1] == "accelerator-request-bound"
    assert names("2.92")[-1] == "accelerator-request-bound"
    assert names("2.93")[-1] == "volume-reimaged"


def test_only_services_and_administrators_send_events(cloud: Cloud, server: str) -> None:
    event = [{"name": "network-changed", "server_uuid": server}]
    assert send(cloud, event, persona="alice").status_code == 403
    assert cloud.client(None).post(PATH, {"events": event}).status_code == 401
    store = IdentityStore()
    name = f"svc-{uuid.uuid4().hex[:6]}"
    store.create_user(name, PASSWORD, project="service", roles=("service",))
    try:
        token = get_token(cloud.url, name, "service")
        client = cloud.client(None, "2.60")
        client.token = token
        response = client.post(PATH, {"events": event})
        assert response.status_code == 200, response.text
    finally:
        store.delete_user(name)


def test_power_update_takes_the_senders_power_state(cloud: Cloud, server: str) -> None:
    """What the handler hands an accepted ``power-update`` to (2.76, beyond the
    microversions nubis serves so far)."""
    context = get_admin_context()

    def update(tag: str | None) -> str:
        return external_events.handle(context, record(server), "power-update", tag, "completed")

    assert record(server).power_state == power_state.RUNNING
    assert update("POWER_ON") == external_events.IGNORED  # it is on already
    assert update("POWER_OFF") == external_events.APPLIED
    off = record(server)
    assert (off.vm_state, off.power_state, off.task_state) == (
        "stopped",
        power_state.SHUTDOWN,
        None,
    )
    assert cloud.server(server)["status"] == "SHUTOFF"
    assert update("POWER_OFF") == external_events.IGNORED
    assert update("SOMETHING") == external_events.IGNORED
    assert update("POWER_ON") == external_events.APPLIED
    on = record(server)
    assert (on.vm_state, on.power_state) == ("active", power_state.RUNNING)
    actions = cloud.client("alice").get(f"/v2.1/servers/{server}/os-instance-actions").json()
    assert [a["action"] for a in actions["instanceActions"]][:2] == ["start", "stop"]
    # a task in progress wins: the event does nothing
    busy = record(server)
    busy.task_state = "rebooting"
    busy.save()
    try:
        assert update("POWER_OFF") == external_events.IGNORED
        assert record(server).vm_state == "active"
    finally:
        busy.task_state = None
        busy.save()
    other = external_events.handle(
        context, record(server), "network-vif-unplugged", "p", "completed"
    )
    assert other == external_events.RECORDED
