"""The contract of the ``nubis.api.auth`` plugins: who is calling nubis-api.

A plugin is chosen by ``[api] auth_strategy`` and constructed with the configuration.
Its :meth:`AuthPlugin.middleware` wraps the API's WSGI application. For every request
the middleware either

* confirms an identity: it sets the headers keystonemiddleware's ``auth_token`` sets
  (``X-Identity-Status: Confirmed``, ``X-User-Id``, ``X-User-Name``, ``X-Project-Id``,
  ``X-Project-Name``, ``X-Roles`` ...) in the WSGI environ and calls the application; or
* passes the request on with ``X-Identity-Status: Invalid`` (no or a bad token); the
  application then answers 401 unless the route is public (version documents); or
* answers the request itself (a token service the plugin serves, a 503 when its
  identity backend cannot be reached).

Before the middleware sees a request, the API strips every identity header the client
sent (:func:`strip_identity_headers`), so a client can never assert an identity. The
application builds the request context from these headers (:func:`context_from_environ`).
"""

from __future__ import annotations

import abc
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from nubis.core.context import RequestContext

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

CONFIRMED = "Confirmed"
INVALID = "Invalid"

#: The environ keys of the identity headers (keystonemiddleware's set).
IDENTITY_HEADERS = (
    "HTTP_X_IDENTITY_STATUS",
    "HTTP_X_SERVICE_IDENTITY_STATUS",
    "HTTP_X_DOMAIN_ID",
    "HTTP_X_DOMAIN_NAME",
    "HTTP_X_PROJECT_ID",
    "HTTP_X_PROJECT_NAME",
    "HTTP_X_PROJECT_DOMAIN_ID",
    "HTTP_X_PROJECT_DOMAIN_NAME",
    "HTTP_X_USER_ID",
    "HTTP_X_USER_NAME",
    "HTTP_X_USER_DOMAIN_ID",
    "HTTP_X_USER_DOMAIN_NAME",
    "HTTP_X_ROLES",
    "HTTP_X_SERVICE_CATALOG",
    "HTTP_X_IS_ADMIN_PROJECT",
    "HTTP_X_SYSTEM_SCOPE",
    "HTTP_X_TENANT_ID",
    "HTTP_X_TENANT_NAME",
    "HTTP_X_TENANT",
    "HTTP_X_USER",
    "HTTP_X_ROLE",
    "HTTP_X_AUTH_PROJECT_ID",
    "HTTP_OPENSTACK_SYSTEM_SCOPE",
)


class AuthPlugin(abc.ABC):
    """An authentication plugin for nubis-api; see the module docstring."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def middleware(self, app: WSGIApp) -> WSGIApp:
        """Return a WSGI application that identifies callers and then calls *app*."""

    def check_listen(self, address: str) -> None:
        """Raise ConfigurationError if this plugin must not serve on *address*.

        The default accepts any address.
        """
        return None

    def www_authenticate(self) -> str | None:
        """The ``WWW-Authenticate`` header value of a 401 (where to get a token), or None."""
        return None

    def openapi_paths(self) -> dict[str, Any]:
        """OpenAPI path items of the endpoints the plugin serves itself (default none)."""
        return {}


def strip_identity_headers(environ: dict[str, Any]) -> None:
    """Remove every identity header a client may have sent (service ones included)."""
    for key in IDENTITY_HEADERS:
        environ.pop(key, None)
    for key in [
        k for k in environ if k.startswith("HTTP_X_SERVICE_") and k != "HTTP_X_SERVICE_TOKEN"
    ]:
        del environ[key]


def set_identity(
    environ: dict[str, Any],
    *,
    user_id: str,
    user_name: str,
    project_id: str,
    project_name: str,
    roles: Iterable[str],
    domain: str = "default",
    domain_name: str = "Default",
) -> None:
    """Mark *environ* as carrying a confirmed identity, in keystonemiddleware's headers."""
    environ.update(
        {
            "HTTP_X_IDENTITY_STATUS": CONFIRMED,
            "HTTP_X_USER_ID": user_id,
            "HTTP_X_USER_NAME": user_name,
            "HTTP_X_USER_DOMAIN_ID": domain,
            "HTTP_X_USER_DOMAIN_NAME": domain_name,
            "HTTP_X_PROJECT_ID": project_id,
            "HTTP_X_PROJECT_NAME": project_name,
            "HTTP_X_PROJECT_DOMAIN_ID": domain,
            "HTTP_X_PROJECT_DOMAIN_NAME": domain_name,
            "HTTP_X_ROLES": ",".join(roles),
        }
    )


def set_invalid(environ: dict[str, Any]) -> None:
    """Mark *environ* as carrying no usable identity."""
    environ["HTTP_X_IDENTITY_STATUS"] = INVALID


def context_from_environ(environ: dict[str, Any]) -> RequestContext | None:
    """The request context of a confirmed identity in *environ*, or None."""
    if environ.get("HTTP_X_IDENTITY_STATUS") != CONFIRMED:
        return None
    if not environ.get("HTTP_X_USER_ID") or not environ.get("HTTP_X_PROJECT_ID"):
        return None  # an unscoped token: nothing in the compute API is for it
    context: RequestContext = RequestContext.from_environ(environ)
    return context


def is_loopback(address: str) -> bool:
    """Whether *address* (an IP address or host name) only listens on loopback."""
    if address in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
