"""``/os-aggregates`` (administrators): nubis has no host aggregates; the list is empty.

Clients such as ``openstack hypervisor show`` list aggregates to say which ones a host
belongs to, so the listing exists.
"""

from __future__ import annotations

from typing import Any

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Request


def index(req: Request) -> dict[str, Any]:
    return {"aggregates": []}


def routes(deps: Deps) -> list[Route]:
    return [
        Route(
            "GET",
            f"{V21}/os-aggregates",
            index,
            "List host aggregates (always empty)",
            policy=policies.AGGREGATES_INDEX,
            tag="os-aggregates",
        ),
    ]
