"""``/os-services`` with Nova's binary names: ``nova-compute``, ``nova-conductor`` and
``nova-scheduler`` filter and name nubis's ``nubis-*`` services (Tempest's
test_get_service_by_service_binary_name filters by ``nova-compute`` and expects that
name back); without them the services carry nubis's names.
"""

from __future__ import annotations

from tests.functional.api.conftest import Cloud


def listing(cloud: Cloud, query: str = "", version: str = "2.60") -> list[dict[str, object]]:
    response = cloud.client("admin", version).get(f"/v2.1/os-services{query}")
    assert response.status_code == 200, response.text
    services: list[dict[str, object]] = response.json()["services"]
    return services


def test_novas_binary_names_filter_nubis_services(cloud: Cloud) -> None:
    everything = listing(cloud)
    assert {s["binary"] for s in everything} >= {"nubis-compute", "nubis-conductor"}
    assert not any(str(s["binary"]).startswith("nova-") for s in everything)
    for nova, nubis in (
        ("nova-compute", "nubis-compute"),
        ("nova-conductor", "nubis-conductor"),
        ("nova-scheduler", "nubis-scheduler"),
    ):
        theirs = listing(cloud, f"?binary={nova}")
        ours = listing(cloud, f"?binary={nubis}")
        assert theirs, nova
        assert {s["binary"] for s in theirs} == {nova}
        assert {s["binary"] for s in ours} == {nubis}
        assert [s["id"] for s in theirs] == [s["id"] for s in ours]
        assert [{**s, "binary": nubis} for s in theirs] == ours
    computes = listing(cloud, "?binary=nova-compute&host=cmp1")
    assert [(s["host"], s["binary"]) for s in computes] == [("cmp1", "nova-compute")]
    assert listing(cloud, "?binary=nova-api") == []
    assert listing(cloud, "?binary=nova-compute", version="2.1")


def test_updates_by_host_take_novas_names(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.52")
    body = {"host": "cmp2", "binary": "nova-compute"}
    try:
        response = admin.put("/v2.1/os-services/disable", body)
        assert response.status_code == 200, response.text
        assert response.json() == {"service": {**body, "status": "disabled"}}
        record = listing(cloud, "?binary=nubis-compute&host=cmp2")[0]
        assert record["status"] == "disabled"
        reason = {**body, "disabled_reason": "maintenance"}
        response = admin.put("/v2.1/os-services/disable-log-reason", reason)
        assert response.status_code == 200, response.text
        assert response.json()["service"]["binary"] == "nova-compute"
        missing = admin.put("/v2.1/os-services/disable", {"host": "cmp2", "binary": "nova-api"})
        assert missing.status_code == 404, missing.text
    finally:
        response = admin.put("/v2.1/os-services/enable", body)
        assert response.status_code == 200, response.text
    assert listing(cloud, "?binary=nubis-compute&host=cmp2")[0]["status"] == "enabled"
