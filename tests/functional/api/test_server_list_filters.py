"""``GET /servers`` filters read as Nova reads them: ``name`` a regular expression,
``status`` in any case (unknown: empty before 2.38, 400 from 2.38), ``all_tenants``
with no value meaning true."""

from __future__ import annotations

import uuid

from nubis.core import objects
from nubis.core.context import get_admin_context
from tests.functional.api.conftest import Cloud


def _names(cloud: Cloud, query: str, persona: str = "alice", version: str = "2.60") -> set[str]:
    response = cloud.client(persona, version).get(f"/v2.1/servers?{query}")
    assert response.status_code == 200, response.text
    return {server["name"] for server in response.json()["servers"]}


def test_name_status_and_all_tenants_filters(cloud: Cloud) -> None:
    tag = uuid.uuid4().hex[:6]
    first = cloud.boot("alice", name=f"{tag}-instance-1")
    second = cloud.boot("alice", name=f"{tag}-instance-22")
    other = cloud.boot("bob", name=f"{tag}-other")
    try:
        assert _names(cloud, f"name=^{tag}.*-instance-[0-9]%2B$") == {
            f"{tag}-instance-1",
            f"{tag}-instance-22",
        }
        assert _names(cloud, f"name={tag}-instance-2") == {f"{tag}-instance-22"}
        refused = cloud.client("alice").get("/v2.1/servers?name=(a)%5C1")
        assert refused.status_code == 400
        assert "not a regular expression nubis can match" in refused.json()["badRequest"]["message"]

        assert _names(cloud, f"name={tag}&status=active") == {
            f"{tag}-instance-1",
            f"{tag}-instance-22",
        }
        assert _names(cloud, f"name={tag}&status=Active") == _names(
            cloud, f"name={tag}&status=ACTIVE"
        )
        # REBUILD: a rebuild task in any state a rebuild starts from
        instance = objects.Instance.get_by_uuid(get_admin_context(), first)
        instance.task_state = "rebuild_spawning"
        instance.save()
        try:
            assert _names(cloud, f"name={tag}&status=rebuild") == {f"{tag}-instance-1"}
        finally:
            instance.task_state = None
            instance.save()
        assert _names(cloud, f"name={tag}&status=REBUILD") == set()
        # a status Nova knows and nubis has no state for matches nothing
        assert _names(cloud, f"name={tag}&status=resize") == set()
        # an unknown status: an empty list before 2.38, a 400 naming it from 2.38
        assert _names(cloud, "status=sleepy", version="2.37") == set()
        refused = cloud.client("alice", "2.38").get("/v2.1/servers?status=sleepy")
        assert refused.status_code == 400
        assert "Value: 'sleepy'. Invalid status value" in refused.json()["badRequest"]["message"]

        # all_tenants with no value is true (administrators); ignored for members
        assert _names(cloud, f"name={tag}&all_tenants=", persona="admin") == {
            f"{tag}-instance-1",
            f"{tag}-instance-22",
            f"{tag}-other",
        }
        assert _names(cloud, f"name={tag}&all_tenants", persona="admin") == _names(
            cloud, f"name={tag}&all_tenants=", persona="admin"
        )
        assert _names(cloud, f"name={tag}&all_tenants=", persona="bob") == {f"{tag}-other"}
        refused = cloud.client("admin").get("/v2.1/servers?all_tenants=maybe")
        assert refused.status_code == 400
    finally:
        for server_id, persona in ((first, "alice"), (second, "alice"), (other, "bob")):
            cloud.client(persona).delete(f"/v2.1/servers/{server_id}")
        for server_id in (first, second, other):
            cloud.wait_gone(server_id)
