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
SERVERS_START = "os_compute_api:servers:start"
SERVERS_STOP = "os_compute_api:servers:stop"
SERVERS_REBOOT = "os_compute_api:servers:reboot"
MIGRATE_LIVE = "os_compute_api:os-migrate-server:migrate_live"
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
FLAVOR_CREATE = "os_compute_api:os-flavor-manage:create"
FLAVOR_DELETE = "os_compute_api:os-flavor-manage:delete"
HYPERVISORS_LIST = "os_compute_api:os-hypervisors:list"
HYPERVISORS_LIST_DETAIL = "os_compute_api:os-hypervisors:list-detail"
HYPERVISORS_SHOW = "os_compute_api:os-hypervisors:show"
HYPERVISORS_UPTIME = "os_compute_api:os-hypervisors:uptime"
SERVICES_LIST = "os_compute_api:os-services:list"
SERVICES_UPDATE = "os_compute_api:os-services:update"
AGGREGATES_INDEX = "os_compute_api:os-aggregates:index"
IMAGES_LIST = "image:get_images"
IMAGES_SHOW = "image:get_image"


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
    _rule(SERVERS_START, PROJECT_MEMBER_OR_ADMIN, "Start a server (os-start)", [("POST", ACTION)]),
    _rule(SERVERS_STOP, PROJECT_MEMBER_OR_ADMIN, "Stop a server (os-stop)", [("POST", ACTION)]),
    _rule(SERVERS_REBOOT, PROJECT_MEMBER_OR_ADMIN, "Reboot a server", [("POST", ACTION)]),
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
        ANY_AUTHENTICATED,
        "List a flavor's extra specs",
        [("GET", "/flavors/{flavor_id}/os-extra-specs")],
    ),
    _rule(FLAVOR_CREATE, ADMIN, "Create a flavor", [("POST", "/flavors")]),
    _rule(FLAVOR_DELETE, ADMIN, "Delete a flavor", [("DELETE", "/flavors/{flavor_id}")]),
    _rule(HYPERVISORS_LIST, ADMIN, "List hypervisors", [("GET", "/os-hypervisors")]),
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
]


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule (entry point ``oslo.policy.policies: nubis``)."""
    return [*BASE_RULES, *API_RULES]
