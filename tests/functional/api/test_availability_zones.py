"""``/os-availability-zone`` as Nova answers it: the compute zone for everyone, both
zones with hosts and services for administrators, a zone unavailable when every one of
its services is disabled."""

from __future__ import annotations

from tests.functional.api.conftest import Cloud


def _zones(cloud: Cloud, persona: str, path: str) -> dict[str, dict]:
    response = cloud.client(persona).get(f"/v2.1/os-availability-zone{path}")
    assert response.status_code == 200, response.text
    return {zone["zoneName"]: zone for zone in response.json()["availabilityZoneInfo"]}


def _set_compute_status(cloud: Cloud, host: str, action: str) -> None:
    body = {"host": host, "binary": "nubis-compute"}
    response = cloud.client("admin").put(f"/v2.1/os-services/{action}", body)
    assert response.status_code == 200, response.text


def test_list_and_detail(cloud: Cloud) -> None:
    listed = _zones(cloud, "alice", "")
    assert listed == {"nova": {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}}

    assert cloud.client("alice").get("/v2.1/os-availability-zone/detail").status_code == 403
    detail = _zones(cloud, "admin", "/detail")
    assert set(detail) == {"nova", "internal"}
    computes = detail["nova"]["hosts"]
    assert set(computes) == {"cmp1", "cmp2"}
    assert computes["cmp1"]["nubis-compute"]["available"] is True
    assert computes["cmp1"]["nubis-compute"]["active"] is True
    internal = {b for services in detail["internal"]["hosts"].values() for b in services}
    assert {"nubis-conductor", "nubis-scheduler"} <= internal


def test_a_zone_whose_services_are_all_disabled_is_unavailable(cloud: Cloud) -> None:
    try:
        _set_compute_status(cloud, "cmp1", "disable")
        detail = _zones(cloud, "admin", "/detail")
        assert set(detail["nova"]["hosts"]) == {"cmp2"}  # a disabled service is not listed
        _set_compute_status(cloud, "cmp2", "disable")
        assert _zones(cloud, "alice", "")["nova"]["zoneState"] == {"available": False}
        assert _zones(cloud, "admin", "/detail")["nova"]["hosts"] is None
    finally:
        _set_compute_status(cloud, "cmp1", "enable")
        _set_compute_status(cloud, "cmp2", "enable")
    assert _zones(cloud, "alice", "")["nova"]["zoneState"] == {"available": True}
