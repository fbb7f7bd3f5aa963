"""Policy rules of the API's self-description: ``/extensions``."""

from __future__ import annotations

from nubis.core.api.policies.base import ANY_AUTHENTICATED, rule

EXTENSIONS = "os_compute_api:extensions"

RULES = [
    rule(
        EXTENSIONS,
        ANY_AUTHENTICATED,
        "List the API extensions nubis serves, or show one",
        [("GET", "/extensions"), ("GET", "/extensions/{alias}")],
    ),
]
