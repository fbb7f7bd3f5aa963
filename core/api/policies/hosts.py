"""Policy rules of the deployment's hosts: os-hosts, hypervisors, services, aggregates,
availability zones and the instance usage audit log (administrators' views).
"""

from __future__ import annotations

from nubis.core.api.policies.base import (
    ADMIN,
    ANY_AUTHENTICATED,
    rule,
)

AVAILABILITY_ZONE_LIST = "os_compute_api:os-availability-zone:list"
AVAILABILITY_ZONE_DETAIL = "os_compute_api:os-availability-zone:detail"
HOSTS_LIST = "os_compute_api:os-hosts:list"
HOSTS_SHOW = "os_compute_api:os-hosts:show"
HOSTS_UPDATE = "os_compute_api:os-hosts:update"
HOSTS_REBOOT = "os_compute_api:os-hosts:reboot"
HOSTS_SHUTDOWN = "os_compute_api:os-hosts:shutdown"
HOSTS_START = "os_compute_api:os-hosts:start"
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
AGGREGATES_CREATE = "os_compute_api:os-aggregates:create"
AGGREGATES_SHOW = "os_compute_api:os-aggregates:show"
AGGREGATES_UPDATE = "os_compute_api:os-aggregates:update"
AGGREGATES_DELETE = "os_compute_api:os-aggregates:delete"
AGGREGATES_ADD_HOST = "os_compute_api:os-aggregates:add_host"
AGGREGATES_REMOVE_HOST = "os_compute_api:os-aggregates:remove_host"
AGGREGATES_SET_METADATA = "os_compute_api:os-aggregates:set_metadata"
USAGE_AUDIT_LOG_LIST = "os_compute_api:os-instance-usage-audit-log:list"
USAGE_AUDIT_LOG_SHOW = "os_compute_api:os-instance-usage-audit-log:show"

RULES = [
    rule(
        AVAILABILITY_ZONE_LIST,
        ANY_AUTHENTICATED,
        "List availability zones",
        [("GET", "/os-availability-zone")],
    ),
    rule(
        AVAILABILITY_ZONE_DETAIL,
        ADMIN,
        "List availability zones with their hosts",
        [("GET", "/os-availability-zone/detail")],
    ),
    rule(HOSTS_LIST, ADMIN, "List hosts (up to 2.42)", [("GET", "/os-hosts")]),
    rule(HOSTS_SHOW, ADMIN, "Show a host's resources (up to 2.42)", [("GET", "/os-hosts/{host}")]),
    rule(
        HOSTS_UPDATE,
        ADMIN,
        "Enable/disable a host or its maintenance mode (up to 2.42)",
        [("PUT", "/os-hosts/{host}")],
    ),
    rule(HOSTS_REBOOT, ADMIN, "Reboot a host (up to 2.42)", [("GET", "/os-hosts/{host}/reboot")]),
    rule(
        HOSTS_SHUTDOWN,
        ADMIN,
        "Shut a host down (up to 2.42)",
        [("GET", "/os-hosts/{host}/shutdown")],
    ),
    rule(HOSTS_START, ADMIN, "Start a host (up to 2.42)", [("GET", "/os-hosts/{host}/startup")]),
    rule(HYPERVISORS_LIST, ADMIN, "List hypervisors", [("GET", "/os-hypervisors")]),
    rule(
        HYPERVISORS_STATISTICS,
        ADMIN,
        "Hypervisor totals (up to 2.87)",
        [("GET", "/os-hypervisors/statistics")],
    ),
    rule(
        HYPERVISORS_SEARCH,
        ADMIN,
        "Search hypervisors by name (before 2.53)",
        [("GET", "/os-hypervisors/{pattern}/search")],
    ),
    rule(
        HYPERVISORS_SERVERS,
        ADMIN,
        "Hypervisors by name with their servers (before 2.53)",
        [("GET", "/os-hypervisors/{pattern}/servers")],
    ),
    rule(
        HYPERVISORS_LIST_DETAIL,
        ADMIN,
        "List hypervisors with details",
        [("GET", "/os-hypervisors/detail")],
    ),
    rule(
        HYPERVISORS_SHOW, ADMIN, "Show a hypervisor", [("GET", "/os-hypervisors/{hypervisor_id}")]
    ),
    rule(
        HYPERVISORS_UPTIME,
        ADMIN,
        "Show a hypervisor's uptime",
        [("GET", "/os-hypervisors/{hypervisor_id}/uptime")],
    ),
    rule(SERVICES_LIST, ADMIN, "List services", [("GET", "/os-services")]),
    rule(
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
    rule(AGGREGATES_INDEX, ADMIN, "List host aggregates", [("GET", "/os-aggregates")]),
    rule(AGGREGATES_CREATE, ADMIN, "Create a host aggregate", [("POST", "/os-aggregates")]),
    rule(
        AGGREGATES_SHOW,
        ADMIN,
        "Show a host aggregate",
        [("GET", "/os-aggregates/{aggregate_id}")],
    ),
    rule(
        AGGREGATES_UPDATE,
        ADMIN,
        "Rename a host aggregate or set its availability zone",
        [("PUT", "/os-aggregates/{aggregate_id}")],
    ),
    rule(
        AGGREGATES_DELETE,
        ADMIN,
        "Delete a host aggregate (once it has no hosts)",
        [("DELETE", "/os-aggregates/{aggregate_id}")],
    ),
    rule(
        AGGREGATES_ADD_HOST,
        ADMIN,
        "Add a compute host to a host aggregate",
        [("POST", "/os-aggregates/{aggregate_id}/action (add_host)")],
    ),
    rule(
        AGGREGATES_REMOVE_HOST,
        ADMIN,
        "Remove a host from a host aggregate",
        [("POST", "/os-aggregates/{aggregate_id}/action (remove_host)")],
    ),
    rule(
        AGGREGATES_SET_METADATA,
        ADMIN,
        "Set or delete metadata items of a host aggregate",
        [("POST", "/os-aggregates/{aggregate_id}/action (set_metadata)")],
    ),
    rule(
        USAGE_AUDIT_LOG_LIST,
        ADMIN,
        "The instance usage audits of the last completed period, on every compute host",
        [("GET", "/os-instance_usage_audit_log")],
    ),
    rule(
        USAGE_AUDIT_LOG_SHOW,
        ADMIN,
        "The instance usage audits of the last period completed before a time",
        [("GET", "/os-instance_usage_audit_log/{before_timestamp}")],
    ),
]
