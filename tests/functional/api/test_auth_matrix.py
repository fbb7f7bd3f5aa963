"""Authentication and policy for every route: anonymous, a member of project A (alice),
a member of project B (bob) and an administrator.

The kinds of route:

* PUBLIC — everyone gets the answer (version documents, the OpenAPI document);
* ANY — anonymous is 401, every authenticated caller succeeds;
* ADMIN — anonymous 401, members 403, the administrator succeeds;
* OWNER — on a server of project A: anonymous 401, alice succeeds, bob gets 404 (the
  server does not exist for him), the administrator succeeds;
* OWNER_ADMIN — on a server of project A, for administrators only: anonymous 401,
  alice 403, bob 404, the administrator succeeds;
* SELF — on something of alice's named by id in the path or query (her user's key
  pairs, her project's usage and server groups): anonymous 401, alice succeeds, bob 403 (the policy
  compares ids; nothing is hidden), the administrator succeeds.

"Succeeds" means the route's success status. :data:`CASES` must name every route the
API serves (a new route without a case fails :func:`test_every_route_has_a_case`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud, wait_for

PERSONAS = (None, "alice", "bob", "admin")
EXPECTED = {
    "PUBLIC": {None: "ok", "alice": "ok", "bob": "ok", "admin": "ok"},
    "ANY": {None: 401, "alice": "ok", "bob": "ok", "admin": "ok"},
    "ADMIN": {None: 401, "alice": 403, "bob": 403, "admin": "ok"},
    "OWNER": {None: 401, "alice": "ok", "bob": 404, "admin": "ok"},
    "OWNER_ADMIN": {None: 401, "alice": 403, "bob": 404, "admin": "ok"},
    "SELF": {None: 401, "alice": "ok", "bob": 403, "admin": "ok"},
}


@dataclasses.dataclass
class Case:
    """One route: how to call it as a persona and which kind it is.

    ``call(cloud, persona, succeed)`` returns (path, body); *succeed* is True when the
    persona is expected to succeed (the case then prepares a fresh resource if the
    call changes one).
    """

    method: str
    path: str
    kind: str
    call: Callable[[Cloud, str | None, bool], tuple[str, Any]]
    ok: int = 200
    version: str = "2.60"
    action: str | None = None


class Servers:
    """Servers of project A the cases act on, made on demand."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self._shared: str | None = None

    def shared(self) -> str:
        """An ACTIVE server of alice's that no case changes."""
        if self._shared is None:
            self._shared = self.cloud.boot("alice", name="matrix-shared")
        return self._shared

    def fresh(self, status: str = "ACTIVE") -> str:
        server_id = self.cloud.boot("alice", name=f"matrix-{uuid.uuid4().hex[:6]}")
        if status == "SHUTOFF":
            response = self.cloud.client("alice").post(
                f"/v2.1/servers/{server_id}/action", {"os-stop": None}
            )
            assert response.status_code == 202, response.text
            self.cloud.wait_status(server_id, "SHUTOFF")
        return server_id


@dataclasses.dataclass
class Raw:
    """A request body that is not JSON (image data, a JSON patch)."""

    data: bytes
    content_type: str


