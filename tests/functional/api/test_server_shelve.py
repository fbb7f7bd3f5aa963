"""``shelve``, ``shelveOffload`` and ``unshelve`` through the whole path (API -> compute
API -> compute host / conductor and scheduler -> fake driver -> the image store), as
Nova answers them: the shelved image, offloading at once (``shelved_offload_time`` 0),
later (the periodic task) or on request, unshelving in place and through the scheduler
(in a zone, on a host), the shelved image deleted afterwards, a failed placement ending
with a fault, and the refusals per microversion.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.compute import api as compute_api
from nubis.core.compute.states import SHELVE_TASK_STATES
from nubis.core.conf import CONF
from nubis.core.context import get_admin_context
from nubis.plugins.periodic_tasks.compute.shelved import offload_shelved_instances
from nubis.plugins.periodic_tasks.conductor.reconcile import Reconciler
from tests.functional.api.conftest import Cloud, wait_for


@pytest.fixture
def server(cloud: Cloud) -> Iterator[str]:
    yield cloud.boot("alice", name="shelf-vm")
    cloud.delete_all_servers()
    for image in objects.ImageList.get_all(get_admin_context()):
        if str(image.name or "").endswith("-shelved"):
            cloud.client("admin").delete(f"/image/v2/images/{image.uuid}")


@pytest.fixture
def keep_shelved() -> Iterator[None]:
    """Shelved servers stay on their host (shelved_offload_time -1)."""
    CONF.set_override("shelved_offload_time", -1)
    yield
    CONF.clear_override("shelved_offload_time")


def act(cloud: Cloud, server_id: str, body: Any, version: str = "2.60", persona: str = "alice"):
    return cloud.client(persona, version).post(f"/v2.1/servers/{server_id}/action", body)


def shelved_images(cloud: Cloud, name: str) -> list[dict[str, Any]]:
    response = cloud.client("alice").get(f"/image/v2/images?name={name}-shelved")
    return list(response.json()["images"])


def host_of(cloud: Cloud, server_id: str) -> Any:
    return cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]


def test_shelve_offloads_at_once_and_unshelve_spawns_from_the_image(
    cloud: Cloud, server: str
) -> None:
    response = act(cloud, server, {"shelve": None})
    assert response.status_code == 202 and response.content == b""
    view = cloud.wait_status(server, "SHELVED_OFFLOADED")
    assert view["OS-EXT-SRV-ATTR:host"] is None and view["OS-EXT-STS:power_state"] == 0
    [image] = shelved_images(cloud, "shelf-vm")
    assert image["status"] == "active" and image["image_type"] == "snapshot"
    assert image["instance_uuid"] == server
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    assert instance.system_metadata["shelved_image_id"] == image["id"]
    assert not any(server in cloud.driver(h).list_instance_uuids() for h in ("cmp1", "cmp2"))
    actions = cloud.client("admin").get(f"/v2.1/servers/{server}/os-instance-actions")
    assert actions.json()["instanceActions"][0]["action"] == "shelve"

    response = act(cloud, server, {"unshelve": None})
    assert response.status_code == 202, response.text
    view = cloud.wait_status(server, "ACTIVE")
    assert view["image"]["id"] == cloud.image_id
    host = view["OS-EXT-SRV-ATTR:host"]
    assert server in cloud.driver(host).list_instance_uuids()
    wait_for(
        lambda: cloud.client("alice").get(f"/image/v2/images/{image['id']}").status_code == 404,
        what="the shelved image to be deleted",
    )
    instance = objects.Instance.get_by_uuid(get_admin_context(), server)
    assert not {"shelved_at", "shelved_image_id", "shelved_host"} & set(instance.system_metadata)


def test_shelve_kept_then_offloaded_on_request(
    cloud: Cloud, server: str, keep_shelved: None
) -> None:
    host = host_of(cloud, server)
    assert act(cloud, server, {"shelve": None}).status_code == 202
    view = cloud.wait_status(server, "SHELVED")
    assert view["OS-EXT-SRV-ATTR:host"] == host and view["OS-EXT-STS:power_state"] == 4
    assert act(cloud, server, {"shelveOffload": None}).status_code == 403
    assert act(cloud, server, {"shelveOffload": None}, persona="admin").status_code == 202
    view = cloud.wait_status(server, "SHELVED_OFFLOADED")
    assert view["OS-EXT-SRV-ATTR:host"] is None
    assert server not in cloud.driver(host).list_instance_uuids()


def test_unshelve_in_place_powers_the_guest_on(
    cloud: Cloud, server: str, keep_shelved: None
) -> None:
    host = host_of(cloud, server)
    assert act(cloud, server, {"shelve": None}).status_code == 202
    cloud.wait_status(server, "SHELVED")
    [image] = shelved_images(cloud, "shelf-vm")
    # a zone or a host (2.77, 2.91: past the microversions nubis serves) is for an
    # offloaded server only
    ctx = get_admin_context()
    instance = objects.Instance.get_by_uuid(ctx, server)
    with pytest.raises(exception.UnshelveInstanceInvalidState, match="SHELVED_OFFLOADED"):
        compute_api.API(CONF).unshelve(ctx, instance, availability_zone="nova")
    with pytest.raises(exception.UnshelveInstanceInvalidState):
        compute_api.API(CONF).unshelve(ctx, instance, host=host)
    assert act(cloud, server, {"unshelve": {"anything": "before 2.77"}}).status_code == 202
    view = cloud.wait_status(server, "ACTIVE")
    assert view["OS-EXT-SRV-ATTR:host"] == host and view["OS-EXT-STS:power_state"] == 1
    wait_for(
        lambda: cloud.client("alice").get(f"/image/v2/images/{image['id']}").status_code == 404,
        what="the shelved image to be deleted",
    )


def test_the_periodic_task_offloads_after_shelved_offload_time(cloud: Cloud, server: str) -> None:
    CONF.set_override("shelved_offload_time", 1)
    try:
        host = host_of(cloud, server)
        assert act(cloud, server, {"shelve": None}).status_code == 202
        cloud.wait_status(server, "SHELVED")
        manager = cloud.services[host].manager
        assert offload_shelved_instances(manager, get_admin_context()) == []  # not yet
        time.sleep(1.2)
        assert offload_shelved_instances(manager, get_admin_context()) == [server]
        cloud.wait_status(server, "SHELVED_OFFLOADED")
    finally:
        CONF.clear_override("shelved_offload_time")


def test_unshelve_to_a_host_in_a_zone_and_a_failed_placement(cloud: Cloud, server: str) -> None:
    # 2.77 (zone) and 2.91 (host) are past the microversions nubis serves: the compute
    # API's own checks
    assert act(cloud, server, {"shelve": None}).status_code == 202
    cloud.wait_status(server, "SHELVED_OFFLOADED")
    api = compute_api.API(CONF)
    ctx = get_admin_context()

    def instance() -> Any:
        return objects.Instance.get_by_uuid(ctx, server)

    with pytest.raises(exception.ComputeHostNotFound, match="nowhere"):
        api.unshelve(ctx, instance(), host="nowhere")
    with pytest.raises(exception.Invalid, match="not available"):
        api.unshelve(ctx, instance(), availability_zone="atlantis")
    assert instance().task_state is None
    # a host that takes nothing: the placement fails, the server stays offloaded
    admin = cloud.client("admin", "2.53")
    services = admin.get("/v2.1/os-services?host=cmp2&binary=nubis-compute").json()
    service_id = services["services"][0]["id"]
    assert admin.put(f"/v2.1/os-services/{service_id}", {"status": "disabled"}).status_code == 200
    try:
        api.unshelve(ctx, instance(), host="cmp2")
        # The status never leaves SHELVED_OFFLOADED: wait for the unshelve to end (the
        # conductor writes the fault and clears the task before it ends the event).
        _, events = cloud.ended_action(server, "unshelve")
        assert events == {"conductor_unshelve_instance": "Error"}
        assert instance().vm_state == "shelved_offloaded" and instance().task_state is None
        [fault] = objects.InstanceFaultList.get_by_instance_uuids(ctx, [server], latest=True)
        assert "no valid host" in fault.message.lower()
    finally:
        admin.put(f"/v2.1/os-services/{service_id}", {"status": "enabled"})
    cloud.services["sched"].manager.refresh_host_states()
    api.unshelve(ctx, instance(), availability_zone="nova", host="cmp2")
    view = cloud.wait_status(server, "ACTIVE")
    assert view["OS-EXT-SRV-ATTR:host"] == "cmp2"


def test_shelve_refusals(cloud: Cloud, server: str) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert act(cloud, missing, {"shelve": None}).status_code == 404
    assert act(cloud, missing, {"unshelve": None}).status_code == 404
    assert act(cloud, server, {"unshelve": None}).status_code == 409  # active
    assert act(cloud, server, {"shelveOffload": None}, persona="admin").status_code == 409
    assert act(cloud, server, {"shelve": {"x": 1}}).status_code == 400
    assert act(cloud, server, {"shelve": None}, persona="bob").status_code == 404
    # a locked server: its owner may not shelve it
    assert act(cloud, server, {"lock": None}, persona="admin").status_code == 202
    assert act(cloud, server, {"shelve": None}).status_code == 409
    assert act(cloud, server, {"unlock": None}, persona="admin").status_code == 202
    assert act(cloud, server, {"shelve": None}).status_code == 202
    assert act(cloud, server, {"shelve": None}).status_code == 409  # shelving, or shelved
    cloud.wait_status(server, "SHELVED_OFFLOADED")
    assert act(cloud, server, {"shelve": None}).status_code == 409
    assert act(cloud, server, {"createImage": {"name": "x"}}).status_code == 409


def test_a_lost_shelve_is_ended_by_the_reconciler(cloud: Cloud, server: str) -> None:
    ctx = get_admin_context()
    for task in SHELVE_TASK_STATES:
        instance = objects.Instance.get_by_uuid(ctx, server)
        instance.task_state = task
        instance.save()
        CONF.set_override("task_timeout", 1, group="conductor")
        try:
            wait_for(
                lambda: server in Reconciler(CONF, "test").run(ctx)["cleared"],
                what=f"the reconciler to clear {task}",
            )
        finally:
            CONF.clear_override("task_timeout", group="conductor")
        assert objects.Instance.get_by_uuid(ctx, server).task_state is None


def test_deleting_a_shelved_server_deletes_its_image(cloud: Cloud, server: str) -> None:
    assert act(cloud, server, {"shelve": None}).status_code == 202
    cloud.wait_status(server, "SHELVED_OFFLOADED")
    [image] = shelved_images(cloud, "shelf-vm")
    assert cloud.client("alice").delete(f"/v2.1/servers/{server}").status_code == 204
    cloud.wait_gone(server)
    assert cloud.client("alice").get(f"/image/v2/images/{image['id']}").status_code == 404
    assert not os.path.exists(os.path.join(str(CONF.api.images_path), image["id"]))
