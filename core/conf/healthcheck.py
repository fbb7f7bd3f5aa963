"""[healthcheck] options: nubis-api's ``/healthcheck`` (oslo.middleware's Healthcheck).

The group holds nubis's own options (:data:`OPTS`: the path and the bound of each of
nubis's checks) and oslo.middleware's (``backends``, ``detailed``,
``allowed_source_ranges``, ``ignore_proxied_requests``, ``disable_by_file_path``, ...),
with nubis's defaults for two of them: every nubis check plus ``disable_by_file`` in
``backends``, and ``$state_path/healthcheck_disable`` as the file that drains a node.

oslo.middleware's options are registered only where the endpoint is composed
(:func:`register_middleware_opts`, called by :mod:`nubis.core.api.healthcheck`) and
listed for the sample configuration: importing oslo.middleware costs every other
process (the services, nubis-manage) tens of milliseconds for nothing.
"""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("healthcheck", title="nubis-api's /healthcheck (oslo.middleware)")

#: oslo.middleware's plugin namespace of health checks (``[healthcheck] backends``).
NAMESPACE = "oslo.middleware.healthcheck"

#: nubis's default ``[healthcheck] backends``: the drain file, then nubis's own checks.
DEFAULT_BACKENDS = ["disable_by_file", "nubis_database", "nubis_bus", "nubis_membership"]

DEFAULT_DISABLE_FILE = "$state_path/healthcheck_disable"

OPTS: list[cfg.Opt] = [
    cfg.StrOpt(
        "path",
        default="/healthcheck",
        regex=r"^/[^?#\s]+$",
        help="URL path nubis-api answers health checks at, without authentication: 200 "
        "'OK' when every check in backends passes, 503 with the failing checks' reasons "
        "otherwise (HEAD: 204 or 503, no body). Any path of its own, e.g. /healthcheck.",
    ),
    cfg.FloatOpt(
        "check_timeout",
        default=2.0,
        min=0.05,
        help="Longest wait, in seconds, for each of nubis's checks (nubis_database, "
        "nubis_bus, nubis_membership); a check without an answer by then fails with 'no "
        "answer within N s'. One answer waits at most the sum over the checks enabled.",
    ),
]


def middleware_opts() -> list[cfg.Opt]:
    """oslo.middleware's healthcheck options, with nubis's defaults applied."""
    from oslo_middleware.healthcheck import opts as middleware

    cfg.set_defaults(middleware.HEALTHCHECK_OPTS, backends=list(DEFAULT_BACKENDS))
    cfg.set_defaults(middleware.DISABLE_BY_FILE_OPTS, disable_by_file_path=DEFAULT_DISABLE_FILE)
    return [
        *middleware.HEALTHCHECK_OPTS,
        *middleware.DISABLE_BY_FILE_OPTS,
        *middleware.DISABLE_BY_FILES_OPTS,
        *middleware.ENABLE_BY_FILES_OPTS,
    ]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def register_middleware_opts(conf: cfg.ConfigOpts) -> None:
    """Register oslo.middleware's options in ``[healthcheck]`` (nubis's defaults)."""
    register_opts(conf)
    conf.register_opts(middleware_opts(), group=GROUP)


def list_opts() -> dict[str, list[cfg.Opt]]:
    return {GROUP.name: [*OPTS, *middleware_opts()]}