class MatrixImages:
    """Images of project A the image cases act on (named ``matrix-img-...``)."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def fresh(self, data: bytes | None = None) -> str:
        alice = self.cloud.client("alice")
        body = {"name": f"matrix-img-{uuid.uuid4().hex[:6]}", "disk_format": "raw"}
        response = alice.post("/image/v2/images", {**body, "container_format": "bare"})
        assert response.status_code == 201, response.text
        image_id = str(response.json()["id"])
        if data is not None:
            uploaded = alice.put(
                f"/image/v2/images/{image_id}/file",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert uploaded.status_code == 204, uploaded.text
        return image_id

    def delete_all(self) -> None:
        admin = self.cloud.client("admin")
        for image in admin.get("/image/v2/images?limit=1000").json()["images"]:
            if str(image.get("name") or "").startswith("matrix-img-"):
                admin.delete(f"/image/v2/images/{image['id']}")


def _image_cases() -> list[Case]:
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
        Case("GET", "/image/v2/schemas/image", "ANY", _static("/image/v2/schemas/image")),
        Case("GET", "/image/v2/schemas/images", "ANY", _static("/image/v2/schemas/images")),
    ]


def _alice_ids() -> tuple[str, str]:
    from nubis.core.api.identity import IdentityStore

    user = IdentityStore().user("alice")
    return str(user.id), str(IdentityStore().project("project-a").id)


SERVER_GROUP_NAME = "matrix-sg"


def _delete_matrix_server_groups(cloud: Cloud) -> None:
    admin = cloud.client("admin")
    for group in admin.get("/v2.1/os-server-groups?all_projects=1").json()["server_groups"]:
        if group["name"] == SERVER_GROUP_NAME:
            admin.delete(f"/v2.1/os-server-groups/{group['id']}")


def _server_group_cases() -> list[Case]:
    body = {"server_group": {"name": SERVER_GROUP_NAME, "policies": ["anti-affinity"]}}

    def alices(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        made = cloud.client("alice").post("/v2.1/os-server-groups", body)
        assert made.status_code == 200, made.text
        return f"/v2.1/os-server-groups/{made.json()['server_group']['id']}", None

    item = "/v2.1/os-server-groups/{server_group_id}"
    return [
        Case("GET", "/v2.1/os-server-groups", "ANY", _static("/v2.1/os-server-groups")),
        Case("POST", "/v2.1/os-server-groups", "ANY", _static("/v2.1/os-server-groups", body)),
        Case("GET", item, "SELF", alices),
        Case("DELETE", item, "SELF", alices, ok=204),
    ]


def _keypair_cases() -> list[Case]:
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
        Case("GET", "/v2.1/os-keypairs", "ANY", _static("/v2.1/os-keypairs")),
        Case("POST", "/v2.1/os-keypairs", "ANY", create, ok=201),
        Case("GET", item, "SELF", keypair(prepare=True)),
        Case("DELETE", item, "SELF", keypair(prepare=True), ok=204),
        Case("GET", "/v2.1/os-availability-zone", "ANY", _static("/v2.1/os-availability-zone")),
        Case(
            "GET",
            "/v2.1/os-availability-zone/detail",
            "ADMIN",
            _static("/v2.1/os-availability-zone/detail"),
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/statistics",
            "ADMIN",
            _static("/v2.1/os-hypervisors/statistics"),
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{pattern}/search",
            "ADMIN",
            _static("/v2.1/os-hypervisors/cmp/search"),
            version="2.52",
        ),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{pattern}/servers",
            "ADMIN",
            _static("/v2.1/os-hypervisors/cmp/servers"),
            version="2.52",
        ),
        Case(
            "GET", "/v2.1/os-simple-tenant-usage", "ADMIN", _static("/v2.1/os-simple-tenant-usage")
        ),
        Case("GET", "/v2.1/os-simple-tenant-usage/{tenant_id}", "SELF", usage),
    ]


def _server_extra_cases(servers: Servers) -> list[Case]:
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


def _server_tag_cases(servers: Servers) -> list[Case]:
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


def _compute_image_cases() -> list[Case]:
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
        Case("GET", "/v2.1/images", "ANY", _static("/v2.1/images"), version=v),
        Case("GET", "/v2.1/images/detail", "ANY", _static("/v2.1/images/detail"), version=v),
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


def _static(path: str, body: Any = None) -> Callable[[Cloud, str | None, bool], tuple[str, Any]]:
    return lambda cloud, persona, succeed: (path, body)


def make_cases(servers: Servers) -> list[Case]:
    def server_path(suffix: str = "", fresh_status: str | None = None) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = (
                servers.fresh(fresh_status) if succeed and fresh_status else servers.shared()
            )
            return f"/v2.1/servers/{server_id}{suffix}", None

        return call

    def action(body: Any, fresh_status: str | None = "ACTIVE") -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            server_id = (
                servers.fresh(fresh_status) if succeed and fresh_status else servers.shared()
            )
            return f"/v2.1/servers/{server_id}/action", body

        return call

    def rebuild(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        return f"/v2.1/servers/{server_id}/action", {"rebuild": {"imageRef": cloud.image_id}}

    def live_migrate(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.fresh() if succeed else servers.shared()
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        return f"/v2.1/servers/{server_id}/action", body

    def running_migration(suffix: str) -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            if not succeed:
                return f"/v2.1/servers/{servers.shared()}/migrations{suffix.format(mid=1)}", None
            server_id = servers.fresh()
            admin = cloud.client("admin", "2.60")
            response = admin.post(
                f"/v2.1/servers/{server_id}/action",
                {"os-migrateLive": {"host": None, "block_migration": "auto"}},
            )
            assert response.status_code == 202, response.text
            running = wait_for(
                lambda: [
                    m
                    for m in admin.get(f"/v2.1/servers/{server_id}/migrations").json()["migrations"]
                    if m["status"] == "running"
                ],
                what="a running live migration",
            )
            return (
                f"/v2.1/servers/{server_id}/migrations{suffix.format(mid=running[0]['id'])}",
                None,
            )

        return call

    def instance_action(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        server_id = servers.shared()
        actions = cloud.client("admin").get(f"/v2.1/servers/{server_id}/os-instance-actions")
        request_id = actions.json()["instanceActions"][-1]["request_id"]
        return f"/v2.1/servers/{server_id}/os-instance-actions/{request_id}", None

    def create_server(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        body = {
            "server": {
                "name": "matrix-new",
                "flavorRef": cloud.flavor_id,
                "imageRef": cloud.image_id,
                "networks": "none",
            }
        }
        return "/v2.1/servers", body

    def create_flavor(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        name = f"matrix-{uuid.uuid4().hex[:8]}"
        return "/v2.1/flavors", {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": 0}}

    def delete_flavor(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        flavor_id = f"matrix-{uuid.uuid4().hex[:8]}"
        response = cloud.client("admin").post(
            "/v2.1/flavors",
            {"flavor": {"name": flavor_id, "id": flavor_id, "ram": 64, "vcpus": 1, "disk": 0}},
        )
        assert response.status_code == 200, response.text
        return f"/v2.1/flavors/{flavor_id}", None

    def flavor(
        suffix: str = "",
        body: Any = None,
        *,
        public: bool = True,
        spec: str | None = None,
        access: str | None = None,
    ) -> Callable[..., Any]:
        """A fresh flavor of the admin's (public or private, with the extra spec *spec*
        and access for the project *access* when given), and *suffix* on its path."""

        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            admin = cloud.client("admin")
            flavor_id = f"matrix-{uuid.uuid4().hex[:8]}"
            made = admin.post(
                "/v2.1/flavors",
                {
                    "flavor": {
                        "name": flavor_id,
                        "id": flavor_id,
                        "ram": 64,
                        "vcpus": 1,
                        "disk": 0,
                        "os-flavor-access:is_public": public,
                    }
                },
            )
            assert made.status_code == 200, made.text
            if spec is not None:
                specs = {"extra_specs": {spec: "1"}}
                added = admin.post(f"/v2.1/flavors/{flavor_id}/os-extra_specs", specs)
                assert added.status_code == 200, added.text
            if access is not None:
                action = {"addTenantAccess": {"tenant": access}}
                granted = admin.post(f"/v2.1/flavors/{flavor_id}/action", action)
                assert granted.status_code == 200, granted.text
            return f"/v2.1/flavors/{flavor_id}{suffix}", body

        return call

    def quota_set(suffix: str = "", body: Any = None) -> Callable[..., Any]:
        """Project A's quota set, and *suffix* on its path."""

        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            return f"/v2.1/os-quota-sets/{cloud.projects['alice']}{suffix}", body

        return call

    def hypervisor(suffix: str = "", version: str = "2.53") -> Callable[..., Any]:
        def call(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
            listing = cloud.client("admin", version).get("/v2.1/os-hypervisors").json()
            return f"/v2.1/os-hypervisors/{listing['hypervisors'][0]['id']}{suffix}", None

        return call

    def service_by_uuid(cloud: Cloud, persona: str | None, succeed: bool) -> tuple[str, Any]:
        services = cloud.client("admin", "2.60").get("/v2.1/os-services?host=cmp2").json()
        return f"/v2.1/os-services/{services['services'][0]['id']}", {"status": "enabled"}

    by_host = {"host": "cmp2", "binary": "nubis-compute"}
    image = "/image/v2/images/{image}"
    return [
        Case("GET", "/", "PUBLIC", _static("/")),
        Case("GET", "/v2.1", "PUBLIC", _static("/v2.1")),
        Case("GET", "/v2", "PUBLIC", _static("/v2")),
        Case("GET", "/openapi.json", "PUBLIC", _static("/openapi.json")),
        Case("GET", "/image", "PUBLIC", _static("/image")),
        Case("GET", "/image/v2/images", "ANY", _static("/image/v2/images")),
        Case(
            "GET",
            "/image/v2/images/{image_id}",
            "ANY",
            lambda cloud, p, s: (image.format(image=cloud.image_id), None),
        ),
        Case("GET", "/v2.1/servers", "ANY", _static("/v2.1/servers")),
        Case("GET", "/v2.1/servers/detail", "ANY", _static("/v2.1/servers/detail")),
        Case("POST", "/v2.1/servers", "ANY", create_server, ok=202),
        Case("GET", "/v2.1/servers/{server_id}", "OWNER", server_path()),
        Case(
            "DELETE",
            "/v2.1/servers/{server_id}",
            "OWNER",
            server_path(fresh_status="ACTIVE"),
            ok=204,
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"os-start": None}, "SHUTOFF"),
            ok=202,
            action="os-start",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"os-stop": None}),
            ok=202,
            action="os-stop",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"reboot": {"type": "SOFT"}}),
            ok=202,
            action="reboot",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            rebuild,
            ok=202,
            action="rebuild",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER",
            action({"os-getConsoleOutput": {"length": 5}}, None),
            action="os-getConsoleOutput",
        ),
        Case(
            "POST",
            "/v2.1/servers/{server_id}/action",
            "OWNER_ADMIN",
            live_migrate,
            ok=202,
            action="os-migrateLive",
        ),
        Case(
            "GET", "/v2.1/servers/{server_id}/migrations", "OWNER_ADMIN", server_path("/migrations")
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/migrations/{migration_id}",
            "OWNER_ADMIN",
            running_migration("/{mid}"),
        ),
        Case(
            "DELETE",
            "/v2.1/servers/{server_id}/migrations/{migration_id}",
            "OWNER_ADMIN",
            running_migration("/{mid}"),
            ok=202,
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/os-instance-actions",
            "OWNER",
            server_path("/os-instance-actions"),
        ),
        Case(
            "GET",
            "/v2.1/servers/{server_id}/os-instance-actions/{request_id}",
            "OWNER",
            instance_action,
        ),
        Case("GET", "/v2.1/flavors", "ANY", _static("/v2.1/flavors")),
        Case("GET", "/v2.1/flavors/detail", "ANY", _static("/v2.1/flavors/detail")),
        Case("GET", "/v2.1/flavors/{flavor_id}", "ANY", _static("/v2.1/flavors/m1.tiny")),
        Case(
            "GET",
            "/v2.1/flavors/{flavor_id}/os-extra_specs",
            "ANY",
            _static("/v2.1/flavors/m1.tiny/os-extra_specs"),
        ),
        Case(
            "POST",
            "/v2.1/flavors/{flavor_id}/os-extra_specs",
            "ADMIN",
            flavor("/os-extra_specs", {"extra_specs": {"hw:cpu_policy": "shared"}}),
        ),
        Case(
            "GET",
            "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            "ANY",
            flavor("/os-extra_specs/k", spec="k"),
        ),
        Case(
            "PUT",
            "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            "ADMIN",
            flavor("/os-extra_specs/k", {"k": "2"}),
        ),
        Case(
            "DELETE",
            "/v2.1/flavors/{flavor_id}/os-extra_specs/{key}",
            "ADMIN",
            flavor("/os-extra_specs/k", spec="k"),
        ),
        Case(
            "GET",
            "/v2.1/flavors/{flavor_id}/os-flavor-access",
            "ADMIN",
            flavor("/os-flavor-access", public=False),
        ),
        Case(
            "POST",
            "/v2.1/flavors/{flavor_id}/action",
            "ADMIN",
            flavor("/action", {"addTenantAccess": {"tenant": "p1"}}, public=False),
            action="addTenantAccess",
        ),
        Case(
            "POST",
            "/v2.1/flavors/{flavor_id}/action",
            "ADMIN",
            flavor("/action", {"removeTenantAccess": {"tenant": "p1"}}, public=False, access="p1"),
            action="removeTenantAccess",
        ),
        Case(
            "PUT",
            "/v2.1/flavors/{flavor_id}",
            "ADMIN",
            flavor("", {"flavor": {"description": "changed"}}),
        ),
        Case("GET", "/v2.1/limits", "ANY", _static("/v2.1/limits")),
        Case("GET", "/v2.1/os-hosts", "ADMIN", _static("/v2.1/os-hosts"), version="2.42"),
        Case(
            "GET",
            "/v2.1/os-hosts/{host_name}",
            "ADMIN",
            _static("/v2.1/os-hosts/cmp1"),
            version="2.42",
        ),
        Case(
            "PUT",
            "/v2.1/os-hosts/{host_name}",
            "ADMIN",
            _static("/v2.1/os-hosts/cmp1", {"status": "enable"}),
            ok=501,
            version="2.42",
        ),
        *(
            Case(
                "GET",
                f"/v2.1/os-hosts/{{host_name}}/{action}",
                "ADMIN",
                _static(f"/v2.1/os-hosts/cmp1/{action}"),
                ok=501,
                version="2.42",
            )
            for action in ("startup", "shutdown", "reboot")
        ),
        Case("GET", "/v2.1/os-quota-sets/{tenant_id}", "SELF", quota_set()),
        Case("GET", "/v2.1/os-quota-sets/{tenant_id}/detail", "SELF", quota_set("/detail")),
        Case("GET", "/v2.1/os-quota-sets/{tenant_id}/defaults", "ANY", quota_set("/defaults")),
        Case(
            "PUT",
            "/v2.1/os-quota-sets/{tenant_id}",
            "ADMIN",
            quota_set(body={"quota_set": {"instances": -1}}),
        ),
        Case("DELETE", "/v2.1/os-quota-sets/{tenant_id}", "ADMIN", quota_set(), ok=202),
        Case(
            "GET",
            "/v2.1/os-quota-class-sets/{id}",
            "ADMIN",
            _static("/v2.1/os-quota-class-sets/matrix"),
        ),
        Case(
            "PUT",
            "/v2.1/os-quota-class-sets/{id}",
            "ADMIN",
            _static("/v2.1/os-quota-class-sets/matrix", {"quota_class_set": {"cores": 5}}),
        ),
        Case("POST", "/v2.1/flavors", "ADMIN", create_flavor),
        Case("DELETE", "/v2.1/flavors/{flavor_id}", "ADMIN", delete_flavor, ok=202),
        Case("GET", "/v2.1/os-hypervisors", "ADMIN", _static("/v2.1/os-hypervisors")),
        Case("GET", "/v2.1/os-hypervisors/detail", "ADMIN", _static("/v2.1/os-hypervisors/detail")),
        Case("GET", "/v2.1/os-hypervisors/{hypervisor_id}", "ADMIN", hypervisor()),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
            "ADMIN",
            hypervisor("/uptime"),
            ok=501,
        ),
        Case("GET", "/v2.1/os-services", "ADMIN", _static("/v2.1/os-services")),
        Case(
            "PUT",
            "/v2.1/os-services/disable",
            "ADMIN",
            _static("/v2.1/os-services/disable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/disable-log-reason",
            "ADMIN",
            _static(
                "/v2.1/os-services/disable-log-reason", {**by_host, "disabled_reason": "matrix"}
            ),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/enable",
            "ADMIN",
            _static("/v2.1/os-services/enable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/force-down",
            "ADMIN",
            _static("/v2.1/os-services/force-down", {**by_host, "forced_down": False}),
            version="2.52",
        ),
        Case("PUT", "/v2.1/os-services/{service_id}", "ADMIN", service_by_uuid),
        Case("GET", "/v2.1/os-migrations", "ADMIN", _static("/v2.1/os-migrations")),
        Case("GET", "/v2.1/os-aggregates", "ADMIN", _static("/v2.1/os-aggregates")),
        *_image_cases(),
        *_keypair_cases(),
        *_server_group_cases(),
        *_compute_image_cases(),
        *_server_extra_cases(servers),
    ]


def _key(method: str, path: str, action: str | None) -> tuple[str, str, str | None]:
    return (method, path, action)


def test_every_route_has_a_case(cloud: Cloud) -> None:
    served = {_key(r.method, r.path, r.action) for r in cloud.api.app.routes}
    cases = [*make_cases(Servers(cloud)), *_server_tag_cases(Servers(cloud))]
    covered = {_key(c.method, c.path, c.action) for c in cases}
    assert served == covered


def _outcome(response: Any, case: Case) -> Any:
    return "ok" if response.status_code == case.ok else response.status_code


@pytest.fixture
def slow_migrations() -> Iterator[None]:
    """Live migrations that run long enough to be seen running (and aborted)."""
    saved = CONF.fake_driver.live_migration_seconds
    CONF.set_override("live_migration_seconds", 4.0, group="fake_driver")
    yield
    CONF.set_override("live_migration_seconds", saved, group="fake_driver")


@pytest.mark.parametrize("index", range(len(make_cases(Servers(None)))))  # type: ignore[arg-type]
def test_route(cloud: Cloud, index: int, slow_migrations: None) -> None:
    _check_route(cloud, make_cases(Servers(cloud))[index])


@pytest.mark.parametrize("index", range(len(_server_tag_cases(Servers(None)))))  # type: ignore[arg-type]
def test_server_tags_route(cloud: Cloud, index: int) -> None:
    _check_route(cloud, _server_tag_cases(Servers(cloud))[index])


def _check_route(cloud: Cloud, case: Case) -> None:
    """Call *case* as every persona and compare with what its kind expects."""
    expected = EXPECTED[case.kind]
    seen = {}
    for persona in PERSONAS:
        path, body = case.call(cloud, persona, expected[persona] == "ok")
        client = cloud.client(persona, case.version)
        if isinstance(body, Raw):
            headers = {"Content-Type": body.content_type}
            response = client.request(case.method, path, data=body.data, headers=headers)
        else:
            response = client.request(case.method, path, body)
        seen[persona] = _outcome(response, case)
        if seen[persona] == 401:
            assert "unauthorized" in response.json(), response.text
        if seen[persona] != expected[persona]:
            pytest.fail(
                f"{case.method} {path} as {persona or 'anonymous'}: expected "
                f"{expected[persona]}, got {response.status_code} {response.text[:300]}"
            )
    assert seen == expected
    cloud.delete_all_servers()
    MatrixImages(cloud).delete_all()
    _delete_matrix_server_groups(cloud)


def test_members_see_only_their_projects_servers(cloud: Cloud) -> None:
    mine = cloud.boot("alice", name="mine")
    theirs = cloud.boot("bob", name="theirs")
    alice = {s["id"] for s in cloud.client("alice").get("/v2.1/servers").json()["servers"]}
    bob = {s["id"] for s in cloud.client("bob").get("/v2.1/servers/detail").json()["servers"]}
    assert mine in alice and theirs not in alice and theirs in bob and mine not in bob
    admin = cloud.client("admin")
    assert admin.get("/v2.1/servers").json()["servers"] == []  # its own project only
    everyone = admin.get("/v2.1/servers?all_tenants=1").json()["servers"]
    assert {mine, theirs} <= {s["id"] for s in everyone}
    # all_tenants is ignored for members, as in Nova
    assert theirs not in {
        s["id"] for s in cloud.client("alice").get("/v2.1/servers?all_tenants=1").json()["servers"]
    }
    cloud.delete_all_servers()


def test_identity_headers_from_clients_are_ignored(cloud: Cloud) -> None:
    forged = {
        "X-Identity-Status": "Confirmed",
        "X-Roles": "admin",
        "X-User-Id": "x",
        "X-Project-Id": "y",
    }
    assert cloud.client(None).get("/v2.1/os-hypervisors", headers=forged).status_code == 401
    response = cloud.client("alice").get("/v2.1/os-hypervisors", headers=forged)
    assert response.status_code == 403
