"""``/servers/{id}/ips`` and ``/servers/{id}/os-server-password``: a server's addresses
by network and the password its guest posted, as Nova serves them.

nubis has no networking and no metadata service, so a server's addresses are always an
empty mapping (a network label is a 404, as Nova answers for a network the server is
not on) and its password always empty; clearing it succeeds, as in Nova.
"""

from __future__ import annotations

from typing import Any

from nubis.core.api import policies
from nubis.core.api.faults import Fault
from nubis.core.api.resources import Deps
from nubis.core.api.resources.common import authorized_server
from nubis.core.api.resources.servers import SERVER, TAG
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import Reply, Request


class ServerAddresses:
    """Handlers of the /servers/{id}/ips and /os-server-password routes."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def _server(self, req: Request, server_id: str, rule: str) -> Any:
        return authorized_server(req, self.deps.compute_api, server_id, rule)

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self._server(req, server_id, policies.SERVER_IPS_INDEX)
        return {"addresses": {}}

    def show(self, req: Request, server_id: str, network: str) -> dict[str, Any]:
        self._server(req, server_id, policies.SERVER_IPS_SHOW)
        raise Fault(404, f"There is no such network: the server is on none ({network!r}).")

    def password(self, req: Request, server_id: str) -> dict[str, Any]:
        self._server(req, server_id, policies.SERVER_PASSWORD_SHOW)
        return {"password": ""}

    def clear_password(self, req: Request, server_id: str) -> Reply:
        self._server(req, server_id, policies.SERVER_PASSWORD_CLEAR)
        return Reply(204)


def routes(deps: Deps) -> list[Route]:
    handlers = ServerAddresses(deps)
    common: dict[str, Any] = {"target": "resource", "tag": TAG}
    return [
        Route(
            "GET",
            f"{SERVER}/ips",
            handlers.index,
            "A server's addresses by network (always none: nubis has no networking)",
            policy=policies.SERVER_IPS_INDEX,
            **common,
        ),
        Route(
            "GET",
            f"{SERVER}/ips/{{network}}",
            handlers.show,
            "A server's addresses on one network (always 404)",
            policy=policies.SERVER_IPS_SHOW,
            **common,
        ),
        Route(
            "GET",
            f"{SERVER}/os-server-password",
            handlers.password,
            "The password the guest posted (always empty: nubis has no metadata service)",
            policy=policies.SERVER_PASSWORD_SHOW,
            **common,
        ),
        Route(
            "DELETE",
            f"{SERVER}/os-server-password",
            handlers.clear_password,
            "Clear the password the guest posted",
            policy=policies.SERVER_PASSWORD_CLEAR,
            status=204,
            **common,
        ),
    ]
