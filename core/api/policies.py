"""The default policy rules of nubis-api (oslo.policy), in code.

A policy file (``[oslo_policy] policy_file``) overrides any of them; the sample
``etc/nubis/policy.yaml.sample`` is generated from :func:`list_rules` with
``oslopolicy-sample-generator --namespace nubis``.

Roles follow Keystone's defaults: ``admin`` implies ``member`` implies ``reader``. A
member acts on their own project's servers only; hypervisors, services, migrations,
live migration and flavor management are admin-only.
"""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
ANY_AUTHENTICATED = "@"

# Rule names the resources use.
SERVERS_INDEX = "os_compute_api:servers:index"
SERVERS_INDEX_ALL_TENANTS = "os_compute_api:servers:index:get_all_tenants"
SERVERS_DETAIL = "os_compute_api:servers:detail"
SERVERS_DETAIL_ALL_TENANTS = "os_compute_api:servers:detail:get_all_tenants"
SERVERS_SHOW = "os_compute_api:servers:show"
SERVERS_SHOW_HOST_STATUS = "os_compute_api:servers:show:host_status"
SERVERS_EXTENDED_ATTRIBUTES = "os_compute_api:os-extended-server-attributes"
SERVERS_CREATE = "os_compute_api:servers:create"
SERVERS_CREATE_FORCED_HOST = "os_compute_api:servers:create:forced_host"
SERVERS_DELETE = "os_compute_api:servers:delete"
SERVERS_UPDATE = "os_compute_api:servers:update"
SERVER_IPS_INDEX = "os_compute_api:ips:index"
SERVER_IPS_SHOW = "os_compute_api:ips:show"
SERVER_PASSWORD_SHOW = "os_compute_api:os-server-password:show"
SERVER_PASSWORD_CLEAR = "os_compute_api:os-server-password:clear"
SERVER_METADATA_INDEX = "os_compute_api:server-metadata:index"
SERVER_METADATA_SHOW = "os_compute_api:server-metadata:show"
SERVER_METADATA_CREATE = "os_compute_api:server-metadata:create"
SERVER_METADATA_UPDATE = "os_compute_api:server-metadata:update"
SERVER_METADATA_UPDATE_ALL = "os_compute_api:server-metadata:update_all"
SERVER_METADATA_DELETE = "os_compute_api:server-metadata:delete"
SERVER_TAGS_INDEX = "os_compute_api:os-server-tags:index"
SERVER_TAGS_SHOW = "os_compute_api:os-server-tags:show"
SERVER_TAGS_UPDATE = "os_compute_api:os-server-tags:update"
SERVER_TAGS_UPDATE_ALL = "os_compute_api:os-server-tags:update_all"
SERVER_TAGS_DELETE = "os_compute_api:os-server-tags:delete"
SERVER_TAGS_DELETE_ALL = "os_compute_api:os-server-tags:delete_all"
SERVERS_START = "os_compute_api:servers:start"
SERVERS_STOP = "os_compute_api:servers:stop"
SERVERS_REBOOT = "os_compute_api:servers:reboot"
SERVERS_REBUILD = "os_compute_api:servers:rebuild"
CONSOLE_OUTPUT = "os_compute_api:os-console-output"
MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"
RESET_STATE = "os_compute_api:os-admin-actions:reset_state"
TENANT_USAGE_LIST = "os_compute_api:os-simple-tenant-usage:list"
TENANT_USAGE_SHOW = "os_compute_api:os-simple-tenant-usage:show"
AVAILABILITY_ZONE_LIST = "os_compute_api:os-availability-zone:list"
AVAILABILITY_ZONE_DETAIL = "os_compute_api:os-availability-zone:detail"
SERVER_MIGRATIONS_INDEX = "os_compute_api:servers:migrations:index"
SERVER_MIGRATIONS_SHOW = "os_compute_api:servers:migrations:show"
SERVER_MIGRATIONS_DELETE = "os_compute_api:servers:migrations:delete"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
INSTANCE_ACTIONS_LIST = "os_compute_api:os-instance-actions:list"
INSTANCE_ACTIONS_SHOW = "os_compute_api:os-instance-actions:show"
INSTANCE_ACTIONS_EVENTS = "os_compute_api:os-instance-actions:events"
INSTANCE_ACTIONS_EVENTS_DETAILS = "os_compute_api:os-instance-actions:events:details"
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
LIMITS = "os_compute_api:limits"
HOSTS_LIST = "os_compute_api:os-hosts:list"
HOSTS_SHOW = "os_compute_api:os-hosts:show"
HOSTS_UPDATE = "os_compute_api:os-hosts:update"
HOSTS_REBOOT = "os_compute_api:os-hosts:reboot"
HOSTS_SHUTDOWN = "os_compute_api:os-hosts:shutdown"
HOSTS_START = "os_compute_api:os-hosts:start"
LIMITS_OTHER_PROJECT = "os_compute_api:limits:other_project"
QUOTA_SETS_SHOW = "os_compute_api:os-quota-sets:show"
QUOTA_SETS_DETAIL = "os_compute_api:os-quota-sets:detail"
QUOTA_SETS_DEFAULTS = "os_compute_api:os-quota-sets:defaults"
QUOTA_SETS_UPDATE = "os_compute_api:os-quota-sets:update"
QUOTA_SETS_DELETE = "os_compute_api:os-quota-sets:delete"
QUOTA_CLASS_SETS_SHOW = "os_compute_api:os-quota-class-sets:show"
QUOTA_CLASS_SETS_UPDATE = "os_compute_api:os-quota-class-sets:update"
FLAVOR_UPDATE = "os_compute_api:os-flavor-manage:update"
FLAVOR_DELETE = "os_compute_api:os-flavor-manage:delete"
HYPERVISORS_LIST = "os_compute_api:os-hypervisors:list"
HYPERVISORS_LIST_DETAIL = "os_compute_api:os-hypervisors:list-detail"
HYPERVISORS_SHOW = "os_compute_api:os-hypervisors:show"
HYPERVISORS_UPTIME = "os_compute_api:os-hypervisors:uptime"
HYPERVISORS_STATISTICS = "os_compute_api:os-hypervisors:statistics"
HYPERVISORS_SEARCH = "os_compute_api:os-hypervisors:search"
HYPERVISORS_SERVERS = "os_compute_api:os-hypervisors:servers"
SERVICES_LIST = "os_compute_api:os-services:list"
SERVICES_UPDATE = "os_compute_api:os-services:update"
AGGREGATES_INDEX = "os_compute_api:os-aggregates:index"
KEYPAIRS_INDEX = "os_compute_api:os-keypairs:index"
KEYPAIRS_CREATE = "os_compute_api:os-keypairs:create"
KEYPAIRS_SHOW = "os_compute_api:os-keypairs:show"
KEYPAIRS_DELETE = "os_compute_api:os-keypairs:delete"
SERVER_GROUPS_CREATE = "os_compute_api:os-server-groups:create"
SERVER_GROUPS_DELETE = "os_compute_api:os-server-groups:delete"
SERVER_GROUPS_INDEX = "os_compute_api:os-server-groups:index"
SERVER_GROUPS_INDEX_ALL_PROJECTS = "os_compute_api:os-server-groups:index:all_projects"
SERVER_GROUPS_SHOW = "os_compute_api:os-server-groups:show"
ADMIN_OR_KEY_OWNER = "rule:context_is_admin or user_id:%(user_id)s"
IMAGES_LIST = "image:get_images"
IMAGES_SHOW = "image:get_image"
IMAGES_CREATE = "image:add_image"
IMAGES_MODIFY = "image:modify_image"
IMAGES_DELETE = "image:delete_image"
IMAGES_UPLOAD = "image:upload_image"
IMAGES_DOWNLOAD = "image:download_image"
IMAGES_PUBLICIZE = "image:publicize_image"
IMAGES_COMMUNITIZE = "image:communitize_image"


