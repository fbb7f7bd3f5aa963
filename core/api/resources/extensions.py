"""``GET /extensions`` and ``GET /extensions/{alias}``: the API features nubis serves,
described as Nova's v2.1 extension list describes them (``openstack extension list
--compute``).

Each entry names a feature by Nova's alias and name (``os-keypairs`` / ``Keypairs``
...) and is listed only while nubis serves it: :data:`EXTENSIONS` ties every entry to
the routes that make it up (a path and method, or a server action), and the list is
made from the routes the API actually serves, so a feature a module adds appears
without touching this one and a feature nubis lacks (``os-consoles``, interactive
consoles, say) is absent. Entries are sorted by alias; an alias not listed answers
404. ``namespace`` and ``updated`` carry the values Nova answers for every extension
(v2.1 has no XML namespaces and no per-extension dates); ``links`` is empty.

Any authenticated caller may read them (``os_compute_api:extensions``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.resources.servers import SERVER
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request

TAG = "extensions"

NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
UPDATED = "2014-12-03T00:00:00Z"


@dataclasses.dataclass(frozen=True)
class Extension:
    """One feature: Nova's *alias* and *name* for it, what nubis serves of it, and the
    routes that make it up -- ``"GET /os-hosts"`` (a method and a path under /v2.1) or
    ``"action lock"`` (a server action); it is served when any of them is."""

    alias: str
    name: str
    description: str
    routes: tuple[str, ...]


def _ext(alias: str, name: str, description: str, *routes: str) -> Extension:
    return Extension(alias, name, description, routes)


_SERVERS = "POST /servers"
_DETAIL = "GET /servers/detail"

EXTENSIONS = (
    _ext("os-access-ips", "AccessIPs", "accessIPv4 and accessIPv6 of servers.", _SERVERS),
    _ext(
        "os-admin-actions",
        "AdminActions",
        "Administrators' server actions: os-resetState.",
        "action os-resetState",
    ),
    _ext(
        "os-admin-password", "AdminPassword", "Change a server's password.", "action changePassword"
    ),
    _ext("os-aggregates", "Aggregates", "Host aggregates (administrators).", "GET /os-aggregates"),
    _ext(
        "os-availability-zone",
        "AvailabilityZone",
        "List availability zones; choose one when creating a server.",
        "GET /os-availability-zone",
    ),
    _ext(
        "os-block-device-mapping-v2-boot",
        "BlockDeviceMappingV2Boot",
        "Boot with block_device_mapping_v2 (the image as the local root disk).",
        _SERVERS,
    ),
    _ext(
        "os-console-auth-tokens",
        "ConsoleAuthTokens",
        "Console connection information by token.",
        "GET /os-console-auth-tokens/{console_token}",
    ),
    _ext(
        "os-console-output",
        "ConsoleOutput",
        "A server's console output, its last lines on request.",
        "action os-getConsoleOutput",
    ),
    _ext(
        "os-consoles",
        "Consoles",
        "Interactive consoles of servers.",
        "POST /servers/{server_id}/remote-consoles",
        "action os-getVNCConsole",
        "action os-getSPICEConsole",
        "action os-getSerialConsole",
    ),
    _ext(
        "os-create-backup", "CreateBackup", "Back a server up to an image.", "action createBackup"
    ),
    _ext(
        "os-deferred-delete",
        "DeferredDelete",
        "Restore or force the delete of a soft-deleted server.",
        "action restore",
        "action forceDelete",
    ),
    _ext(
        "os-evacuate", "Evacuate", "Rebuild a server of a failed host elsewhere.", "action evacuate"
    ),
    _ext(
        "OS-EXT-AZ",
        "ExtendedAvailabilityZone",
        "The availability zone of each server.",
        _DETAIL,
    ),
    _ext(
        "OS-EXT-IMG-SIZE",
        "ImageSize",
        "The size of each image in image listings.",
        "GET /images/detail",
    ),
    _ext(
        "OS-EXT-SRV-ATTR",
        "ExtendedServerAttributes",
        "Host, hypervisor and instance name of servers (administrators).",
        _DETAIL,
    ),
    _ext("OS-EXT-STS", "ExtendedStatus", "The vm, task and power states of servers.", _DETAIL),
    _ext(
        "os-extended-services",
        "ExtendedServices",
        "Disable a service with a reason.",
        "PUT /os-services/disable-log-reason",
        "PUT /os-services/{service_id}",
    ),
    _ext(
        "os-flavor-access",
        "FlavorAccess",
        "Private flavors and the projects that may use them.",
        "GET /flavors/{flavor_id}/os-flavor-access",
    ),
    _ext(
        "os-flavor-extra-specs",
        "FlavorExtraSpecs",
        "Flavor extra specs.",
        "GET /flavors/{flavor_id}/os-extra_specs",
    ),
    _ext("os-flavor-manage", "FlavorManage", "Create and delete flavors.", "POST /flavors"),
    _ext(
        "OS-FLV-DISABLED",
        "FlavorDisabled",
        "Whether each flavor is disabled.",
        "GET /flavors/detail",
    ),
    _ext(
        "OS-FLV-EXT-DATA",
        "FlavorExtraData",
        "The ephemeral disk of flavors.",
        "GET /flavors/detail",
    ),
    _ext("os-flavor-rxtx", "FlavorRxtx", "The rxtx factor of flavors.", "GET /flavors/detail"),
    _ext("os-flavor-swap", "FlavorSwap", "The swap disk of flavors.", "GET /flavors/detail"),
    _ext("os-hosts", "Hosts", "Compute hosts (administrators).", "GET /os-hosts"),
    _ext(
        "os-hypervisors",
        "Hypervisors",
        "Hypervisors and their resources (administrators).",
        "GET /os-hypervisors",
    ),
    _ext(
        "os-instance-actions",
        "InstanceActions",
        "The actions taken on a server and their events.",
        "GET /servers/{server_id}/os-instance-actions",
    ),
    _ext("os-keypairs", "Keypairs", "SSH key pairs.", "GET /os-keypairs"),
    _ext(
        "os-lock-server",
        "LockServer",
        "Lock and unlock servers.",
        "action lock",
    ),
    _ext(
        "os-migrate-server",
        "MigrateServer",
        "Migrate and live-migrate servers.",
        "action migrate",
        "action os-migrateLive",
    ),
    _ext("os-migrations", "Migrations", "Migrations of servers.", "GET /os-migrations"),
    _ext("os-multiple-create", "MultipleCreate", "Create several servers at once.", _SERVERS),
    _ext("os-pause-server", "PauseServer", "Pause and unpause servers.", "action pause"),
    _ext(
        "os-preserve-ephemeral-rebuild",
        "PreserveEphemeralOnRebuild",
        "Keep the ephemeral disk on rebuild.",
        "action rebuild",
    ),
    _ext(
        "os-quota-class-sets",
        "QuotaClasses",
        "Quota classes.",
        "GET /os-quota-class-sets/{id}",
    ),
    _ext("os-quota-sets", "Quotas", "Quotas of projects.", "GET /os-quota-sets/{tenant_id}"),
    _ext("os-rescue", "Rescue", "Rescue and unrescue servers.", "action rescue"),
    _ext("OS-SCH-HNT", "SchedulerHints", "Scheduler hints when creating servers.", _SERVERS),
    _ext(
        "os-server-diagnostics",
        "ServerDiagnostics",
        "Diagnostics of servers (administrators).",
        "GET /servers/{server_id}/diagnostics",
    ),
    _ext(
        "os-server-external-events",
        "ServerExternalEvents",
        "Events other services send about servers.",
        "POST /os-server-external-events",
    ),
    _ext("os-server-groups", "ServerGroups", "Server groups.", "GET /os-server-groups"),
    _ext(
        "os-server-password",
        "ServerPassword",
        "A server's encrypted password.",
        "GET /servers/{server_id}/os-server-password",
    ),
    _ext("os-server-sort-keys", "ServerSortKeys", "Sort server lists.", _DETAIL),
    _ext("os-server-start-stop", "ServerStartStop", "Start and stop servers.", "action os-start"),
    _ext("os-services", "Services", "Compute services (administrators).", "GET /os-services"),
    _ext("os-shelve", "Shelve", "Shelve and unshelve servers.", "action shelve"),
    _ext(
        "os-simple-tenant-usage",
        "SimpleTenantUsage",
        "What projects' servers used over a period.",
        "GET /os-simple-tenant-usage",
    ),
    _ext("OS-SRV-USG", "ServerUsage", "Launch and termination times of servers.", _DETAIL),
    _ext("os-suspend-server", "SuspendServer", "Suspend and resume servers.", "action suspend"),
    _ext("os-used-limits", "UsedLimits", "What a project uses of its limits.", "GET /limits"),
    _ext(
        "os-user-quotas",
        "UserQuotas",
        "Quotas of a user within a project.",
        "GET /os-quota-sets/{tenant_id}",
    ),
)


def served_keys(routes: Sequence[Route]) -> set[str]:
    """The keys :class:`Extension` routes are written in, of every route in *routes*."""
    keys = set()
    for route in routes:
        if route.action is not None and route.path == f"{SERVER}/action":
            keys.add(f"action {route.action}")
        elif route.path.startswith(V21 + "/"):
            keys.add(f"{route.method} {route.path[len(V21) :]}")
    return keys


class Extensions:
    """Handlers of the /extensions routes; the list is made from *served* (every route
    of the API, this module's included) when first asked for."""

    def __init__(self, served: Sequence[Route]) -> None:
        self._served = served
        self._views: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def views(self) -> dict[str, dict[str, Any]]:
        """Alias -> view of every extension served, sorted by alias."""
        with self._lock:
            if self._views is None:
                keys = served_keys(self._served)
                listed = sorted(
                    (e for e in EXTENSIONS if keys.intersection(e.routes)),
                    key=lambda e: e.alias,
                )
                self._views = {e.alias: _view(e) for e in listed}
            return self._views

    def index(self, req: Request) -> dict[str, Any]:
        return {"extensions": list(self.views().values())}

    def show(self, req: Request, alias: str) -> dict[str, Any]:
        view = self.views().get(alias)
        if view is None:
            raise Fault(404, f"Extension {alias} could not be found: nubis does not serve it.")
        return {"extension": view}


def _view(extension: Extension) -> dict[str, Any]:
    return {
        "name": extension.name,
        "alias": extension.alias,
        "description": extension.description,
        "namespace": NAMESPACE,
        "updated": UPDATED,
        "links": [],
    }


def routes(deps: Deps, served: Sequence[Route]) -> list[Route]:
    """The /extensions routes, listing the extensions of *served* (the list of every
    route of the API; read when first asked, so it may still grow now)."""
    handlers = Extensions(served)
    return [
        Route(
            "GET",
            f"{V21}/extensions",
            handlers.index,
            "List the API extensions nubis serves",
            policy=policies.EXTENSIONS,
            tag=TAG,
        ),
        Route(
            "GET",
            f"{V21}/extensions/{{alias}}",
            handlers.show,
            "Show one API extension",
            policy=policies.EXTENSIONS,
            tag=TAG,
        ),
    ]
