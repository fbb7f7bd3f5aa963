"""``/os-hypervisors/statistics`` (up to 2.87) and, before 2.53, ``/{pattern}/search``
and ``/{pattern}/servers``, answered as Nova answers them."""

from __future__ import annotations

from tests.functional.api.conftest import Cloud


def test_statistics_sum_the_nodes_of_enabled_services(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.52")
    nodes = admin.get("/v2.1/os-hypervisors/detail").json()["hypervisors"]
    stats = admin.get("/v2.1/os-hypervisors/statistics").json()["hypervisor_statistics"]
    assert stats["count"] == len(nodes) == 2
    for key in ("vcpus", "memory_mb", "local_gb", "vcpus_used", "running_vms", "free_ram_mb"):
        assert stats[key] == sum(node[key] for node in nodes), key

    body = {"host": "cmp1", "binary": "nubis-compute"}
    assert admin.put("/v2.1/os-services/disable", body).status_code == 200
    try:
        fewer = admin.get("/v2.1/os-hypervisors/statistics").json()["hypervisor_statistics"]
        assert fewer["count"] == 1
    finally:
        admin.put("/v2.1/os-services/enable", body)
    assert cloud.client("alice").get("/v2.1/os-hypervisors/statistics").status_code == 403
    gone = cloud.client("admin", "2.88").get("/v2.1/os-hypervisors/statistics")
    assert gone.status_code in (404, 406)  # past nubis's newest microversion, or gone


def test_search_and_servers_before_2_53(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.52")
    found = admin.get("/v2.1/os-hypervisors/cmp/search").json()["hypervisors"]
    assert len(found) == 2 and {"id", "hypervisor_hostname", "state", "status"} <= set(found[0])
    assert admin.get("/v2.1/os-hypervisors/nowhere/search").status_code == 404
    server_id = cloud.boot("alice", name="on-a-node")
    try:
        host = cloud.server(server_id)["OS-EXT-SRV-ATTR:host"]
        listed = admin.get(f"/v2.1/os-hypervisors/{host}/servers").json()["hypervisors"]
        servers = [s["uuid"] for h in listed for s in h.get("servers", [])]
        assert server_id in servers
    finally:
        cloud.client("alice").delete(f"/v2.1/servers/{server_id}")
        cloud.wait_gone(server_id)
    assert cloud.client("admin", "2.53").get("/v2.1/os-hypervisors/cmp/search").status_code == 404
