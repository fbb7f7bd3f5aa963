"""Policy rules of flavors: management, extra specs and access lists."""

from __future__ import annotations

from nubis.core.api.policies.base import (
    ADMIN,
    ANY_AUTHENTICATED,
    PROJECT_READER_OR_ADMIN,
    rule,
)

FLAVORS_INDEX = "os_compute_api:flavors:index"
FLAVORS_SHOW = "os_compute_api:flavors:show"
FLAVOR_EXTRA_SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
FLAVOR_EXTRA_SPECS_SHOW = "os_compute_api:os-flavor-extra-specs:show"
FLAVOR_EXTRA_SPECS_CREATE = "os_compute_api:os-flavor-extra-specs:create"
FLAVOR_EXTRA_SPECS_UPDATE = "os_compute_api:os-flavor-extra-specs:update"
FLAVOR_EXTRA_SPECS_DELETE = "os_compute_api:os-flavor-extra-specs:delete"
FLAVOR_ACCESS_LIST = "os_compute_api:os-flavor-access"
FLAVOR_ACCESS_ADD = "os_compute_api:os-flavor-access:add_tenant_access"
FLAVOR_ACCESS_REMOVE = "os_compute_api:os-flavor-access:remove_tenant_access"
FLAVOR_CREATE = "os_compute_api:os-flavor-manage:create"
FLAVOR_UPDATE = "os_compute_api:os-flavor-manage:update"
FLAVOR_DELETE = "os_compute_api:os-flavor-manage:delete"

RULES = [
    rule(
        FLAVORS_INDEX,
        ANY_AUTHENTICATED,
        "List flavors",
        [("GET", "/flavors"), ("GET", "/flavors/detail")],
    ),
    rule(FLAVORS_SHOW, ANY_AUTHENTICATED, "Show a flavor", [("GET", "/flavors/{flavor_id}")]),
    rule(
        FLAVOR_EXTRA_SPECS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List a flavor's extra specs",
        [("GET", "/flavors/{flavor_id}/os-extra_specs")],
    ),
    rule(
        FLAVOR_EXTRA_SPECS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show one extra spec of a flavor",
        [("GET", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    rule(
        FLAVOR_EXTRA_SPECS_CREATE,
        ADMIN,
        "Add or change extra specs of a flavor",
        [("POST", "/flavors/{flavor_id}/os-extra_specs")],
    ),
    rule(
        FLAVOR_EXTRA_SPECS_UPDATE,
        ADMIN,
        "Set one extra spec of a flavor",
        [("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    rule(
        FLAVOR_EXTRA_SPECS_DELETE,
        ADMIN,
        "Remove one extra spec of a flavor",
        [("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    rule(
        FLAVOR_ACCESS_LIST,
        ADMIN,
        "List the projects that may use a private flavor",
        [("GET", "/flavors/{flavor_id}/os-flavor-access")],
    ),
    rule(
        FLAVOR_ACCESS_ADD,
        ADMIN,
        "Give a project access to a private flavor",
        [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")],
    ),
    rule(
        FLAVOR_ACCESS_REMOVE,
        ADMIN,
        "Take a project's access to a private flavor",
        [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")],
    ),
    rule(
        FLAVOR_UPDATE,
        ADMIN,
        "Change a flavor's description (2.55)",
        [("PUT", "/flavors/{flavor_id}")],
    ),
    rule(FLAVOR_CREATE, ADMIN, "Create a flavor", [("POST", "/flavors")]),
    rule(FLAVOR_DELETE, ADMIN, "Delete a flavor", [("DELETE", "/flavors/{flavor_id}")]),
]