def _rule(
    name: str, check: str, description: str, operations: list[tuple[str, str]]
) -> policy.DocumentedRuleDefault:
    return policy.DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
        scope_types=["project"],
    )


BASE_RULES = [
    policy.RuleDefault("context_is_admin", "role:admin", "Decides what an administrator is."),
    policy.RuleDefault(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
        "A member of the project that owns the resource.",
    ),
    policy.RuleDefault(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
        "A reader of the project that owns the resource.",
    ),
    policy.RuleDefault(
        "project_member_or_admin",
        "rule:project_member_api or rule:context_is_admin",
        "A member of the owning project, or an administrator.",
    ),
    policy.RuleDefault(
        "project_reader_or_admin",
        "rule:project_reader_api or rule:context_is_admin",
        "A reader of the owning project, or an administrator.",
    ),
]

SERVER = "/servers/{server_id}"
ACTION = SERVER + "/action"
IMAGE = "/v2/images/{image_id}"

API_RULES = [
    _rule(
        SERVERS_INDEX, PROJECT_READER_OR_ADMIN, "List the project's servers", [("GET", "/servers")]
    ),
    _rule(
        SERVERS_INDEX_ALL_TENANTS,
        ADMIN,
        "List the servers of every project",
        [("GET", "/servers?all_tenants=1")],
    ),
    _rule(
        SERVERS_DETAIL,
        PROJECT_READER_OR_ADMIN,
        "List the project's servers with details",
        [("GET", "/servers/detail")],
    ),
    _rule(
        SERVERS_DETAIL_ALL_TENANTS,
        ADMIN,
        "List every project's servers with details",
        [("GET", "/servers/detail?all_tenants=1")],
    ),
    _rule(SERVERS_SHOW, PROJECT_READER_OR_ADMIN, "Show a server", [("GET", SERVER)]),
    _rule(
        SERVERS_SHOW_HOST_STATUS,
        ADMIN,
        "See the state of a server's compute host",
        [("GET", SERVER), ("GET", "/servers/detail")],
    ),
    _rule(
        SERVERS_EXTENDED_ATTRIBUTES,
        ADMIN,
        "See a server's host, hypervisor node and instance name (OS-EXT-SRV-ATTR)",
        [("GET", SERVER), ("GET", "/servers/detail")],
    ),
    _rule(SERVERS_CREATE, PROJECT_MEMBER_OR_ADMIN, "Create servers", [("POST", "/servers")]),
    _rule(
        SERVERS_CREATE_FORCED_HOST,
        ADMIN,
        "Create servers on a chosen host (availability_zone 'nova:HOST')",
        [("POST", "/servers")],
    ),
    _rule(SERVERS_DELETE, PROJECT_MEMBER_OR_ADMIN, "Delete a server", [("DELETE", SERVER)]),
    _rule(SERVERS_UPDATE, PROJECT_MEMBER_OR_ADMIN, "Update a server", [("PUT", SERVER)]),
    _rule(
        SERVER_IPS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "A server's addresses",
        [("GET", SERVER + "/ips")],
    ),
    _rule(
        SERVER_IPS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "A server's addresses on a network",
        [("GET", SERVER + "/ips/{network}")],
    ),
    _rule(
        SERVER_PASSWORD_SHOW,
        PROJECT_READER_OR_ADMIN,
        "The password a server's guest posted",
        [("GET", SERVER + "/os-server-password")],
    ),
    _rule(
        SERVER_PASSWORD_CLEAR,
        PROJECT_MEMBER_OR_ADMIN,
        "Clear the password a server's guest posted",
        [("DELETE", SERVER + "/os-server-password")],
    ),
    _rule(
        SERVER_METADATA_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List a server's metadata",
        [("GET", SERVER + "/metadata")],
    ),
    _rule(
        SERVER_METADATA_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server's metadata item",
        [("GET", SERVER + "/metadata/{key}")],
    ),
    _rule(
        SERVER_METADATA_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Add or change a server's metadata items",
        [("POST", SERVER + "/metadata")],
    ),
    _rule(
        SERVER_METADATA_UPDATE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Replace a server's metadata",
        [("PUT", SERVER + "/metadata")],
    ),
    _rule(
        SERVER_METADATA_UPDATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Set a server's metadata item",
        [("PUT", SERVER + "/metadata/{key}")],
    ),
    _rule(
        SERVER_METADATA_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server's metadata item",
        [("DELETE", SERVER + "/metadata/{key}")],
    ),
    _rule(
        SERVER_TAGS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List all tags for given server",
        [("GET", SERVER + "/tags")],
    ),
    _rule(
        SERVER_TAGS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Check tag existence on the server.",
        [("GET", SERVER + "/tags/{tag}")],
    ),
    _rule(
        SERVER_TAGS_UPDATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Add a single tag to the server if server has no specified tag",
        [("PUT", SERVER + "/tags/{tag}")],
    ),
    _rule(
        SERVER_TAGS_UPDATE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Replace all tags on specified server with the new set of tags.",
        [("PUT", SERVER + "/tags")],
    ),
    _rule(
        SERVER_TAGS_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a single tag from the specified server",
        [("DELETE", SERVER + "/tags/{tag}")],
    ),
    _rule(
        SERVER_TAGS_DELETE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete all the server tags",
        [("DELETE", SERVER + "/tags")],
    ),
    _rule(SERVERS_START, PROJECT_MEMBER_OR_ADMIN, "Start a server (os-start)", [("POST", ACTION)]),
    _rule(SERVERS_STOP, PROJECT_MEMBER_OR_ADMIN, "Stop a server (os-stop)", [("POST", ACTION)]),
    _rule(SERVERS_REBOOT, PROJECT_MEMBER_OR_ADMIN, "Reboot a server", [("POST", ACTION)]),
    _rule(
        SERVERS_REBUILD,
        PROJECT_MEMBER_OR_ADMIN,
        "Rebuild a server (rebuild)",
        [("POST", ACTION)],
    ),
    _rule(
        CONSOLE_OUTPUT,
        PROJECT_MEMBER_OR_ADMIN,
        "Show a server's console output (os-getConsoleOutput)",
        [("POST", ACTION)],
    ),
    _rule(MIGRATE_LIVE, ADMIN, "Live-migrate a server (os-migrateLive)", [("POST", ACTION)]),
    _rule(
        SERVER_MIGRATIONS_INDEX,
        ADMIN,
        "List a server's in-progress migrations",
        [("GET", SERVER + "/migrations")],
    ),
    _rule(
        SERVER_MIGRATIONS_SHOW,
        ADMIN,
        "Show a server's in-progress migration",
        [("GET", SERVER + "/migrations/{migration_id}")],
    ),
    _rule(
        SERVER_MIGRATIONS_DELETE,
        ADMIN,
        "Abort a server's live migration",
        [("DELETE", SERVER + "/migrations/{migration_id}")],
    ),
    _rule(MIGRATIONS_INDEX, ADMIN, "List migrations", [("GET", "/os-migrations")]),
    _rule(
        INSTANCE_ACTIONS_LIST,
        PROJECT_READER_OR_ADMIN,
        "List a server's actions",
        [("GET", SERVER + "/os-instance-actions")],
    ),
    _rule(
        INSTANCE_ACTIONS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server's action",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    _rule(
        INSTANCE_ACTIONS_EVENTS,
        PROJECT_READER_OR_ADMIN,
        "See the events of an action",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    _rule(
        INSTANCE_ACTIONS_EVENTS_DETAILS,
        ADMIN,
        "See the traceback and host of an action's events",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    _rule(
        FLAVORS_INDEX,
        ANY_AUTHENTICATED,
        "List flavors",
        [("GET", "/flavors"), ("GET", "/flavors/detail")],
    ),
    _rule(FLAVORS_SHOW, ANY_AUTHENTICATED, "Show a flavor", [("GET", "/flavors/{flavor_id}")]),
    _rule(
        FLAVOR_EXTRA_SPECS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List a flavor's extra specs",
        [("GET", "/flavors/{flavor_id}/os-extra_specs")],
    ),
    _rule(
        FLAVOR_EXTRA_SPECS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show one extra spec of a flavor",
        [("GET", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    _rule(
        FLAVOR_EXTRA_SPECS_CREATE,
        ADMIN,
        "Add or change extra specs of a flavor",
        [("POST", "/flavors/{flavor_id}/os-extra_specs")],
    ),
    _rule(
        FLAVOR_EXTRA_SPECS_UPDATE,
        ADMIN,
        "Set one extra spec of a flavor",
        [("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    _rule(
        FLAVOR_EXTRA_SPECS_DELETE,
        ADMIN,
        "Remove one extra spec of a flavor",
        [("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}")],
    ),
    _rule(
        FLAVOR_ACCESS_LIST,
        ADMIN,
        "List the projects that may use a private flavor",
        [("GET", "/flavors/{flavor_id}/os-flavor-access")],
    ),
    _rule(
        FLAVOR_ACCESS_ADD,
        ADMIN,
        "Give a project access to a private flavor",
        [("POST", "/flavors/{flavor_id}/action (addTenantAccess)")],
    ),
    _rule(
        FLAVOR_ACCESS_REMOVE,
        ADMIN,
        "Take a project's access to a private flavor",
        [("POST", "/flavors/{flavor_id}/action (removeTenantAccess)")],
    ),
    _rule(
        FLAVOR_UPDATE,
        ADMIN,
        "Change a flavor's description (2.55)",
        [("PUT", "/flavors/{flavor_id}")],
    ),
    _rule(
        RESET_STATE,
        ADMIN,
        "Reset a server's state to active or error (os-resetState)",
        [("POST", ACTION + " (os-resetState)")],
    ),
    _rule(
        AVAILABILITY_ZONE_LIST,
        ANY_AUTHENTICATED,
        "List availability zones",
        [("GET", "/os-availability-zone")],
    ),
    _rule(
        AVAILABILITY_ZONE_DETAIL,
        ADMIN,
        "List availability zones with their hosts",
        [("GET", "/os-availability-zone/detail")],
    ),
    _rule(
        TENANT_USAGE_LIST,
        ADMIN,
        "Every project's usage",
        [("GET", "/os-simple-tenant-usage")],
    ),
    _rule(
        TENANT_USAGE_SHOW,
        PROJECT_READER_OR_ADMIN,
        "A project's usage",
        [("GET", "/os-simple-tenant-usage/{tenant_id}")],
    ),
    _rule(FLAVOR_CREATE, ADMIN, "Create a flavor", [("POST", "/flavors")]),
    _rule(LIMITS, ANY_AUTHENTICATED, "Show the caller's project's limits", [("GET", "/limits")]),
    _rule(HOSTS_LIST, ADMIN, "List hosts (up to 2.42)", [("GET", "/os-hosts")]),
    _rule(HOSTS_SHOW, ADMIN, "Show a host's resources (up to 2.42)", [("GET", "/os-hosts/{host}")]),
    _rule(
        HOSTS_UPDATE,
        ADMIN,
        "Enable/disable a host or its maintenance mode (up to 2.42)",
        [("PUT", "/os-hosts/{host}")],
    ),
    _rule(HOSTS_REBOOT, ADMIN, "Reboot a host (up to 2.42)", [("GET", "/os-hosts/{host}/reboot")]),
    _rule(
        HOSTS_SHUTDOWN,
        ADMIN,
        "Shut a host down (up to 2.42)",
        [("GET", "/os-hosts/{host}/shutdown")],
    ),
    _rule(HOSTS_START, ADMIN, "Start a host (up to 2.42)", [("GET", "/os-hosts/{host}/startup")]),
    _rule(
        LIMITS_OTHER_PROJECT,
        ADMIN,
        "Show another project's limits (tenant_id)",
        [("GET", "/limits?tenant_id={tenant_id}")],
    ),
    _rule(
        QUOTA_SETS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a project's (or a user's) quotas",
        [("GET", "/os-quota-sets/{tenant_id}")],
    ),
    _rule(
        QUOTA_SETS_DETAIL,
        PROJECT_READER_OR_ADMIN,
        "Show a project's (or a user's) quotas with their usage",
        [("GET", "/os-quota-sets/{tenant_id}/detail")],
    ),
    _rule(
        QUOTA_SETS_DEFAULTS,
        ANY_AUTHENTICATED,
        "Show the default quotas",
        [("GET", "/os-quota-sets/{tenant_id}/defaults")],
    ),
    _rule(
        QUOTA_SETS_UPDATE,
        ADMIN,
        "Change a project's (or a user's) quotas",
        [("PUT", "/os-quota-sets/{tenant_id}")],
    ),
    _rule(
        QUOTA_SETS_DELETE,
        ADMIN,
        "Return a project's (or a user's) quotas to the defaults",
        [("DELETE", "/os-quota-sets/{tenant_id}")],
    ),
    _rule(
        QUOTA_CLASS_SETS_SHOW,
        ADMIN,
        "Show a quota class",
        [("GET", "/os-quota-class-sets/{id}")],
    ),
    _rule(
        QUOTA_CLASS_SETS_UPDATE,
        ADMIN,
        "Change a quota class ('default' sets every project's defaults)",
        [("PUT", "/os-quota-class-sets/{id}")],
    ),
    _rule(
        KEYPAIRS_INDEX,
        ADMIN_OR_KEY_OWNER,
        "List a user's key pairs (another user's: administrators, 2.10+)",
        [("GET", "/os-keypairs")],
    ),
    _rule(
        KEYPAIRS_CREATE,
        ADMIN_OR_KEY_OWNER,
        "Create or import a key pair (for another user: administrators, 2.10+)",
        [("POST", "/os-keypairs")],
    ),
    _rule(KEYPAIRS_SHOW, ADMIN_OR_KEY_OWNER, "Show a key pair", [("GET", "/os-keypairs/{name}")]),
    _rule(
        KEYPAIRS_DELETE,
        ADMIN_OR_KEY_OWNER,
        "Delete a key pair",
        [("DELETE", "/os-keypairs/{name}")],
    ),
    _rule(
        SERVER_GROUPS_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Create a server group (in one's own project)",
        [("POST", "/os-server-groups")],
    ),
    _rule(
        SERVER_GROUPS_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server group",
        [("DELETE", "/os-server-groups/{server_group_id}")],
    ),
    _rule(
        SERVER_GROUPS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List the project's server groups",
        [("GET", "/os-server-groups")],
    ),
    _rule(
        SERVER_GROUPS_INDEX_ALL_PROJECTS,
        ADMIN,
        "List every project's server groups (all_projects)",
        [("GET", "/os-server-groups?all_projects=True")],
    ),
    _rule(
        SERVER_GROUPS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server group",
        [("GET", "/os-server-groups/{server_group_id}")],
    ),
    _rule(FLAVOR_DELETE, ADMIN, "Delete a flavor", [("DELETE", "/flavors/{flavor_id}")]),
    _rule(HYPERVISORS_LIST, ADMIN, "List hypervisors", [("GET", "/os-hypervisors")]),
    _rule(
        HYPERVISORS_STATISTICS,
        ADMIN,
        "Hypervisor totals (up to 2.87)",
        [("GET", "/os-hypervisors/statistics")],
    ),
    _rule(
        HYPERVISORS_SEARCH,
        ADMIN,
        "Search hypervisors by name (before 2.53)",
        [("GET", "/os-hypervisors/{pattern}/search")],
    ),
    _rule(
        HYPERVISORS_SERVERS,
        ADMIN,
        "Hypervisors by name with their servers (before 2.53)",
        [("GET", "/os-hypervisors/{pattern}/servers")],
    ),
    _rule(
        HYPERVISORS_LIST_DETAIL,
        ADMIN,
        "List hypervisors with details",
        [("GET", "/os-hypervisors/detail")],
    ),
    _rule(
        HYPERVISORS_SHOW, ADMIN, "Show a hypervisor", [("GET", "/os-hypervisors/{hypervisor_id}")]
    ),
    _rule(
        HYPERVISORS_UPTIME,
        ADMIN,
        "Show a hypervisor's uptime",
        [("GET", "/os-hypervisors/{hypervisor_id}/uptime")],
    ),
    _rule(SERVICES_LIST, ADMIN, "List services", [("GET", "/os-services")]),
    _rule(
        SERVICES_UPDATE,
        ADMIN,
        "Enable, disable or force down a service",
        [
            ("PUT", "/os-services/{service_id}"),
            ("PUT", "/os-services/disable"),
            ("PUT", "/os-services/enable"),
            ("PUT", "/os-services/disable-log-reason"),
            ("PUT", "/os-services/force-down"),
        ],
    ),
    _rule(
        AGGREGATES_INDEX,
        ADMIN,
        "List host aggregates (nubis has none)",
        [("GET", "/os-aggregates")],
    ),
    _rule(IMAGES_LIST, ANY_AUTHENTICATED, "List images", [("GET", "/v2/images")]),
    _rule(IMAGES_SHOW, ANY_AUTHENTICATED, "Show an image", [("GET", "/v2/images/{image_id}")]),
    # The image rules are Glance's defaults; their target is the image: its owner as
    # project_id (the caller's project when creating) and its visibility.
    _rule(
        IMAGES_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Create an image owned by one's project",
        [("POST", "/v2/images")],
    ),
    _rule(IMAGES_MODIFY, PROJECT_MEMBER_OR_ADMIN, "Update an image", [("PATCH", IMAGE)]),
    _rule(IMAGES_DELETE, PROJECT_MEMBER_OR_ADMIN, "Delete an image", [("DELETE", IMAGE)]),
    _rule(
        IMAGES_UPLOAD,
        PROJECT_MEMBER_OR_ADMIN,
        "Upload an image's data",
        [("PUT", IMAGE + "/file")],
    ),
    _rule(
        IMAGES_DOWNLOAD,
        "rule:context_is_admin or (role:member and (project_id:%(project_id)s or "
        "'public':%(visibility)s or 'community':%(visibility)s))",
        "Download an image's data",
        [("GET", IMAGE + "/file")],
    ),
    _rule(
        IMAGES_PUBLICIZE,
        ADMIN,
        "Make an image public (create or update with visibility public)",
        [("POST", "/v2/images"), ("PATCH", IMAGE)],
    ),
    _rule(
        IMAGES_COMMUNITIZE,
        PROJECT_MEMBER_OR_ADMIN,
        "Make an image community (create or update with visibility community)",
        [("POST", "/v2/images"), ("PATCH", IMAGE)],
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule (entry point ``oslo.policy.policies: nubis``)."""
    return [*BASE_RULES, *API_RULES]
