"""The authorization matrix's cases of the resource families with their own set-up
(images, server groups, key pairs, server extras, server tags, the compute image proxy);
see :mod:`tests.functional.api.matrix_kinds`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.functional.api.conftest import Cloud
from tests.functional.api.matrix_kinds import Case, MatrixImages, Raw, Servers, static


def image_cases() -> list[Case]:
    image = "/image/v2/images/{image_id}"

    def on_image(suffix: str = "", body: Any = None, data: bytes | None = None) -> Any:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            return f"/image/v2/images/{MatrixImages(cloud).fresh(data)}{suffix}", body

        return call

    def create(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        MatrixImages(cloud).delete_all()  # the previous persona's
        return "/image/v2/images", {"name": f"matrix-img-{persona}"}

    patch = Raw(
        b'[{"op": "replace", "path": "/min_ram", "value": 64}]',
        "application/openstack-images-v2.1-json-patch",
    )
    data = Raw(b"\1" * 1024, "application/octet-stream")
    return [
        Case("POST", "/image/v2/images", "ANY", create, ok=201),
        Case("PATCH", image, "OWNER", on_image(body=patch)),
        Case("DELETE", image, "OWNER", on_image(), ok=204),
        Case("PUT", image + "/file", "OWNER", on_image("/file", body=data), ok=204),
        Case("GET", image + "/file", "OWNER", on_image("/file", data=b"\1" * 1024)),
        Case("GET", "/image/v2/schemas/image", "ANY", static("/image/v2/schemas/image")),
        Case("GET", "/image/v2/schemas/images", "ANY", static("/image/v2/schemas/images")),
    ]


def _alice_ids() -> tuple[str, str]:
    from nubis.core.api.identity import IdentityStore

    user = IdentityStore().user("alice")
    return str(user.id), str(IdentityStore().project("project-a").id)


SERVER_GROUP_NAME = "matrix-sg"


def delete_matrix_server_groups(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    for group in admin.get("/v2.1/os-server-groups?all_projects=1").json()["server_groups"]:
        if group["name"] == SERVER_GROUP_NAME:
            admin.delete(f"/v2.1/os-server-groups/{group['id']}")


def server_group_cases() -> list[Case]:
    body = {"server_group": {"name": SERVER_GROUP_NAME, "policies": ["anti-affinity"]}}

    def alices(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        made = cloud.client("alice").post("/v2.1/os-server-groups", body)
        assert made.status_code == 200, made.text
        return f"/v2.1/os-server-groups/{made.json()['server_group']['id']}", None

    item = "/v2.1/os-server-groups/{server_group_id}"
    return [
        Case("GET", "/v2.1/os-server-groups", "ANY", static("/v2.1/os-server-groups")),
        Case("POST", "/v2.1/os-server-groups", "ANY", static("/v2.1/os-server-groups", body)),
        Case("GET", item, "SELF", alices),
        Case("DELETE", item, "SELF", alices, ok=204),
    ]


def keypair_cases() -> list[Case]:
    def keypair(prepare: bool) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            user_id, _ = _alice_ids()
            name = f"matrix-{uuid.uuid4().hex[:8]}"
            if prepare:
                made = cloud.client("admin", "2.60").post(
                    "/v2.1/os-keypairs", {"keypair": {"name": name, "user_id": user_id}}
                )
                assert made.status_code == 201, made.text
            return f"/v2.1/os-keypairs/{name}?user_id={user_id}", None

        return call

    def create(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        return "/v2.1/os-keypairs", {"keypair": {"name": f"matrix-{uuid.uuid4().hex[:8]}"}}

    def usage(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        return f"/v2.1/os-simple-tenant-usage/{_alice_ids()[1]}", None

    item = "/v2.1/os-keypairs/{keypair_name}"
    return [
        Case("GET", "/v2.1/os-keypairs", "ANY", static("/v2.1/os-keypairs")),
        Case("POST", "/v2.1/os-keypairs", "ANY", create, ok=201),
        Case("GET", item, "SELF", keypair(prepare=True)),
        Case("DELETE", item, "SELF", keypair(prepare=True), ok=204),
        Case("GET", "/v2.1/os-availability-zone", "ANY", static("/v2.1/os-availability-zone")),
        Case(
            "GET",
            "/v2.1/os-availability-zone/detail",
            "ADMIN",
            static("/v2.1/os-availability-zone/detail"),
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/statistics",
            "ADMIN",
            static("/v2.1/os-hypervisors/statistics"),
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{pattern}/search",
            "ADMIN",
            static("/v2.1/os-hypervisors/cmp/search"),
            version="2.52",
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{pattern}/servers",
            "ADMIN",
            static("/v2.1/os-hypervisors/cmp/servers"),
            version="2.52",
        ),
        Case(
            "GET", "/v2.1/os-simple-tenant-usage", "ADMIN", static("/v2.1/os-simple-tenant-usage")
        ),
        Case("GET", "/v2.1/os-simple-tenant-usage/{tenant_id}", "SELF", usage),
    ]


def server_extra_cases(servers: Servers) -> list[Case]:
    def on_server(suffix: str, body: Any = None, key: str | None = None) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = servers.shared()
            if key is not None and succeed:  # the item the call reads or deletes
                set_key = cloud.client("admin").post(
                    f"/v2.1/servers/{server_id}/metadata", {"metadata": {key: "v"}}
                )
                assert set_key.status_code == 200, set_key.text
            return f"/v2.1/servers/{server_id}{suffix}", body

        return call

    def reset_state(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        return f"/v2.1/servers/{server_id}/action", {"os-resetState": {"state": "active"}}

    server = "/v2.1/servers/{server_id}"
    metadata = server + "/metadata"
    return [
        Case("PUT", server, "OWNER", on_server("", {"server": {"name": "matrix-shared"}})),
        Case("GET", metadata, "OWNER", on_server("/metadata")),
        Case("PUT", metadata, "OWNER", on_server("/metadata", {"metadata": {"m": "1"}})),
        Case("POST", metadata, "OWNER", on_server("/metadata", {"metadata": {"n": "1"}})),
        Case("GET", metadata + "/{key}", "OWNER", on_server("/metadata/k", key="k")),
        Case("PUT", metadata + "/{key}", "OWNER", on_server("/metadata/p", {"meta": {"p": "1"}})),
        Case("DELETE", metadata + "/{key}", "OWNER", on_server("/metadata/d", key="d"), ok=204),
        Case("GET", server + "/ips", "OWNER", on_server("/ips")),
        # always 404 (no networks), so every authenticated caller gets the same answer
        Case("GET", server + "/ips/{network}", "ANY", on_server("/ips/private"), ok=404),
        Case("GET", server + "/os-server-password", "OWNER", on_server("/os-server-password")),
        Case(
            "DELETE",
            server + "/os-server-password",
            "OWNER",
            on_server("/os-server-password"),
            ok=204,
        ),
        Case(
            "POST",
            server + "/action",
            "OWNER_ADMIN",
            reset_state,
            ok=202,
            action="os-resetState",
        ),
    ]


def server_tag_cases(servers: Servers) -> list[Case]:
    """The /servers/{id}/tags routes (2.26), run by :func:`test_server_tags_route`."""

    def on_tags(suffix: str = "", body: Any = None, tag: str | None = None) -> Any:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            path = f"/v2.1/servers/{servers.shared()}/tags"
            if tag is not None and succeed:  # the tag the call reads or deletes
                added = cloud.client("admin", "2.26").put(f"{path}/{tag}")
                assert added.status_code in (201, 204), added.text
            return f"{path}{suffix}", body

        return call

    def new_tag(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        return f"/v2.1/servers/{servers.shared()}/tags/new-{uuid.uuid4().hex[:8]}", None

    tags = "/v2.1/servers/{server_id}/tags"
    return [
        Case("GET", tags, "OWNER", on_tags()),
        Case("PUT", tags, "OWNER", on_tags(body={"tags": ["matrix"]})),
        Case("DELETE", tags, "OWNER", on_tags(), ok=204),
        Case("GET", tags + "/{tag}", "OWNER", on_tags("/t", tag="t"), ok=204),
        Case("PUT", tags + "/{tag}", "OWNER", new_tag, ok=201),
        Case("DELETE", tags + "/{tag}", "OWNER", on_tags("/d", tag="d"), ok=204),
    ]


def compute_image_cases() -> list[Case]:
    def fresh(suffix: str, body: Any = None, key: str | None = None) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            image_id = MatrixImages(cloud).fresh()
            if key is not None:
                cloud.client("alice", "2.35").post(
                    f"/v2.1/images/{image_id}/metadata", {"metadata": {key: "v"}}
                )
            return f"/v2.1/images/{image_id}{suffix}", body

        return call

    def public(suffix: str) -> Callable[..., Any]:
        return lambda cloud, persona, succeed: (f"/v2.1/images/{cloud.image_id}{suffix}", None)

    item = "/v2.1/images/{image_id}"
    meta = item + "/metadata"
    v = "2.35"
    return [
        Case("GET", "/v2.1/images", "ANY", static("/v2.1/images"), version=v),
        Case("GET", "/v2.1/images/detail", "ANY", static("/v2.1/images/detail"), version=v),
        Case("GET", item, "ANY", public(""), version=v),
        Case("DELETE", item, "OWNER", fresh(""), ok=204, version=v),
        Case("GET", meta, "ANY", public("/metadata"), version=v),
        Case("PUT", meta, "OWNER", fresh("/metadata", {"metadata": {"a": "1"}}), version=v),
        Case("POST", meta, "OWNER", fresh("/metadata", {"metadata": {"a": "1"}}), version=v),
        Case("GET", meta + "/{key}", "OWNER", fresh("/metadata/k", key="k"), version=v),
        Case(
            "PUT", meta + "/{key}", "OWNER", fresh("/metadata/k", {"meta": {"k": "1"}}), version=v
        ),
        Case("DELETE", meta + "/{key}", "OWNER", fresh("/metadata/k", key="k"), ok=204, version=v),
    ]


AGGREGATE_PREFIX = "matrix-agg-"


def delete_matrix_aggregates(cloud: Cloud) -> None:
    """Empty and delete the aggregates the cases made (named ``matrix-agg-...``)."""
    admin = cloud.client("admin")
    for aggregate in admin.get("/v2.1/os-aggregates").json()["aggregates"]:
        if not aggregate["name"].startswith(AGGREGATE_PREFIX):
            continue
        action = f"/v2.1/os-aggregates/{aggregate['id']}/action"
        for host in aggregate["hosts"]:
            admin.post(action, {"remove_host": {"host": host}})
        admin.delete(f"/v2.1/os-aggregates/{aggregate['id']}")


def aggregate_cases() -> list[Case]:
    """The /os-aggregates routes (but the list) and the instance usage audit log."""

    def fresh(suffix: str = "", body: Any = None, host: str | None = None) -> Any:
        """A new aggregate (with *host* when given), and *suffix* on its path."""

        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            admin = cloud.client("admin")
            made = admin.post(
                "/v2.1/os-aggregates",
                {"aggregate": {"name": f"{AGGREGATE_PREFIX}{uuid.uuid4().hex[:8]}"}},
            )
            assert made.status_code == 200, made.text
            aggregate_id = made.json()["aggregate"]["id"]
            if host is not None:
                added = admin.post(
                    f"/v2.1/os-aggregates/{aggregate_id}/action", {"add_host": {"host": host}}
                )
                assert added.status_code == 200, added.text
            return f"/v2.1/os-aggregates/{aggregate_id}{suffix}", body

        return call

    def create(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        name = f"{AGGREGATE_PREFIX}{uuid.uuid4().hex[:8]}"
        return "/v2.1/os-aggregates", {"aggregate": {"name": name, "availability_zone": None}}

    item = "/v2.1/os-aggregates/{aggregate_id}"
    action = item + "/action"
    audit_log = "/v2.1/os-instance_usage_audit_log"
    return [
        Case("POST", "/v2.1/os-aggregates", "ADMIN", create),
        Case("GET", item, "ADMIN", fresh()),
        Case("PUT", item, "ADMIN", fresh(body={"aggregate": {"availability_zone": "matrix-az"}})),
        Case("DELETE", item, "ADMIN", fresh()),
        Case(
            "POST",
            action,
            "ADMIN",
            fresh("/action", {"add_host": {"host": "cmp2"}}),
            action="add_host",
        ),
        Case(
            "POST",
            action,
            "ADMIN",
            fresh("/action", {"remove_host": {"host": "cmp2"}}, host="cmp2"),
            action="remove_host",
        ),
        Case(
            "POST",
            action,
            "ADMIN",
            fresh("/action", {"set_metadata": {"metadata": {"k": "v", "gone": None}}}),
            action="set_metadata",
        ),
        Case("GET", audit_log, "ADMIN", static(audit_log)),
        Case(
            "GET",
            audit_log + "/{before_timestamp}",
            "ADMIN",
            static(audit_log + "/2024-03-15%2010%3A00%3A00"),
        ),
    ]
