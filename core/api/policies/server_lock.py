"""Policy rules of locking servers (Nova's ``os-lock-server``): the ``lock`` and
``unlock`` actions, and unlocking a server someone else locked.
"""

from __future__ import annotations

from nubis.core.api.policies.base import ACTION, ADMIN, PROJECT_MEMBER_OR_ADMIN, rule

LOCK_SERVER_LOCK = "os_compute_api:os-lock-server:lock"
LOCK_SERVER_UNLOCK = "os_compute_api:os-lock-server:unlock"
LOCK_SERVER_UNLOCK_OVERRIDE = "os_compute_api:os-lock-server:unlock:unlock_override"

RULES = [
    rule(
        LOCK_SERVER_LOCK, PROJECT_MEMBER_OR_ADMIN, "Lock a server", [("POST", f"{ACTION} (lock)")]
    ),
    rule(
        LOCK_SERVER_UNLOCK,
        PROJECT_MEMBER_OR_ADMIN,
        "Unlock a server",
        [("POST", f"{ACTION} (unlock)")],
    ),
    rule(
        LOCK_SERVER_UNLOCK_OVERRIDE,
        ADMIN,
        "Unlock a server whoever locked it (checked after os_compute_api:os-lock-server:unlock "
        "when the server was locked by its owner and an administrator unlocks it, or the "
        "other way round)",
        [("POST", f"{ACTION} (unlock)")],
    ),
]
