"""Version discovery as Nova answers it (and as Tempest's test_versions checks it):
``GET /`` lists v2.0 then v2.1, every self link leads to a version document with the
same self link, and the legacy ``/v2/`` API is the v2.1 one at microversion 2.1."""

from __future__ import annotations

import requests

from tests.functional.api.conftest import Cloud


def test_root_lists_v20_first_and_every_self_link_is_followable(cloud: Cloud) -> None:
    listed = requests.get(f"{cloud.url}/", timeout=10)
    assert listed.status_code == 200, listed.text
    versions = listed.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    assert versions[0]["status"] == "SUPPORTED" and versions[0]["version"] == ""
    assert versions[1]["status"] == "CURRENT" and versions[1]["min_version"] == "2.1"
    for version in versions:
        (self_link,) = [link for link in version["links"] if link["rel"] == "self"]
        document = requests.get(self_link["href"], timeout=10)
        assert document.status_code == 200, document.text
        shown = document.json()["version"]
        assert shown["id"] == version["id"]
        assert [link for link in shown["links"] if link["rel"] == "self"] == [self_link]


def test_legacy_v2_is_v21_at_its_base_microversion(cloud: Cloud) -> None:
    alice = cloud.client("alice", "2.60")
    legacy = alice.get("/v2/flavors/m1.tiny")
    assert legacy.status_code == 200, legacy.text
    # 2.55 would add the description: the legacy API ignores the microversion asked for
    assert "description" not in legacy.json()["flavor"]
    assert "OpenStack-API-Version" not in legacy.headers
    assert "X-OpenStack-Nova-API-Version" not in legacy.headers
    current = alice.get("/v2.1/flavors/m1.tiny")
    assert "description" in current.json()["flavor"]
    assert current.headers["OpenStack-API-Version"] == "compute 2.60"
    assert alice.get("/v2/servers").status_code == 200
    assert cloud.client(None).get("/v2/servers").status_code == 401
    assert alice.get("/v2/no-such-thing").status_code == 404
