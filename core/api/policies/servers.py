"""Policy rules of servers: the server resource, its actions, metadata, tags, addresses,
migrations and instance actions.
"""

from __future__ import annotations

from nubis.core.api.policies.base import (
    ACTION,
    ADMIN,
    PROJECT_MEMBER_OR_ADMIN,
    PROJECT_READER_OR_ADMIN,
    SERVER,
    rule,
)

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
SERVER_MIGRATIONS_INDEX = "os_compute_api:servers:migrations:index"
SERVER_MIGRATIONS_SHOW = "os_compute_api:servers:migrations:show"
SERVER_MIGRATIONS_DELETE = "os_compute_api:servers:migrations:delete"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
INSTANCE_ACTIONS_LIST = "os_compute_api:os-instance-actions:list"
INSTANCE_ACTIONS_SHOW = "os_compute_api:os-instance-actions:show"
INSTANCE_ACTIONS_EVENTS = "os_compute_api:os-instance-actions:events"
INSTANCE_ACTIONS_EVENTS_DETAILS = "os_compute_api:os-instance-actions:events:details"

RULES = [
    rule(
        SERVERS_INDEX, PROJECT_READER_OR_ADMIN, "List the project's servers", [("GET", "/servers")]
    ),
    rule(
        SERVERS_INDEX_ALL_TENANTS,
        ADMIN,
        "List the servers of every project",
        [("GET", "/servers?all_tenants=1")],
    ),
    rule(
        SERVERS_DETAIL,
        PROJECT_READER_OR_ADMIN,
        "List the project's servers with details",
        [("GET", "/servers/detail")],
    ),
    rule(
        SERVERS_DETAIL_ALL_TENANTS,
        ADMIN,
        "List every project's servers with details",
        [("GET", "/servers/detail?all_tenants=1")],
    ),
    rule(SERVERS_SHOW, PROJECT_READER_OR_ADMIN, "Show a server", [("GET", SERVER)]),
    rule(
        SERVERS_SHOW_HOST_STATUS,
        ADMIN,
        "See the state of a server's compute host",
        [("GET", SERVER), ("GET", "/servers/detail")],
    ),
    rule(
        SERVERS_EXTENDED_ATTRIBUTES,
        ADMIN,
        "See a server's host, hypervisor node and instance name (OS-EXT-SRV-ATTR)",
        [("GET", SERVER), ("GET", "/servers/detail")],
    ),
    rule(SERVERS_CREATE, PROJECT_MEMBER_OR_ADMIN, "Create servers", [("POST", "/servers")]),
    rule(
        SERVERS_CREATE_FORCED_HOST,
        ADMIN,
        "Create servers on a chosen host (availability_zone 'nova:HOST')",
        [("POST", "/servers")],
    ),
    rule(SERVERS_DELETE, PROJECT_MEMBER_OR_ADMIN, "Delete a server", [("DELETE", SERVER)]),
    rule(SERVERS_UPDATE, PROJECT_MEMBER_OR_ADMIN, "Update a server", [("PUT", SERVER)]),
    rule(
        SERVER_IPS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "A server's addresses",
        [("GET", SERVER + "/ips")],
    ),
    rule(
        SERVER_IPS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "A server's addresses on a network",
        [("GET", SERVER + "/ips/{network}")],
    ),
    rule(
        SERVER_PASSWORD_SHOW,
        PROJECT_READER_OR_ADMIN,
        "The password a server's guest posted",
        [("GET", SERVER + "/os-server-password")],
    ),
    rule(
        SERVER_PASSWORD_CLEAR,
        PROJECT_MEMBER_OR_ADMIN,
        "Clear the password a server's guest posted",
        [("DELETE", SERVER + "/os-server-password")],
    ),
    rule(
        SERVER_METADATA_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List a server's metadata",
        [("GET", SERVER + "/metadata")],
    ),
    rule(
        SERVER_METADATA_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server's metadata item",
        [("GET", SERVER + "/metadata/{key}")],
    ),
    rule(
        SERVER_METADATA_CREATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Add or change a server's metadata items",
        [("POST", SERVER + "/metadata")],
    ),
    rule(
        SERVER_METADATA_UPDATE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Replace a server's metadata",
        [("PUT", SERVER + "/metadata")],
    ),
    rule(
        SERVER_METADATA_UPDATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Set a server's metadata item",
        [("PUT", SERVER + "/metadata/{key}")],
    ),
    rule(
        SERVER_METADATA_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server's metadata item",
        [("DELETE", SERVER + "/metadata/{key}")],
    ),
    rule(
        SERVER_TAGS_INDEX,
        PROJECT_READER_OR_ADMIN,
        "List all tags for given server",
        [("GET", SERVER + "/tags")],
    ),
    rule(
        SERVER_TAGS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Check tag existence on the server.",
        [("GET", SERVER + "/tags/{tag}")],
    ),
    rule(
        SERVER_TAGS_UPDATE,
        PROJECT_MEMBER_OR_ADMIN,
        "Add a single tag to the server if server has no specified tag",
        [("PUT", SERVER + "/tags/{tag}")],
    ),
    rule(
        SERVER_TAGS_UPDATE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Replace all tags on specified server with the new set of tags.",
        [("PUT", SERVER + "/tags")],
    ),
    rule(
        SERVER_TAGS_DELETE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a single tag from the specified server",
        [("DELETE", SERVER + "/tags/{tag}")],
    ),
    rule(
        SERVER_TAGS_DELETE_ALL,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete all the server tags",
        [("DELETE", SERVER + "/tags")],
    ),
    rule(SERVERS_START, PROJECT_MEMBER_OR_ADMIN, "Start a server (os-start)", [("POST", ACTION)]),
    rule(SERVERS_STOP, PROJECT_MEMBER_OR_ADMIN, "Stop a server (os-stop)", [("POST", ACTION)]),
    rule(SERVERS_REBOOT, PROJECT_MEMBER_OR_ADMIN, "Reboot a server", [("POST", ACTION)]),
    rule(
        SERVERS_REBUILD,
        PROJECT_MEMBER_OR_ADMIN,
        "Rebuild a server (rebuild)",
        [("POST", ACTION)],
    ),
    rule(
        CONSOLE_OUTPUT,
        PROJECT_MEMBER_OR_ADMIN,
        "Show a server's console output (os-getConsoleOutput)",
        [("POST", ACTION)],
    ),
    rule(MIGRATE_LIVE, ADMIN, "Live-migrate a server (os-migrateLive)", [("POST", ACTION)]),
    rule(
        SERVER_MIGRATIONS_INDEX,
        ADMIN,
        "List a server's in-progress migrations",
        [("GET", SERVER + "/migrations")],
    ),
    rule(
        SERVER_MIGRATIONS_SHOW,
        ADMIN,
        "Show a server's in-progress migration",
        [("GET", SERVER + "/migrations/{migration_id}")],
    ),
    rule(
        SERVER_MIGRATIONS_DELETE,
        ADMIN,
        "Abort a server's live migration",
        [("DELETE", SERVER + "/migrations/{migration_id}")],
    ),
    rule(MIGRATIONS_INDEX, ADMIN, "List migrations", [("GET", "/os-migrations")]),
    rule(
        INSTANCE_ACTIONS_LIST,
        PROJECT_READER_OR_ADMIN,
        "List a server's actions",
        [("GET", SERVER + "/os-instance-actions")],
    ),
    rule(
        INSTANCE_ACTIONS_SHOW,
        PROJECT_READER_OR_ADMIN,
        "Show a server's action",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    rule(
        INSTANCE_ACTIONS_EVENTS,
        PROJECT_READER_OR_ADMIN,
        "See the events of an action",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    rule(
        INSTANCE_ACTIONS_EVENTS_DETAILS,
        ADMIN,
        "See the traceback and host of an action's events",
        [("GET", SERVER + "/os-instance-actions/{request_id}")],
    ),
    rule(
        RESET_STATE,
        ADMIN,
        "Reset a server's state to active or error (os-resetState)",
        [("POST", ACTION + " (os-resetState)")],
    ),
]
