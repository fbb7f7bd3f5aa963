"""Policy rules of ``/os-server-external-events``: what other services (a network or
volume service, a bare-metal service) tell nubis about its servers.
"""

from __future__ import annotations

from nubis.core.api.policies.base import ADMIN, rule

SERVER_EXTERNAL_EVENTS_CREATE = "os_compute_api:os-server-external-events:create"

#: Nova's default: the ``service`` role (what other services' users hold) or an
#: administrator.
SERVICE_OR_ADMIN = f"role:service or {ADMIN}"

RULES = [
    rule(
        SERVER_EXTERNAL_EVENTS_CREATE,
        SERVICE_OR_ADMIN,
        "Send external events about servers (other services only)",
        [("POST", "/os-server-external-events")],
    ),
]
