"""Policy rules of pausing and suspending servers (Nova's ``os-pause-server`` and
``os-suspend-server``) and of their diagnostics (``os-server-diagnostics``).
"""

from __future__ import annotations

from nubis.core.api.policies.base import ACTION, ADMIN, PROJECT_MEMBER_OR_ADMIN, SERVER, rule

PAUSE_SERVER = "os_compute_api:os-pause-server:pause"
UNPAUSE_SERVER = "os_compute_api:os-pause-server:unpause"
SUSPEND_SERVER = "os_compute_api:os-suspend-server:suspend"
RESUME_SERVER = "os_compute_api:os-suspend-server:resume"
SERVER_DIAGNOSTICS = "os_compute_api:os-server-diagnostics"

RULES = [
    rule(PAUSE_SERVER, PROJECT_MEMBER_OR_ADMIN, "Pause a server", [("POST", ACTION + " (pause)")]),
    rule(
        UNPAUSE_SERVER,
        PROJECT_MEMBER_OR_ADMIN,
        "Unpause a paused server",
        [("POST", ACTION + " (unpause)")],
    ),
    rule(
        SUSPEND_SERVER,
        PROJECT_MEMBER_OR_ADMIN,
        "Suspend a server",
        [("POST", ACTION + " (suspend)")],
    ),
    rule(
        RESUME_SERVER,
        PROJECT_MEMBER_OR_ADMIN,
        "Resume a suspended server",
        [("POST", ACTION + " (resume)")],
    ),
    rule(
        SERVER_DIAGNOSTICS,
        ADMIN,
        "Show the usage data of a server",
        [("GET", SERVER + "/diagnostics")],
    ),
]
