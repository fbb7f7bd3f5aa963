"""Policy rules of a server's images: ``createImage`` (a snapshot), ``createBackup``
(os-create-backup) and shelving (os-shelve: ``shelve``, ``shelveOffload``,
``unshelve``, and unshelving to a chosen host), with Nova's defaults.
"""

from __future__ import annotations

from nubis.core.api.policies.base import ACTION, ADMIN, PROJECT_MEMBER_OR_ADMIN, rule

SERVERS_CREATE_IMAGE = "os_compute_api:servers:create_image"
CREATE_BACKUP = "os_compute_api:os-create-backup"
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
UNSHELVE_TO_HOST = "os_compute_api:os-shelve:unshelve_to_host"

RULES = [
    rule(
        SERVERS_CREATE_IMAGE,
        PROJECT_MEMBER_OR_ADMIN,
        "Create an image of a server (createImage)",
        [("POST", ACTION + " (createImage)")],
    ),
    rule(
        CREATE_BACKUP,
        PROJECT_MEMBER_OR_ADMIN,
        "Create a backup image of a server, rotating out the oldest (createBackup)",
        [("POST", ACTION + " (createBackup)")],
    ),
    rule(
        SHELVE,
        PROJECT_MEMBER_OR_ADMIN,
        "Shelve a server (shelve)",
        [("POST", ACTION + " (shelve)")],
    ),
    rule(
        SHELVE_OFFLOAD,
        ADMIN,
        "Offload a shelved server from its host (shelveOffload)",
        [("POST", ACTION + " (shelveOffload)")],
    ),
    rule(
        UNSHELVE,
        PROJECT_MEMBER_OR_ADMIN,
        "Unshelve a shelved server (unshelve)",
        [("POST", ACTION + " (unshelve)")],
    ),
    rule(
        UNSHELVE_TO_HOST,
        ADMIN,
        "Unshelve a shelved-offloaded server to a chosen host (unshelve with host, 2.91)",
        [("POST", ACTION + " (unshelve)")],
    ),
]
