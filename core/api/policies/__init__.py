"""The default policy rules of nubis-api (oslo.policy), in code.

A policy file (``[oslo_policy] policy_file``) overrides any of them; the sample
``etc/nubis/policy.yaml.sample`` is generated from :func:`list_rules` with
``oslopolicy-sample-generator --namespace nubis``.

Roles follow Keystone's defaults: ``admin`` implies ``member`` implies ``reader``. A
member acts on their own project's servers only; hypervisors, services, migrations,
live migration and flavor management are admin-only.

Each family of rules lives in a module of its own (``servers``, ``flavors``, ``hosts``,
``projects``, ``images``), which names its rules as constants; this package re-exports
them all, so a resource says ``policies.SERVERS_SHOW`` whichever module defines it. A new
family is a new module here, added to :data:`FAMILIES`.
"""

from __future__ import annotations

from oslo_policy import policy

from nubis.core.api.policies import (
    extensions,
    flavors,
    hosts,
    images,
    projects,
    server_external_events,
    server_images,
    server_lock,
    server_power,
    server_rescue,
    servers,
)
from nubis.core.api.policies.base import *  # noqa: F403
from nubis.core.api.policies.base import BASE_RULES
from nubis.core.api.policies.extensions import *  # noqa: F403
from nubis.core.api.policies.flavors import *  # noqa: F403
from nubis.core.api.policies.hosts import *  # noqa: F403
from nubis.core.api.policies.images import *  # noqa: F403
from nubis.core.api.policies.projects import *  # noqa: F403
from nubis.core.api.policies.server_external_events import *  # noqa: F403
from nubis.core.api.policies.server_images import *  # noqa: F403
from nubis.core.api.policies.server_lock import *  # noqa: F403
from nubis.core.api.policies.server_power import *  # noqa: F403
from nubis.core.api.policies.server_rescue import *  # noqa: F403
from nubis.core.api.policies.servers import *  # noqa: F403

#: The rule families, in the order the sample policy file lists them.
FAMILIES = (
    servers,
    server_lock,
    server_power,
    server_images,
    server_rescue,
    flavors,
    hosts,
    server_external_events,
    projects,
    images,
    extensions,
)


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule (entry point ``oslo.policy.policies: nubis``)."""
    return [*BASE_RULES, *(r for family in FAMILIES for r in family.RULES)]
