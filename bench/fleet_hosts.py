"""One "fleet" process of :mod:`bench.fleet`: many compute hosts in one process.

Run as ``python bench/fleet_hosts.py --config-file ... [--log-file ...]``. It runs one
compute service -- its own manager, fake virt driver, RPC server on
``Target(compute, server=<host>)``, servicegroup membership and periodic tasks -- for
every name in ``[all_in_one] compute_hosts``, exactly as ``nubis-all-in-one`` composes
its compute hosts (:func:`nubis.core.cmd.services.compose_all_in_one`), but with the
compute binary's defaults: remotable methods go to the conductors (``[indirection] api
= conductor``) and the database is blocked, as in ``nubis-compute``. It is served by the
same :func:`~nubis.core.cmd.common.run_services` and launcher as every binary, so
SIGTERM stops every host gracefully.

Why many services per process rather than one process per host: what the control plane
pays for a host is the host's RPC server (a RabbitMQ connection and its queues), its
state reports and its periodic tasks through the conductor, all of which each service
here has on its own; what one process per host would add is ~60 MB and an interpreter
per host on the benchmark machine, which the control plane never sees. One service with
many nodes would hide exactly the per-host costs being measured.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from nubis.core.cmd import common
    from nubis.core.cmd.services import compose_all_in_one
    from nubis.core.conf import CONF

    CONF.set_default("api", "conductor", group="indirection")
    return common.run_services(["compute"], argv, "nubis-compute", compose=compose_all_in_one)


if __name__ == "__main__":
    sys.exit(main())
