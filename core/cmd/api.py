"""``nubis-api``: the OpenStack Compute API (and the image listing, and with
``[api] auth_strategy = local`` the embedded identity service) on ``[api] listen``:
``[api] port``, until SIGTERM.

The database must be at the current schema (``nubis-manage db sync``); remotable
methods run as ``[indirection] api`` says (``local`` by default: nubis-api reads the
database itself, as Nova's API does).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, cast

from nubis.core import plugins
from nubis.core.cmd import common
from nubis.core.conf import CONF
from nubis.core.conf import check as config_check


def main(argv: Sequence[str] | None = None) -> int:
    from nubis.core import objects
    from nubis.core.api.service import APIService
    from nubis.core.launcher import Launcher
    from nubis.core.objects.base import install_indirection

    def run() -> int:
        common.parse_config(argv, "nubis-api")
        plugins.ensure_installed("nubis.api.auth", CONF.api.auth_strategy, "[api] auth_strategy")
        config_check.check(CONF, [])
        objects.register_all()
        install_indirection(CONF)
        service = APIService(CONF)
        launcher = Launcher([cast(Any, service)])
        return launcher.run()

    return common.guarded(run)


if __name__ == "__main__":
    sys.exit(main())
