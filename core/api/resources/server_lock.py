"""``POST /servers/{id}/action`` ``lock`` and ``unlock`` (Nova's ``os-lock-server``).

``{"lock": null}`` locks a server; from 2.73 ``{"lock": {"locked_reason": "..."}}``
(1-255 characters) gives a reason, shown as the server's ``locked_reason`` from 2.73
(``locked`` from 2.9). Before 2.73 the ``lock`` value is not read, as in Nova.
``{"unlock": null}`` unlocks it. Both answer 202 with no body.

A locked server refuses changes (delete, start, stop, reboot, rebuild, metadata ...)
to anyone but an administrator with 409 "Instance ... is locked"
(:mod:`nubis.core.compute.instance_lock`). A member locks and unlocks their project's
servers (``os_compute_api:os-lock-server:lock`` / ``:unlock``); unlocking a server
locked by the other party -- its owner's project when an administrator of another
project unlocks, an administrator when its owner does -- also needs
``os_compute_api:os-lock-server:unlock:unlock_override`` (administrators).
"""

from __future__ import annotations

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server, target_of
from nubis.core.api.resources.server_actions import ServerActions
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.validation import one_key
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute import instance_lock

#: Before 2.73 the value of ``lock`` (and always of ``unlock``) is anything: not read.
LOCK_BODY = one_key("lock", {})
LOCK_BODY_V273 = one_key(
    "lock",
    {
        "type": ["object", "null"],
        "properties": {"locked_reason": {"type": "string", "minLength": 1, "maxLength": 255}},
        "additionalProperties": False,
    },
)
UNLOCK_BODY = one_key("unlock", {})


class ServerLock:
    """Handlers of the ``lock`` and ``unlock`` actions."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def lock(self, req: Request, server_id: str) -> Reply:
        instance = authorized_server(
            req, self.deps.compute_api, server_id, policies.LOCK_SERVER_LOCK
        )
        reason = None
        if req.at_least("2.73") and req.body["lock"] is not None:
            reason = req.body["lock"].get("locked_reason")
        instance_lock.lock(req.context, instance, reason=reason)
        return Reply(202)

    def unlock(self, req: Request, server_id: str) -> Reply:
        instance = authorized_server(
            req, self.deps.compute_api, server_id, policies.LOCK_SERVER_UNLOCK
        )
        if not instance_lock.is_expected_locked_by(req.context, instance):
            req.authorize(policies.LOCK_SERVER_UNLOCK_OVERRIDE, target_of(instance))
        instance_lock.unlock(req.context, instance)
        return Reply(202)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerLock(deps)
    lookup = ServerActions(deps).lookup
    path = f"{SERVER}/action"
    return [
        Route(
            "POST",
            path,
            handlers.lock,
            "Lock a server against changes by non-administrators",
            policy=policies.LOCK_SERVER_LOCK,
            target="resource",
            lookup=lookup,
            action="lock",
            bodies=(
                BodySchema(LOCK_BODY, max_version="2.72"),
                BodySchema(LOCK_BODY_V273, min_version="2.73"),
            ),
            status=202,
            tag=TAG,
        ),
        Route(
            "POST",
            path,
            handlers.unlock,
            "Unlock a server",
            policy=policies.LOCK_SERVER_UNLOCK,
            target="resource",
            lookup=lookup,
            action="unlock",
            bodies=(BodySchema(UNLOCK_BODY),),
            status=202,
            tag=TAG,
        ),
    ]
