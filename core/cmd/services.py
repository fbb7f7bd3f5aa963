"""The service binaries: ``nubis-conductor``, ``nubis-scheduler``, ``nubis-compute``,
``nubis-api`` and ``nubis-all-in-one``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from nubis.core import binaries
from nubis.core.cmd import common
from nubis.core.conf import CONF


def conductor(argv: Sequence[str] | None = None) -> int:
    """nubis-conductor: the DB conductor; any number may share the topic."""
    return common.run_services(["conductor"], argv, binaries.CONDUCTOR)


def scheduler(argv: Sequence[str] | None = None) -> int:
    """nubis-scheduler: chooses hosts for builds and live migrations; any number may
    share the topic (each keeps its own view of the hosts)."""
    return common.run_services(["scheduler"], argv, binaries.SCHEDULER)


def compute(argv: Sequence[str] | None = None) -> int:
    """nubis-compute: one compute host. Its objects go to the conductor unless
    ``[indirection] api`` says otherwise (the default here is ``conductor``)."""
    CONF.set_default("api", "conductor", group="indirection")
    return common.run_services(["compute"], argv, binaries.COMPUTE)


def api(argv: Sequence[str] | None = None) -> int:
    """nubis-api: the OpenStack Compute API (and the image service, and with ``[api]
    auth_strategy = local`` the embedded identity service) on ``[api] listen``:``[api]
    port``, until SIGTERM.

    The database must be at the current schema (``nubis-manage db sync``); remotable
    methods run as ``[indirection] api`` says (``local`` by default: nubis-api reads the
    database itself, as Nova's API does).
    """
    return common.run_services(["api"], argv, "nubis-api", compose=compose_all_in_one)


def all_in_one(argv: Sequence[str] | None = None) -> int:
    """nubis-all-in-one: every service ``[all_in_one] services`` names, in one process.

    Being the embedded default, it brings its own database schema up to date first.
    """
    from nubis.core.db import migration

    return common.run_services(
        lambda: list(CONF.all_in_one.services),
        argv,
        "nubis-all-in-one",
        before_start=migration.db_sync,
        compose=compose_all_in_one,
        services_option="[all_in_one] services",
    )


def compose_all_in_one(names: Sequence[str]) -> list[Any]:
    """One Service per name, except ``compute``: one per ``[all_in_one] compute_hosts``
    entry (each with its own manager and virt driver), or one when that is empty; and
    ``api``: the REST API server (not an RPC service)."""
    from nubis.core.service import Service

    services: list[Any] = []
    for name in names:
        if name == "compute" and CONF.all_in_one.compute_hosts:
            services.extend(
                Service.create("compute", host=host) for host in CONF.all_in_one.compute_hosts
            )
        elif name == "api":
            from nubis.core.api.service import APIService

            services.append(APIService(CONF))
        else:
            services.append(Service.create(name))
    return services


if __name__ == "__main__":
    sys.exit(all_in_one())
