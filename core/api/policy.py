"""Policy enforcement for nubis-api with oslo.policy.

The rules' defaults are in code (:mod:`nubis.core.api.policies`); ``[oslo_policy]
policy_file`` (default ``policy.yaml``, looked up next to the configuration files)
overrides any of them and is re-read when it changes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from oslo_config import cfg
from oslo_policy import policy as oslo_policy

from nubis.core.api import exception, policies

_LOCK = threading.Lock()
_ENFORCERS: dict[int, oslo_policy.Enforcer] = {}


def enforcer(conf: cfg.ConfigOpts | None = None) -> oslo_policy.Enforcer:
    """Return the (one per configuration object) enforcer with the defaults registered."""
    conf = conf or cfg.CONF
    with _LOCK:
        found = _ENFORCERS.get(id(conf))
        if found is None:
            found = oslo_policy.Enforcer(conf)
            found.register_defaults(policies.list_rules())
            found.load_rules()
            _ENFORCERS[id(conf)] = found
        return found


def reset() -> None:
    """Forget the enforcers (tests; a changed policy file is picked up without this)."""
    with _LOCK:
        for found in _ENFORCERS.values():
            found.clear()
        _ENFORCERS.clear()


def get_enforcer() -> oslo_policy.Enforcer:
    """Entry point ``oslo.policy.enforcer: nubis`` for the oslopolicy-* tools."""
    cfg.CONF([], project="nubis")
    return enforcer(cfg.CONF)


def authorize(
    context: Any,
    rule: str,
    target: Mapping[str, Any] | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> None:
    """Raise PolicyNotAuthorized (403) unless *context* may do *rule* on *target*.

    *target* defaults to the caller's own project and user.
    """
    if target is None:
        target = {"project_id": context.project_id, "user_id": context.user_id}
    try:
        enforcer(conf).authorize(
            rule,
            dict(target),
            context,
            do_raise=True,
            exc=exception.PolicyNotAuthorized,
            action=rule,
        )
    except oslo_policy.InvalidScope:
        raise exception.PolicyNotAuthorized(action=rule) from None


def check(
    context: Any,
    rule: str,
    target: Mapping[str, Any] | None = None,
    conf: cfg.ConfigOpts | None = None,
) -> bool:
    """Return whether *context* may do *rule* on *target* (no exception)."""
    try:
        authorize(context, rule, target, conf)
    except exception.PolicyNotAuthorized:
        return False
    return True


def is_admin(context: Any, conf: cfg.ConfigOpts | None = None) -> bool:
    """Whether *context*'s roles make it an administrator (rule ``context_is_admin``)."""
    credentials = context.to_policy_values()
    return bool(enforcer(conf).enforce("context_is_admin", {}, credentials))
