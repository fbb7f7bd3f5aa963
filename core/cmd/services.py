"""The service binaries: ``nubis-conductor``, ``nubis-compute``, ``nubis-all-in-one``
(and, as its manager lands, ``nubis-scheduler``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nubis.core.cmd import common
from nubis.core.conf import CONF


def conductor(argv: Sequence[str] | None = None) -> int:
    """nubis-conductor: the DB conductor; any number may share the topic."""
    return common.run_services(["conductor"], argv, "nubis-conductor")


def compute(argv: Sequence[str] | None = None) -> int:
    """nubis-compute: one compute host. Its objects go to the conductor unless
    ``[indirection] api`` says otherwise (the default here is ``conductor``)."""
    CONF.set_default("api", "conductor", group="indirection")
    return common.run_services(["compute"], argv, "nubis-compute")


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
    )


if __name__ == "__main__":
    sys.exit(all_in_one())
