"""``GET /os-hypervisors/{id}/uptime`` (up to 2.87), answered as Nova answers it: the
node's view with the ``uptime`` line its compute host's driver reports (the fake
driver: up since its init_host), and each refusal."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from tests.functional.api.conftest import Cloud

UPTIME = re.compile(
    r"^ \d\d:\d\d:\d\d up (\d+ days?, )?( ?\d+:\d\d|\d+ min),  0 user,  "
    r"load average: 0\.00, 0\.00, 0\.00$"
)


def node_of(cloud: Cloud, host: str, version: str) -> dict[str, Any]:
    nodes = cloud.client("admin", version).get("/v2.1/os-hypervisors").json()["hypervisors"]
    return next(n for n in nodes if n["hypervisor_hostname"] == host)


@pytest.mark.parametrize("version", ["2.1", "2.53"])
def test_the_uptime_of_a_hypervisor(cloud: Cloud, version: str) -> None:
    node = node_of(cloud, "cmp1", version)
    before = datetime.datetime.now()
    response = cloud.client("admin", version).get(f"/v2.1/os-hypervisors/{node['id']}/uptime")
    after = datetime.datetime.now()
    assert response.status_code == 200, response.text
    body = response.json()["hypervisor"]
    assert set(body) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert body["id"] == node["id"] and body["hypervisor_hostname"] == "cmp1"
    assert (body["state"], body["status"]) == ("up", "enabled")
    assert UPTIME.match(body["uptime"]), body["uptime"]
    # The host's time of day when it answered.
    seconds = int((after - before).total_seconds()) + 2
    stamps = {f"{before + datetime.timedelta(seconds=s):%H:%M:%S}" for s in range(seconds)}
    assert body["uptime"][1:9] in stamps


def test_who_may_read_it_and_unknown_ids(cloud: Cloud) -> None:
    node = node_of(cloud, "cmp1", "2.1")
    assert cloud.client("alice").get(f"/v2.1/os-hypervisors/{node['id']}/uptime").status_code == 403
    admin = cloud.client("admin")
    assert admin.get("/v2.1/os-hypervisors/999999/uptime").status_code == 404
    assert admin.get("/v2.1/os-hypervisors/not-a-number/uptime").status_code == 404
    assert (
        cloud.client("admin", "2.53")
        .get("/v2.1/os-hypervisors/00000000-0000-4000-8000-000000000000/uptime")
        .status_code
        == 404
    )


def test_a_host_that_is_down_is_400_one_that_cannot_tell_501(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = node_of(cloud, "cmp2", "2.1")
    admin = cloud.client("admin", "2.11")
    by_host = {"host": "cmp2", "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": True}).ok
    try:
        down = admin.get(f"/v2.1/os-hypervisors/{node['id']}/uptime")
    finally:
        assert admin.put("/v2.1/os-services/force-down", {**by_host, "forced_down": False}).ok
    assert down.status_code == 400
    assert down.json()["badRequest"]["message"] == (
        "compute service of cmp2 is unavailable at this time"
    )

    drv = cloud.driver("cmp2")
    monkeypatch.setattr(drv, "capabilities", {**drv.capabilities, "supports_host_uptime": False})
    refused = admin.get(f"/v2.1/os-hypervisors/{node['id']}/uptime")
    assert refused.status_code == 501
    assert refused.json()["notImplemented"]["message"] == (
        "get_host_uptime is not supported by the FakeDriver virt driver"
    )
