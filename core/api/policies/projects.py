"""Policy rules of what a project owns or is limited by: key pairs, server groups, limits,
quota sets and classes, and usage.
"""

from __future__ import annotations

from nubis.core.api.policies.base import (
    ADMIN,
    ANY_AUTHENTICATED,
    PROJECT_MEMBER_OR_ADMIN,
    PROJECT_READER_OR_ADMIN,
    rule,
)

ADMIN_OR_KEY_OWNER = "rule:context_is_admin or user_id:%(user_id)s"
TENANT_USAGE_LIST = "os_compute_api:os-simple-tenant-usage:list"
TENANT_USAGE_SHOW = "os_compute_api:os-simple-tenant-usage:show"
LIMITS = "os_compute_api:limits"
LIMITS_OTHER_PROJECT = "os_compute_api:limits:other_project"
QUOTA_SETS_SHOW = "os_compute_api:os-quota-sets:show"
QUOTA_SETS_DETAIL = "os_compute_api:os-quota-sets:detail"
QUOTA_SETS_DEFAULTS = "os_compute_api:os-quota-sets:defaults"
QUOTA_SETS_UPDATE = "os_compute_api:os-quota-sets:update"
QUOTA_SETS_DELETE = "os_compute_api:os-quota-sets:delete"
QUOTA_CLASS_SETS_SHOW = "os_compute_api:os-quota-class-sets:show"
QUOTA_CLASS_SETS_UPDATE = "os_compute_api:os-quota-class-sets:update"
KEYPAIRS_INDEX = "os_compute_api:os-keypairs:index"
KEYPAIRS_CREATE = "os_compute_api:os-keypairs:create"
KEYPAIRS_SHOW = "os_compute_api:os-keypairs:show"
KEYPAIRS_DELETE = "os_compute_api:os-keypairs:delete"
SERVER_GROUPS_CREATE = "os_compute_api:os-server-groups:create"
SERVER_GROUPS_DELETE = "os_compute_api:os-server-groups:delete"
SERVER_GROUPS_INDEX = "os_compute_api:os-server-groups:index"
SERVER_GROUPS_INDEX_ALL_PROJECTS = "os_compute_api:os-server-groups:index:all_projects"
SERVER_GROUPS_SHOW = "os_compute_api:os-server-groups:show"

RULES = [
    rule(
        TENANT_USAGE_LIST,
        ADMIN,
        "Every project's usage",
        [("GET", "/os-simple-tenant-usage")],
    ),
    rule(
        TENANT_USAGE_SHOW,
        PROJECT_READER_OR_ADMIN,
        "A project's usage",
        [("GET", "/os-simple-tenant-usage/{tenant_id}")],
    ),
    rule(LIMITS, ANY_AUTHENTICATED, "Show the caller's project's limits", [("GET", "/limits")]),
    rule(
        LIMITS_OTHER_PROJECT,
        ADMIN,
        "Show another project's limits (tenant_id)",
        [("GET", "/limits?tenant_id={tenant_id}")],
    ),
    rule(
        QUOTA_SETS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a project's (or a user's) quotas",
        [("GET", "/os-quota-sets/{tenant_id}")],
    ),
    rule(
        QUOTA_SETS_DETAIL,
        PROJECT_READER_OR_ADMIN,
        "Show a project's (or a user's) quotas with their usage",
        [("GET", "/os-quota-sets/{tenant_id}/detail")],
    ),
    rule(
        QUOTA_SETS_DEFAULTS,
        ANY_AUTHENTICATED,
        "Show the default quotas",
        [("GET", "/os-quota-sets/{tenant_id}/defaults")],
    ),
    rule(
        QUOTA_SETS_UPDATE,
        ADMIN,
        "Change a project's (or a user's) quotas",
        [("PUT", "/os-quota-sets/{tenant_id}")],
    ),
    rule(
        QUOTA_SETS_DELETE,
        ADMIN,
        "Return a project's (or a user's) quotas to the defaults",
        [("DELETE", "/os-quota-sets/{tenant_id}")],
    ),
    rule(
        QUOTA_CLASS_SETS_SHOW,
        ADMIN,
        "Show a quota class",
        [("GET", "/os-quota-class-sets/{id}")],
    ),
    rule(
        QUOTA_CLASS_SETS_UPDATE,
        ADMIN,
        "Change a quota class ('default' sets every project's defaults)",
        [("PUT", "/os-quota-class-sets/{id}")],
    ),
    rule(
        KEYPAIRS_INDEX,
        ADMIN_OR_KEY_OWNER,
        "List a user's key pairs (another user's: administrators, 2.10+)",
        [("GET", "/os-keypairs")],
    ),
    rule(
        KEYPAIRS_CREATE,
        ADMIN_OR_KEY_OWNER,
        "Create or import a key pair (for another user: administrators, 2.10+)",
        [("POST", "/os-keypairs")],
    ),
    rule(KEYPAIRS_SHOW, ADMIN_OR_KEY_OWNER, "Show a key pair", [("GET", "/os-keypairs/{name}")]),
    rule(
        KEYPAIRS_DELETE,
        ADMIN_OR_KEY_OWNER,
        "Delete a key pair",
        [("DELETE", "/os-keypairs/{name}")],
    ),
    rule(
        SERVER_GROUPS_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Create a server group (in one's own project)",
        [("POST", "/os-server-groups")],
    ),
    rule(
        SERVER_GROUPS_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server group",
        [("DELETE", "/os-server-groups/{server_group_id}")],
    ),
    rule(
        SERVER_GROUPS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List the project's server groups",
        [("GET", "/os-server-groups")],
    ),
    rule(
        SERVER_GROUPS_INDEX_ALL_PROJECTS,
        ADMIN,
        "List every project's server groups (all_projects)",
        [("GET", "/os-server-groups?all_projects=True")],
    ),
    rule(
        SERVER_GROUPS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server group",
        [("GET", "/os-server-groups/{server_group_id}")],
    ),
]
