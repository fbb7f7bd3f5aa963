"""nubis-api's ``/healthcheck``: oslo.middleware's Healthcheck, the OpenStack way.

Contract of :class:`Endpoint` (mounted by :class:`~nubis.core.api.app.APIApp` before
authentication, so it needs no token):

* ``GET`` at ``[healthcheck] path`` runs every check ``[healthcheck] backends`` names
  (plugins of namespace ``oslo.middleware.healthcheck``; by default ``disable_by_file``
  and nubis's own, :mod:`nubis.core.api.healthcheck.checks`) and answers 200 ``OK``
  when all pass, else 503 with the reason of each failing check, one per line
  (``text/plain``; ``Accept: application/json`` or ``text/html`` get oslo.middleware's
  JSON or HTML with every check's reason). ``HEAD`` answers 204 or 503 without a body;
  any other method 405.
* ``[healthcheck] detailed`` (off by default: it shows the process's threads and
  platform) adds each check's details to the JSON and HTML answers.
* Draining a node: while the file ``[healthcheck] disable_by_file_path`` exists
  (default ``$state_path/healthcheck_disable``) the answer is 503 ``DISABLED BY
  FILE``, so load balancers and readiness probes take the node out of rotation while
  it keeps serving the requests it gets.
* A request that ``allowed_source_ranges`` or ``ignore_proxied_requests`` excludes goes
  on to the API, which knows no such path (404).
* Each of nubis's checks answers within ``[healthcheck] check_timeout``; one answer
  takes at most the sum over the checks configured.
* A name in ``backends`` that is not installed, or whose plugin does not import, stops
  nubis-api at start with one line (:class:`~nubis.core.exception.PluginNotFound`,
  :class:`~nubis.core.exception.PluginLoadFailed`); so does a contradictory choice
  (``disable_by_file`` with ``enable_by_files``).

The one departure from oslo.middleware: its text answer has one line per check,
``OK`` included; nubis's has ``OK`` alone when all pass and only the failing checks'
lines otherwise, so the line an operator reads is the one that matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg
from oslo_middleware import healthcheck as oslo_healthcheck
from oslo_middleware.exceptions import ConfigInvalid

from nubis.core import exception, plugins
from nubis.core.conf import healthcheck as healthcheck_conf

#: The name of nubis's membership check in ``[healthcheck] backends``.
MEMBERSHIP = "nubis_membership"

_METHODS = ("GET", "HEAD")


class Healthcheck(oslo_healthcheck.Healthcheck):
    """oslo.middleware's Healthcheck with nubis's text answer (module docstring)."""

    PLAIN_RESPONSE_TEMPLATE = """
{% set failed = reasons | reject("equalto", "OK") | reject("equalto", "") | list %}
{% if failed %}{% for reason in failed %}{{ reason }}
{% endfor %}{% else %}OK{% endif %}
"""


def check_backends(names: Iterable[str]) -> None:
    """Raise PluginNotFound or PluginLoadFailed unless every check in *names* loads."""
    namespace = healthcheck_conf.NAMESPACE
    names = list(names)
    installed = plugins.available(namespace)
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise exception.PluginNotFound(
            name="', '".join(unknown),
            namespace=namespace,
            option="[healthcheck] backends",
            available=", ".join(installed) or "(none installed)",
        )
    for name in names:
        entry_point = plugins.entry_point(namespace, name)
        try:
            if entry_point is not None:
                entry_point.load()
        except Exception as exc:  # whatever the plugin's import raised
            raise exception.PluginLoadFailed(
                name=name, namespace=namespace, reason=plugins.load_error(entry_point, exc)
            ) from exc


class Endpoint:
    """The WSGI application of ``[healthcheck] path`` (see the module docstring).

    *application* answers the requests the health check passes on (those that
    ``allowed_source_ranges`` or ``ignore_proxied_requests`` exclude).
    """

    def __init__(self, conf: cfg.ConfigOpts, application: Callable[..., Any]) -> None:
        healthcheck_conf.register_middleware_opts(conf)
        self.path = str(conf.healthcheck.path)
        self.backends = list(conf.healthcheck.backends)
        check_backends(self.backends)
        try:
            self.middleware = Healthcheck(application, conf)
        except ConfigInvalid as exc:
            raise exception.ConfigurationError(
                option="[healthcheck] backends", reason=exception.one_line(exc)
            ) from exc

    def serves(self, environ: dict[str, Any]) -> bool:
        """Whether the request *environ* is for this endpoint."""
        return bool(environ.get("PATH_INFO") == self.path)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in _METHODS:
            body = f"Method {method} is not allowed on {self.path}; use GET or HEAD.\n".encode()
            start_response(
                "405 Method Not Allowed",
                [
                    ("Allow", ", ".join(_METHODS)),
                    ("Content-Type", "text/plain; charset=UTF-8"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        result: Iterable[bytes] = self.middleware(environ, start_response)
        return result
