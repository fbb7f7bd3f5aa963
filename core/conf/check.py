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

from nubis.core import exception, plugins, rpc
from nubis.core.conf import upgrade_levels

LOG = logging.getLogger(__name__)


def check(conf: cfg.ConfigOpts, services: Iterable[str]) -> None:
    """Validate *conf* for starting *services* (e.g. ``["conductor", "compute"]``)."""
    for service in services:
        if service == "api":  # the REST API: no manager, an auth plugin instead
            plugins.ensure_installed(
                "nubis.api.auth", conf.api.auth_strategy, "[api] auth_strategy"
            )
            continue
        group = getattr(conf, service)
        plugins.ensure_installed("nubis.managers", group.manager, f"[{service}] manager")
        for task in group.periodic_tasks:
            plugins.ensure_installed("nubis.periodic_tasks", task, f"[{service}] periodic_tasks")
        for opt_group, opt, namespace in _SERVICE_PLUGIN_OPTIONS.get(service, ()):
            if namespace in {ns.name for ns in plugins.NAMESPACES}:
                plugins.ensure_installed(
                    namespace, getattr(getattr(conf, opt_group), opt), f"[{opt_group}] {opt}"
                )
        for opt_group, opt, namespace in _SERVICE_PLUGIN_LIST_OPTIONS.get(service, ()):
            for name in getattr(getattr(conf, opt_group), opt):
                plugins.ensure_installed(namespace, name, f"[{opt_group}] {opt}")
    for namespace, opt_group, opt in _COMMON_PLUGIN_OPTIONS:
        if namespace in {ns.name for ns in plugins.NAMESPACES}:
            plugins.ensure_installed(
                namespace, getattr(getattr(conf, opt_group), opt), f"[{opt_group}] {opt}"
            )
    _check_transport_url(conf)
    _check_upgrade_levels(conf)
    fix_service_down_time(conf)


# Options that choose a plugin only when a given service runs in this process.
_SERVICE_PLUGIN_OPTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "compute": (("compute", "virt_driver", "nubis.virt"),),
}

# Options that choose a list of plugins only when a given service runs in this process.
_SERVICE_PLUGIN_LIST_OPTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "scheduler": (
        ("scheduler", "enabled_filters", "nubis.scheduler.filters"),
        ("scheduler", "weighers", "nubis.scheduler.weighers"),
    ),
}

# Options that choose a plugin for every service.
_COMMON_PLUGIN_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("nubis.indirection", "indirection", "api"),
    ("nubis.servicegroup", "servicegroup", "driver"),
)


def _check_transport_url(conf: cfg.ConfigOpts) -> None:
    parsed = rpc.parse_transport_url(conf)
    plugins.ensure_installed(
        "oslo.messaging.drivers", parsed.transport, "[DEFAULT] transport_url (its scheme)"
    )


def _check_upgrade_levels(conf: cfg.ConfigOpts) -> None:
    for name in upgrade_levels.RPC_APIS:
        value = getattr(conf.upgrade_levels, name)
        if not value or value == "auto":
            continue
        parts = value.split(".")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise exception.ConfigurationError(
                option=f"[upgrade_levels] {name}",
                reason=f"{value!r} is neither 'auto' nor a version such as '1.2'",
            )


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
