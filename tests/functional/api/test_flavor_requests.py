"""``POST /flavors`` takes the id as Nova's schema does: a string, a number (kept as
its text) or null (a generated UUID)."""

from __future__ import annotations

import uuid

from tests.functional.api.conftest import Cloud


def test_flavor_id_may_be_a_string_a_number_or_null(cloud: Cloud) -> None:
    admin = cloud.client("admin", "2.60")
    base = {"ram": 64, "vcpus": 1, "disk": 1}
    tag = uuid.uuid4().hex[:6]
    number = int(tag, 16) % 100000 + 90000
    created = []
    try:
        for given, expected in ((number, str(number)), (f"id-{tag}", f"id-{tag}"), (None, None)):
            body = {"flavor": {"name": f"f-{tag}-{given}", "id": given, **base}}
            response = admin.post("/v2.1/flavors", body)
            assert response.status_code == 200, response.text
            flavor_id = response.json()["flavor"]["id"]
            created.append(flavor_id)
            if expected is None:
                assert uuid.UUID(flavor_id)
            else:
                assert flavor_id == expected
            assert admin.get(f"/v2.1/flavors/{flavor_id}").status_code == 200
        refused = admin.post("/v2.1/flavors", {"flavor": {"name": "x", "id": True, **base}})
        assert refused.status_code == 400 and "flavor.id" in refused.text
    finally:
        for flavor_id in created:
            admin.delete(f"/v2.1/flavors/{flavor_id}")
