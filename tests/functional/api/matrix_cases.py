"""The authorization matrix's cases: one per route the API serves (see
:mod:`tests.functional.api.matrix_kinds`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.functional.api.conftest import Cloud, wait_for
from tests.functional.api.matrix_extras import extra_cases
from tests.functional.api.matrix_families import (
    aggregate_cases,
    compute_image_cases,
    image_cases,
    keypair_cases,
    server_extra_cases,
    server_group_cases,
)
from tests.functional.api.matrix_kinds import Case, Servers, static
from tests.functional.api.matrix_power import power_cases
from tests.functional.api.matrix_rescue import rescue_cases
from tests.functional.api.matrix_server_images import server_image_cases


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
        Case("GET", "/", "PUBLIC", static("/")),
        Case("GET", "/v2.1", "PUBLIC", static("/v2.1")),
        Case("GET", "/v2", "PUBLIC", static("/v2")),
        Case("GET", "/openapi.json", "PUBLIC", static("/openapi.json")),
        Case("GET", "/image", "PUBLIC", static("/image")),
        Case("GET", "/image/v2/images", "ANY", static("/image/v2/images")),
        Case(
            "GET",
            "/image/v2/images/{image_id}",
            "ANY",
            lambda cloud, p, s: (image.format(image=cloud.image_id), None),
        ),
        Case("GET", "/v2.1/servers", "ANY", static("/v2.1/servers")),
        Case("GET", "/v2.1/servers/detail", "ANY", static("/v2.1/servers/detail")),
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
        Case("GET", "/v2.1/flavors", "ANY", static("/v2.1/flavors")),
        Case("GET", "/v2.1/flavors/detail", "ANY", static("/v2.1/flavors/detail")),
        Case("GET", "/v2.1/flavors/{flavor_id}", "ANY", static("/v2.1/flavors/m1.tiny")),
        Case(
            "GET",
            "/v2.1/flavors/{flavor_id}/os-extra_specs",
            "ANY",
            static("/v2.1/flavors/m1.tiny/os-extra_specs"),
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
        Case("GET", "/v2.1/limits", "ANY", static("/v2.1/limits")),
        Case("GET", "/v2.1/os-hosts", "ADMIN", static("/v2.1/os-hosts"), version="2.42"),
        Case(
            "GET",
            "/v2.1/os-hosts/{host_name}",
            "ADMIN",
            static("/v2.1/os-hosts/cmp1"),
            version="2.42",
        ),
        Case(
            "PUT",
            "/v2.1/os-hosts/{host_name}",
            "ADMIN",
            static("/v2.1/os-hosts/cmp1", {"status": "enable"}),
            ok=501,
            version="2.42",
        ),
        *(
            Case(
                "GET",
                f"/v2.1/os-hosts/{{host_name}}/{action}",
                "ADMIN",
                static(f"/v2.1/os-hosts/cmp1/{action}"),
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
            static("/v2.1/os-quota-class-sets/matrix"),
        ),
        Case(
            "PUT",
            "/v2.1/os-quota-class-sets/{id}",
            "ADMIN",
            static("/v2.1/os-quota-class-sets/matrix", {"quota_class_set": {"cores": 5}}),
        ),
        Case("POST", "/v2.1/flavors", "ADMIN", create_flavor),
        Case("DELETE", "/v2.1/flavors/{flavor_id}", "ADMIN", delete_flavor, ok=202),
        Case("GET", "/v2.1/os-hypervisors", "ADMIN", static("/v2.1/os-hypervisors")),
        Case("GET", "/v2.1/os-hypervisors/detail", "ADMIN", static("/v2.1/os-hypervisors/detail")),
        Case("GET", "/v2.1/os-hypervisors/{hypervisor_id}", "ADMIN", hypervisor()),
        Case(
            "GET",
            "/v2.1/os-hypervisors/{hypervisor_id}/uptime",
            "ADMIN",
            hypervisor("/uptime"),
        ),
        Case("GET", "/v2.1/os-services", "ADMIN", static("/v2.1/os-services")),
        Case(
            "PUT",
            "/v2.1/os-services/disable",
            "ADMIN",
            static("/v2.1/os-services/disable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/disable-log-reason",
            "ADMIN",
            static(
                "/v2.1/os-services/disable-log-reason", {**by_host, "disabled_reason": "matrix"}
            ),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/enable",
            "ADMIN",
            static("/v2.1/os-services/enable", by_host),
            version="2.52",
        ),
        Case(
            "PUT",
            "/v2.1/os-services/force-down",
            "ADMIN",
            static("/v2.1/os-services/force-down", {**by_host, "forced_down": False}),
            version="2.52",
        ),
        Case("PUT", "/v2.1/os-services/{service_id}", "ADMIN", service_by_uuid),
        Case("GET", "/v2.1/os-migrations", "ADMIN", static("/v2.1/os-migrations")),
        Case("GET", "/v2.1/os-aggregates", "ADMIN", static("/v2.1/os-aggregates")),
        *image_cases(),
        *keypair_cases(),
        *server_group_cases(),
        *compute_image_cases(),
        *server_extra_cases(servers),
        *aggregate_cases(),
        *extra_cases(servers),
        *server_image_cases(servers),
        *rescue_cases(servers),
        *power_cases(servers),
    ]
