"""``POST /servers/{id}/action {"os-getConsoleOutput": {"length": N}}``: the last *N*
lines of a server's console output (Nova's ``console_output`` controller), answered
``{"output": "..."}``.

``length`` is an integer or a string of digits, -1 or null (or absent) for everything
the host keeps (at most 100 KiB, Nova's cap). The output is read from the server's
compute host through its virt driver; control characters other than tab and newline
(carriage returns too) are removed, as Nova does. 404 for a server the caller cannot see (or
whose guest is not on its host), 409 while it has no host or is still building (Nova's
InstanceNotReady; a stopped server's output stays readable, as with Nova's libvirt
driver), 501 when its host's virt driver keeps no console output, 503 when its compute
service is down or does not answer in time.

A member reads their own project's servers (``os_compute_api:os-console-output``).
"""

from __future__ import annotations

import re

from nubis.core.api import policies
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import BodySchema, Route
from nubis.core.api.wsgi import Request

GET_CONSOLE_OUTPUT_BODY = {
    "type": "object",
    "properties": {
        "os-getConsoleOutput": {
            "type": "object",
            "properties": {
                "length": {
                    "type": ["integer", "string", "null"],
                    "pattern": "^-?[0-9]+$",
                    "minimum": -1,
                },
            },
            "additionalProperties": False,
        },
    },
    "required": ["os-getConsoleOutput"],
    "additionalProperties": False,
}

RESPONSE = {
    "type": "object",
    "properties": {"output": {"type": "string"}},
    "required": ["output"],
    "additionalProperties": False,
}

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
"""Nova's filter: every control character but tab and newline."""


class ConsoleOutput:
    """The handler of the ``os-getConsoleOutput`` action."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def get(self, req: Request, server_id: str) -> dict[str, str]:
        compute_api = self.deps.compute_api
        instance = authorized_server(req, compute_api, server_id, policies.CONSOLE_OUTPUT)
        length = req.body["os-getConsoleOutput"].get("length")
        tail = None if length is None else int(length)
        output = compute_api.get_console_output(req.context, instance, tail)
        return {"output": _CONTROL.sub("", output)}


def routes(deps: Deps) -> list[Route]:
    return [
        Route(
            "POST",
            f"{SERVER}/action",
            ConsoleOutput(deps).get,
            "The last lines of a server's console output",
            policy=policies.CONSOLE_OUTPUT,
            target="resource",
            action="os-getConsoleOutput",
            bodies=(BodySchema(GET_CONSOLE_OUTPUT_BODY),),
            tag=TAG,
            response_schema=RESPONSE,
            responses=(409, 501, 503),
        )
    ]
