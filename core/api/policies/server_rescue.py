"""Policy rules of rescuing servers (Nova's ``os-rescue``) and of deferred deletes
(Nova's ``os-deferred-delete``: restoring a soft-deleted server, deleting it at once).
"""

from __future__ import annotations

from nubis.core.api.policies.base import ACTION, PROJECT_MEMBER_OR_ADMIN, rule

RESCUE_SERVER = "os_compute_api:os-rescue"
UNRESCUE_SERVER = "os_compute_api:os-unrescue"
DEFERRED_DELETE_RESTORE = "os_compute_api:os-deferred-delete:restore"
DEFERRED_DELETE_FORCE = "os_compute_api:os-deferred-delete:force"

RULES = [
    rule(RESCUE_SERVER, PROJECT_MEMBER_OR_ADMIN, "Rescue a server (rescue)", [("POST", ACTION)]),
    rule(
        UNRESCUE_SERVER, PROJECT_MEMBER_OR_ADMIN, "Unrescue a server (unrescue)", [("POST", ACTION)]
    ),
    rule(
        DEFERRED_DELETE_RESTORE,
        PROJECT_MEMBER_OR_ADMIN,
        "Restore a soft-deleted server (restore)",
        [("POST", ACTION)],
    ),
    rule(
        DEFERRED_DELETE_FORCE,
        PROJECT_MEMBER_OR_ADMIN,
        "Delete a server at once, soft-deleted or not (forceDelete)",
        [("POST", ACTION)],
    ),
]
