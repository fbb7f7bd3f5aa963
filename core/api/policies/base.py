"""What every family of policy rules shares: the check strings of the default personas,
the base rules they are built from, the paths the rules document, and :func:`rule`.
"""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
ANY_AUTHENTICATED = "@"


def rule(
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
IMAGE = "/v2/images/{image_id}"
