"""``/os-simple-tenant-usage`` computed from instance records as Nova computes it:
hours from launch to termination clipped to the period, sizes times hours, deleted
servers included, paging from 2.40, administrators list every project."""

from __future__ import annotations

import datetime

import pytest

from tests.functional.api.conftest import Cloud

FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def _usage(cloud: Cloud, persona: str, path: str, version: str = "2.1", **query: str):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    response = cloud.client(persona, version).get(f"/v2.1/os-simple-tenant-usage{path}?{params}")
    assert response.status_code == 200, response.text
    return response.json()


def test_usage_of_a_running_then_deleted_server(cloud: Cloud) -> None:
    server_id = cloud.boot("bob", name="metered")
    server = cloud.server(server_id)
    launched = datetime.datetime.fromisoformat(server["OS-SRV-USG:launched_at"])
    project = server["tenant_id"]
    window = {
        "start": (launched - datetime.timedelta(hours=1)).strftime(FORMAT),
        "end": (launched + datetime.timedelta(hours=1)).strftime(FORMAT),
    }
    try:
        usage = _usage(cloud, "bob", f"/{project}", **window)["tenant_usage"]
        mine = [s for s in usage["server_usages"] if s["instance_id"] == server_id]
        assert len(mine) == 1 and mine[0]["hours"] == pytest.approx(1.0)
        assert mine[0]["state"] == "active" and mine[0]["flavor"] == "m1.tiny"
        assert mine[0]["memory_mb"] == 512 and mine[0]["vcpus"] == 1 and mine[0]["local_gb"] == 1
        assert usage["total_hours"] >= 1.0
        assert usage["total_memory_mb_usage"] >= 512.0

        # a period before the launch counts nothing of it
        before = {
            "start": (launched - datetime.timedelta(hours=2)).strftime(FORMAT),
            "end": (launched - datetime.timedelta(hours=1)).strftime(FORMAT),
        }
        earlier = _usage(cloud, "bob", f"/{project}", **before)["tenant_usage"]
        assert server_id not in {s["instance_id"] for s in earlier.get("server_usages", [])}

        listing = _usage(cloud, "admin", "", detailed="1", **window)["tenant_usages"]
        assert project in {u["tenant_id"] for u in listing}
        assert cloud.client("bob").get("/v2.1/os-simple-tenant-usage").status_code == 403
        other = cloud.client("alice").get(f"/v2.1/os-simple-tenant-usage/{project}")
        assert other.status_code == 403
    finally:
        cloud.client("bob").delete(f"/v2.1/servers/{server_id}")
        cloud.wait_gone(server_id)

    usage = _usage(cloud, "bob", f"/{project}", **window)["tenant_usage"]
    gone = [s for s in usage["server_usages"] if s["instance_id"] == server_id]
    assert gone[0]["state"] == "terminated" and gone[0]["ended_at"] is not None
    assert 0 < gone[0]["hours"] < 1.0


def test_paging_and_bad_periods(cloud: Cloud) -> None:
    # from just before these servers: those other tests made and deleted are not counted
    begin = datetime.datetime.now(datetime.UTC)
    ids = [cloud.boot("bob", name=f"paged-{i}") for i in range(3)]
    try:
        project = cloud.server(ids[0])["tenant_id"]
        window = {"start": begin.strftime(FORMAT), "end": "2999-01-01T00:00:00", "limit": "2"}
        first = _usage(cloud, "bob", f"/{project}", "2.40", **window)
        assert len(first["tenant_usage"]["server_usages"]) == 2
        href = first["tenant_usage_links"][0]["href"]
        marker = href.split("marker=")[1].split("&")[0]
        rest = _usage(cloud, "bob", f"/{project}", "2.40", marker=marker, **window)
        seen = {s["instance_id"] for s in first["tenant_usage"]["server_usages"]}
        seen |= {s["instance_id"] for s in rest["tenant_usage"]["server_usages"]}
        assert seen == set(ids)
        assert "tenant_usage_links" not in rest
    finally:
        for server_id in ids:
            cloud.client("bob").delete(f"/v2.1/servers/{server_id}")
        for server_id in ids:
            cloud.wait_gone(server_id)

    bob = cloud.client("bob")
    bad = bob.get(f"/v2.1/os-simple-tenant-usage/{project}?start=yesterday")
    assert bad.status_code == 400 and "Datetime is in invalid format" in bad.text
    backwards = bob.get(
        f"/v2.1/os-simple-tenant-usage/{project}?start=2020-01-02T00:00:00&end=2020-01-01T00:00:00"
    )
    assert backwards.status_code == 400 and "start time cannot occur after" in backwards.text


def test_an_empty_tenant_id_is_not_the_list(cloud: Cloud) -> None:
    """``GET /os-simple-tenant-usage/`` names a project with an empty id: 404 as in Nova
    (Tempest's test_get_usage_tenant_with_empty_tenant_id), not every project's usage."""
    admin = cloud.client("admin")
    query = "?start=2024-01-01T00:00:00&end=2024-01-02T00:00:00"
    response = admin.get(f"/v2.1/os-simple-tenant-usage/{query}")
    assert response.status_code == 404, response.text
    assert "empty id" in response.json()["itemNotFound"]["message"]
    assert admin.get(f"/v2.1/os-simple-tenant-usage{query}").status_code == 200
