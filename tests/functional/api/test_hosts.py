"""``/os-hosts`` as Nova answers it up to 2.42 (and as Tempest's test_hosts and
test_hosts_negative check it): the hosts of the enabled services by zone, a compute
host's resources in total, in use and per project, and 501 for the host actions no
driver offers -- after the same 400/403/404 checks Nova makes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.conftest import Cloud


def _hosts(cloud: Cloud, query: str = "") -> list[dict[str, Any]]:
    response = cloud.client("admin", "2.42").get(f"/v2.1/os-hosts{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["hosts"])


def test_list_by_zone(cloud: Cloud) -> None:
    hosts = _hosts(cloud)
    # the service is the RPC topic ("compute" unless configured; the tests' are unique)
    by_host = {h["host_name"]: h for h in hosts}
    assert by_host["cmp1"]["service"].startswith("compute") and by_host["cmp1"]["zone"] == "nova"
    assert {("cond", "internal"), ("sched", "internal")} <= {
        (h["host_name"], h["zone"]) for h in hosts
    }
    assert {h["host_name"] for h in _hosts(cloud, "?zone=nova")} == {"cmp1", "cmp2"}
    assert _hosts(cloud, "?zone=no-such-zone") == []
    # a disabled service's host is not listed
    admin = cloud.client("admin", "2.42")
    body = {"host": "cmp2", "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/disable", body).status_code == 200
    try:
        assert "cmp2" not in {h["host_name"] for h in _hosts(cloud)}
    finally:
        assert admin.put("/v2.1/os-services/enable", body).status_code == 200


def test_show_a_compute_hosts_resources(cloud: Cloud) -> None:
    server = cloud.boot("alice")
    host = cloud.server(server)["OS-EXT-SRV-ATTR:host"]
    shown = cloud.client("admin", "2.42").get(f"/v2.1/os-hosts/{host}")
    assert shown.status_code == 200, shown.text
    rows = {row["resource"]["project"]: row["resource"] for row in shown.json()["host"]}
    tiny = cloud.client("admin").get("/v2.1/flavors/m1.tiny").json()["flavor"]
    assert {"(total)", "(used_now)", "(used_max)", cloud.projects["alice"]} <= set(rows)
    assert rows["(total)"]["cpu"] > 0 and rows["(total)"]["host"] == host
    mine = rows[cloud.projects["alice"]]
    assert (mine["cpu"], mine["memory_mb"]) == (tiny["vcpus"], tiny["ram"])
    assert rows["(used_max)"]["cpu"] >= mine["cpu"]
    cloud.delete_all_servers()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/v2.1/os-hosts/no-such-host", None, 404, "no-such-host"),
        ("GET", "/v2.1/os-hosts/cond", None, 404, "compute host cond could not be found"),
        ("PUT", "/v2.1/os-hosts/cmp1", {"status": "maybe"}, 400, "status"),
        ("PUT", "/v2.1/os-hosts/cmp1", {"maintenance_mode": "on"}, 400, "maintenance_mode"),
        ("PUT", "/v2.1/os-hosts/cmp1", {}, 400, ""),
        ("PUT", "/v2.1/os-hosts/cmp1", {"status": "enable", "x": 1}, 400, "x"),
        ("PUT", "/v2.1/os-hosts/no-such-host", {"status": "enable"}, 404, "no-such-host"),
        ("PUT", "/v2.1/os-hosts/cmp1", {"status": "disable"}, 501, "disable its compute"),
        ("PUT", "/v2.1/os-hosts/cmp1", {"maintenance_mode": "enable"}, 501, "maintenance"),
        ("GET", "/v2.1/os-hosts/no-such-host/reboot", None, 404, "no-such-host"),
        ("GET", "/v2.1/os-hosts/cmp1/reboot", None, 501, "power actions"),
        ("GET", "/v2.1/os-hosts/cmp1/shutdown", None, 501, "power actions"),
        ("GET", "/v2.1/os-hosts/cmp1/startup", None, 501, "power actions"),
    ],
)
def test_refusals_name_what_was_wrong(
    cloud: Cloud, method: str, path: str, body: Any, status: int, says: str
) -> None:
    response = cloud.client("admin", "2.42").request(method, path, body)
    assert response.status_code == status, response.text
    (fault,) = response.json().values()
    assert says in fault["message"] and "\n" not in fault["message"]


def test_members_are_refused_and_243_removed_it(cloud: Cloud) -> None:
    assert cloud.client("alice", "2.42").get("/v2.1/os-hosts").status_code == 403
    assert cloud.client("alice", "2.42").get("/v2.1/os-hosts/cmp1/reboot").status_code == 403
    assert cloud.client("admin", "2.43").get("/v2.1/os-hosts").status_code == 404
