"""Compose nubis-api's WSGI application: the resources' routes, the OpenAPI document
route, the ``[api] auth_strategy`` plugin around them, and ``/healthcheck``.

Order of a request: identity headers the client sent are stripped; the URL clients
reach nubis-api at (:attr:`APIApp.base_url`, never the request's Host header) is put in
the environ; a request for ``[healthcheck] path`` is answered by the health check
(:mod:`nubis.core.api.healthcheck`, without authentication); otherwise the auth
plugin's middleware identifies the caller (or answers itself) and
:class:`~.wsgi.Application` does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg

from nubis.core import plugins
from nubis.core.api import auth, healthcheck, openapi
from nubis.core.api.resources import Deps, all_routes
from nubis.core.api.routing import Route
from nubis.core.api.wsgi import BASE_URL_KEY, Application, Request, public_base_url

OPENAPI_PATH = "/openapi.json"


def load_auth_plugin(conf: cfg.ConfigOpts) -> auth.AuthPlugin:
    """Load and construct the ``[api] auth_strategy`` plugin."""
    cls = plugins.load_one("nubis.api.auth", conf.api.auth_strategy, "[api] auth_strategy")
    plugin: auth.AuthPlugin = cls(conf)
    return plugin


class APIApp:
    """The composed WSGI application (see the module docstring).

    ``routes`` are the API's own routes, ``auth`` the plugin, ``application`` the
    unwrapped :class:`~.wsgi.Application`, ``base_url`` the URL of links and of the
    service catalog (``[api] public_endpoint``, or ``http://<listen>:<port>``: the
    server sets it once it knows the bound port), ``healthcheck`` the
    ``/healthcheck`` endpoint.
    """

    def __init__(
        self,
        conf: cfg.ConfigOpts | None = None,
        compute_api: Any = None,
        auth_plugin: auth.AuthPlugin | None = None,
    ) -> None:
        self.conf = conf or cfg.CONF
        self.deps = Deps(self.conf, compute_api)
        self.base_url = public_base_url(self.conf)
        self.auth = auth_plugin or load_auth_plugin(self.conf)
        self._document: dict[str, Any] | None = None
        self._document_lock = threading.Lock()
        self.routes: list[Route] = [
            *all_routes(self.deps),
            Route(
                "GET",
                OPENAPI_PATH,
                self._openapi,
                "This OpenAPI document",
                public=True,
                api="meta",
                tag="meta",
            ),
        ]
        self.application = Application(self.conf, self.routes, self.auth.www_authenticate)
        self._wrapped = self.auth.middleware(self.application)
        self.healthcheck = healthcheck.Endpoint(self.conf, self._wrapped)
        if healthcheck.MEMBERSHIP in self.healthcheck.backends:
            # Hold the process's shared membership driver for as long as the API's
            # resources may (released by deps.cleanup()), so that every probe of the
            # membership check uses the one backend session instead of opening its own.
            _ = self.deps.servicegroup

    def openapi_document(self) -> dict[str, Any]:
        """The OpenAPI document of every route, the auth plugin's included."""
        with self._document_lock:
            if self._document is None:
                self._document = openapi.document(self.routes, self.auth.openapi_paths())
            return self._document

    def _openapi(self, req: Request) -> dict[str, Any]:
        return self.openapi_document()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        auth.strip_identity_headers(environ)
        environ[BASE_URL_KEY] = self.base_url
        if self.healthcheck.serves(environ):
            return self.healthcheck(environ, start_response)
        return self._wrapped(environ, start_response)
