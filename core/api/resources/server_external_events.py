"""``POST /os-server-external-events``: other services tell nubis about its servers
(Nova's API, meant for a network, volume or bare-metal service, not for users).

The body is ``{"events": [{"name", "server_uuid", "status", "tag"}, ...]}``; the names
accepted grow with the microversion: ``network-changed``, ``network-vif-plugged``,
``network-vif-unplugged``, ``network-vif-deleted``, then ``volume-extended`` (2.51),
``power-update`` (2.76), ``accelerator-request-bound`` (2.82), ``volume-reimaged``
(2.93). ``status`` is ``completed`` (the default), ``failed`` or ``in-progress``.

Every event is answered in order, as sent, with a ``code`` and the ``status`` set:
404 (``failed``) when no server has its ``server_uuid``; 400 (``failed``) when it is a
``volume-extended``, ``power-update`` or ``accelerator-request-bound`` event without a
``tag``; 422 (``failed``) when its server has no compute host yet; otherwise 200
(``completed``): accepted and handed to the compute layer
(:mod:`nubis.core.compute.external_events` says what each event does). The answer is
200 when every event was accepted, else 207 -- also when none was (Nova stopped
answering 404 then in 2019).

The caller needs ``os_compute_api:os-server-external-events:create`` (Nova's default:
the ``service`` role or an administrator); the servers may be of any project.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import V21
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Reply, Request
from nubis.core.compute import external_events
from nubis.core.compute.external_events import TAG_REQUIRED

LOG = logging.getLogger(__name__)

TAG = "os-server-external-events"

#: The event names each microversion adds.
NAMES_BY_VERSION = (
    (
        "2.1",
        ("network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted"),
    ),
    ("2.51", ("volume-extended",)),
    ("2.76", ("power-update",)),
    ("2.82", ("accelerator-request-bound",)),
    ("2.93", ("volume-reimaged",)),
)

_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "server_uuid": {"type": "string", "format": "uuid"},
        "name": {"type": "string", "enum": []},
        "status": {"type": "string", "enum": ["failed", "completed", "in-progress"]},
        "tag": {"type": "string", "maxLength": 255},
    },
    "required": ["server_uuid", "name"],
    "additionalProperties": False,
}


def _body(names: list[str]) -> dict[str, Any]:
    event = copy.deepcopy(_EVENT)
    event["properties"]["name"]["enum"] = names
    return {
        "type": "object",
        "properties": {"events": {"type": "array", "minItems": 1, "items": event}},
        "required": ["events"],
        "additionalProperties": False,
    }


def _bodies() -> tuple[BodySchema, ...]:
    bodies = []
    names: list[str] = []
    for index, (since, added) in enumerate(NAMES_BY_VERSION):
        names = [*names, *added]
        following = NAMES_BY_VERSION[index + 1][0] if index + 1 < len(NAMES_BY_VERSION) else None
        until = None if following is None else _previous(following)
        bodies.append(
            BodySchema(
                _body(names), min_version=None if since == "2.1" else since, max_version=until
            )
        )
    return tuple(bodies)


def _previous(version: str) -> str:
    major, minor = version.split(".")
    return f"{major}.{int(minor) - 1}"


CREATE_BODIES = _bodies()


class ServerExternalEvents:
    """The handler of ``POST /os-server-external-events``."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def create(self, req: Request) -> Reply:
        compute_api = self.deps.compute_api
        events = req.body["events"]
        wanted = sorted({event["server_uuid"] for event in events})
        found = compute_api.get_all(req.context, filters={"uuid": wanted})
        instances = {instance.uuid: instance for instance in found}
        answers = []
        accepted = []
        for event in events:
            answer = dict(event)
            instance = instances.get(event["server_uuid"])
            if instance is None:
                code = 404
            elif event["name"] in TAG_REQUIRED and event.get("tag") is None:
                code = 400
            elif not instance.host:
                code = 422
            else:
                code = 200
                accepted.append((instance, event))
            if code != 200:
                LOG.info(
                    "external event %s for instance %s dropped (%d)",
                    event["name"],
                    event["server_uuid"],
                    code,
                )
            answer.update(code=code, status="completed" if code == 200 else "failed")
            answers.append(answer)
        for instance, event in accepted:
            external_events.handle(
                req.context,
                instance,
                event["name"],
                event.get("tag"),
                event.get("status", "completed"),
            )
        status = 200 if len(accepted) == len(events) else 207
        return Reply(status, {"events": answers})


def routes(deps: Deps) -> list[Route]:
    return [
        Route(
            "POST",
            f"{V21}/os-server-external-events",
            ServerExternalEvents(deps).create,
            "Tell nubis about events of its servers (other services only)",
            policy=policies.SERVER_EXTERNAL_EVENTS_CREATE,
            bodies=CREATE_BODIES,
            tag=TAG,
        ),
    ]
