"""``nubis-manage``: operator commands.

* ``nubis-manage plugins list [--namespace NS]`` — every namespace, every installed
  plugin with its distribution and version, and whether it loads and passes the
  interface check (exit 1 when any does not); ``nubis-manage plugins new NAMESPACE
  NAME`` — a new plugin package (:mod:`nubis.core.cmd.manage_plugins`);
* ``nubis-manage config check SERVICE...`` — the start-up check for those services;
* ``nubis-manage db sync [--version REV]`` / ``nubis-manage db version`` — bring the
  database schema of ``[database] connection`` up to date / show its revision;
  ``nubis-manage db archive-deleted-rows`` / ``db purge`` — move soft-deleted rows into
  the shadow tables / empty those (:mod:`nubis.core.cmd.manage_db`);
* ``nubis-manage service list|disable|enable|force-down|ping`` — services, their status
  and liveness (:mod:`nubis.core.cmd.manage_service`);
* ``nubis-manage user ...`` — users of the embedded identity service
  (:mod:`nubis.core.cmd.manage_identity`);
* ``nubis-manage image ...`` — the local image registry (:mod:`nubis.core.cmd.manage_image`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from nubis.core.cmd import (
    common,
    manage_db,
    manage_identity,
    manage_image,
    manage_plugins,
    manage_service,
)
from nubis.core.conf import CONF
from nubis.core.conf import check as config_check


def config_check_cmd() -> int:
    config_check.check(CONF, CONF.category.services)
    print(f"configuration OK for: {', '.join(CONF.category.services)}")
    return 0


def _add_parsers(subparsers: Any) -> None:
    manage_plugins.add_parsers(subparsers)

    config_parser = subparsers.add_parser("config", help="check configuration")
    config_sub = config_parser.add_subparsers(dest="action", required=True)
    checking = config_sub.add_parser("check", help="run the start-up check")
    checking.add_argument("services", nargs="+", help="services to check for, e.g. compute")
    checking.set_defaults(func=config_check_cmd)

    manage_db.add_parsers(subparsers)
    manage_service.add_parsers(subparsers)
    manage_identity.add_parsers(subparsers)
    manage_image.add_parsers(subparsers)


CATEGORY = cfg.SubCommandOpt("category", title="commands", handler=_add_parsers)


def main(argv: Sequence[str] | None = None) -> int:
    CONF.register_cli_opt(CATEGORY)

    def run() -> int:
        common.parse_config(argv, "nubis-manage")
        result: int = CONF.category.func()
        return result

    return common.guarded(run)


if __name__ == "__main__":
    sys.exit(main())
