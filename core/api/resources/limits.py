"""``/limits``: a project's absolute limits and what it uses, as Nova shows them
(``openstack limits show --absolute``). No rate limits (``rate`` is always empty, as in
Nova).

The caller's project by default; another one's with ``tenant_id``, for administrators.
Per microversion as in Nova: the nova-network limits go at 2.36, ``maxImageMeta`` at
2.39, the personality-file limits at 2.57.
"""

from __future__ import annotations

from typing import Any

from nubis.core import quota
from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import Route
from nubis.core.api.validation import Query
from nubis.core.api.wsgi import Request

TAG = "limits"

LIMIT_NAMES: dict[str, tuple[str, ...]] = {
    "ram": ("maxTotalRAMSize",),
    "instances": ("maxTotalInstances",),
    "cores": ("maxTotalCores",),
    "key_pairs": ("maxTotalKeypairs",),
    "floating_ips": ("maxTotalFloatingIps",),
    "metadata_items": ("maxServerMeta", "maxImageMeta"),
    "injected_files": ("maxPersonality",),
    "injected_file_content_bytes": ("maxPersonalitySize",),
    "security_groups": ("maxSecurityGroups",),
    "security_group_rules": ("maxSecurityGroupRules",),
    "server_groups": ("maxServerGroups",),
    "server_group_members": ("maxServerGroupMembers",),
}
USED_NAMES: dict[str, str] = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}


def _hidden(req: Request) -> set[str]:
    hidden: set[str] = set()
    if req.at_least("2.36"):
        hidden.update(("floating_ips", "security_groups", "security_group_rules"))
    if req.at_least("2.57"):
        hidden.update(("injected_files", "injected_file_content_bytes"))
    return hidden


def absolute(req: Request, limits: dict[str, int], used: dict[str, int]) -> dict[str, int]:
    """The ``absolute`` mapping of a limits response at the request's microversion."""
    hidden = _hidden(req)
    shown: dict[str, int] = {}
    for resource, names in LIMIT_NAMES.items():
        if resource in hidden:
            continue
        for name in names:
            if name == "maxImageMeta" and req.at_least("2.39"):
                continue
            shown[name] = limits[resource]
    for name, resource in USED_NAMES.items():
        if resource not in hidden:
            shown[name] = used[resource]
    return shown


class Limits:
    """Handler of the /limits route."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def index(self, req: Request) -> dict[str, Any]:
        project_id = req.context.project_id
        if req.arg("tenant_id"):
            req.authorize(policies.LIMITS_OTHER_PROJECT)
            project_id = req.arg("tenant_id")
        limits = quota.limits(req.context, req.conf, project_id)
        used = quota.usage(req.context, project_id)
        return {"limits": {"rate": [], "absolute": absolute(req, limits, used)}}


def routes(deps: Deps) -> list[Route]:
    limits = Limits(deps)
    return [
        Route(
            "GET",
            f"{V21}/limits",
            limits.index,
            "Show the absolute limits of a project and what it uses",
            policy=policies.LIMITS,
            query={"tenant_id": Query("string", "Administrators: this project's limits.")},
            tag=TAG,
        )
    ]
