"""What every nubis console script does before its own work.

:func:`parse_config` registers nubis's and oslo.messaging's options, parses the command
line and config files and sets up logging. :func:`run_services` composes the named
services from configuration, checks the configuration first and serves them until
SIGTERM. A :class:`~nubis.core.exception.NubisException` raised before the services are
up is printed as one line on stderr and the process exits with :data:`EXIT_CONFIG`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from nubis.core import exception, rpc, version
from nubis.core.conf import CONF
from nubis.core.conf import check as config_check

EXIT_CONFIG = 2

# Libraries whose INFO lines say nothing an operator acts on.
_QUIET_LIBRARIES = ["alembic=WARN", "kazoo=WARN", "libvirt=WARN"]

LOG = logging.getLogger(__name__)


def parse_config(argv: Sequence[str] | None, prog: str) -> None:
    """Parse *argv* (without the program name) and config files into CONF; set up logs."""
    logging.register_options(CONF)
    logging.set_defaults(
        default_log_levels=logging.get_default_log_levels() + _QUIET_LIBRARIES
    )
    rpc.register_opts(CONF)
    CONF(
        list(sys.argv[1:] if argv is None else argv),
        project="nubis",
        prog=prog,
        version=version.VERSION,
    )
    logging.setup(CONF, "nubis")


def fail(exc: BaseException) -> int:
    """Print *exc* as one line on stderr and return EXIT_CONFIG."""
    print(f"error: {exception.one_line(exc)}", file=sys.stderr)
    return EXIT_CONFIG


def guarded(main: Callable[[], int]) -> int:
    """Run *main*; turn configuration, plugin and database errors into exit code 2."""
    try:
        return main()
    except (exception.NubisException, cfg.Error) as exc:
        return fail(exc)
    except Exception as exc:
        if type(exc).__module__.startswith("sqlalchemy"):
            return fail(_database_error(exc))
        raise


def _database_error(exc: Exception) -> exception.DatabaseUnavailable:
    from sqlalchemy.engine import make_url

    url = make_url(CONF.database.connection).render_as_string(hide_password=True)
    reason = getattr(exc, "orig", None) or exc
    return exception.DatabaseUnavailable(connection=url, reason=exception.one_line(reason))


def run_services(
    services: Sequence[str] | Callable[[], Sequence[str]],
    argv: Sequence[str] | None,
    prog: str,
    before_start: Callable[[], None] | None = None,
    compose: Callable[[Sequence[str]], list[Any]] | None = None,
) -> int:
    """Compose *services* from configuration in this process and serve until stopped.

    *services* may be a callable, evaluated after the configuration is parsed.
    *before_start* runs after the start-up check and before any service is composed.
    *compose* turns the service names into Service objects (default: one
    ``Service.create(name)`` each).
    """
    from nubis.core import objects
    from nubis.core.context import get_admin_context
    from nubis.core.db import guard
    from nubis.core.launcher import Launcher
    from nubis.core.objects.base import install_indirection
    from nubis.core.service import Service

    def main() -> int:
        parse_config(argv, prog)
        names = list(services() if callable(services) else services)
        config_check.check(CONF, names)
        objects.register_all()
        indirection = install_indirection(CONF)
        if hasattr(indirection, "wait_until_ready"):
            # Remotable methods go to a conductor: this process has no business with
            # the database, and nothing can start until a conductor answers.
            guard.block(prog)
            indirection.wait_until_ready(
                get_admin_context(), timeout=CONF.rpc_response_timeout_startup
            )
        if before_start is not None:
            before_start()
        composed = (
            compose(names) if compose is not None else [Service.create(name) for name in names]
        )
        launcher = Launcher(composed)
        return launcher.run()

    return guarded(main)
