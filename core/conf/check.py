"""The start-up check: reject unusable configuration before anything starts.

:func:`check` validates what the services about to start will use — plugin names in
every namespace they load from, ``transport_url``, ``[upgrade_levels]`` — and raises the
first problem as a one-line :class:`~nubis.core.exception.NubisException` naming the
option. It corrects what Nova corrects instead of failing: ``service_down_time`` not
above ``report_interval`` is raised to 2.5 x ``report_interval`` with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from oslo_config import cfg

from nubis.core import plugins, rpc
from nubis.core.conf import upgrade_levels
from nubis.core.rpc import client as rpc_client

LOG = logging.getLogger(__name__)


def check(conf: cfg.ConfigOpts, services: Iterable[str]) -> None:
    """Validate *conf* for starting *services* (e.g. ``["conductor", "compute"]``)."""
    services = list(services)
    for ns in plugins.NAMESPACES:
        for group, opt in _choosing_options(conf, ns, services):
            value = getattr(conf[group], opt)
            for name in value if isinstance(value, list | tuple) else [value]:
                plugins.ensure_installed(ns.name, name, f"[{group}] {opt}")
    _check_transport_url(conf)
    _check_upgrade_levels(conf)
    fix_service_down_time(conf)


def _choosing_options(
    conf: cfg.ConfigOpts, ns: plugins.Namespace, services: list[str]
) -> list[tuple[str, str]]:
    """Return ``(group, option)`` of each option choosing plugins of *ns* for *services*.

    Derived from the namespace table (:data:`nubis.core.plugins.NAMESPACES`): a
    ``[<service>]`` option is read from the group of each service that has it (the API
    runs no manager), a namespace loaded by given services only when one of them runs,
    any other every time. The transport is checked by :func:`_check_transport_url`.
    """
    path = ns.option_path()
    if path is None:
        return []
    group, opt = path
    if group == plugins.SERVICE_GROUP:
        return [(service, opt) for service in services if opt in conf[service]]
    if ns.services is not None and not set(ns.services) & set(services):
        return []
    return [(group, opt)]


def _check_transport_url(conf: cfg.ConfigOpts) -> None:
    parsed = rpc.parse_transport_url(conf)
    plugins.ensure_installed(
        "oslo.messaging.drivers", parsed.transport, "[DEFAULT] transport_url (its scheme)"
    )


def _check_upgrade_levels(conf: cfg.ConfigOpts) -> None:
    for name in upgrade_levels.RPC_APIS:
        rpc_client.upgrade_level(conf, name)


def fix_service_down_time(conf: cfg.ConfigOpts) -> None:
    """Raise service_down_time to 2.5 x report_interval when it is not above it."""
    if conf.service_down_time <= conf.report_interval:
        new = int(conf.report_interval * 2.5)
        LOG.warning(
            "service_down_time (%s) must be greater than report_interval (%s); using %s",
            conf.service_down_time,
            conf.report_interval,
            new,
        )
        conf.set_override("service_down_time", new)
