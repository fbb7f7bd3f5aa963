"""What every nubis console script does before its own work.

:func:`parse_config` registers nubis's and oslo.messaging's options, parses the command
line and config files and sets up logging; a configuration file that is a directory,
binary or unreadable is a one-line error. :func:`run_services` composes the named
services from configuration, checks the configuration first, waits (bounded) for what
they depend on and serves them until SIGTERM, with signals honoured in every phase
(:mod:`nubis.core.launcher`).

Exit codes of the binaries:

* 0 -- stopped as asked (SIGTERM/SIGINT), in any phase, within
  ``graceful_shutdown_timeout``;
* 1 -- stopped as asked, but ``graceful_shutdown_timeout`` (or a second signal) came
  first and in-flight work was abandoned; or an unexpected error (with a traceback);
* 2 (:data:`EXIT_CONFIG`) -- a problem found before the services were up:
  configuration, plugin, database, or a start-up wait (message bus, conductor) that ran
  out. Printed as ``error: ...`` lines on stderr, one per problem, passwords masked.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from nubis.core import exception, rpc, version
from nubis.core.conf import CONF
from nubis.core.conf import check as config_check
from nubis.core.conf.masking import mask, mask_url

EXIT_CONFIG = 2
#: After the services stopped, how long threads they left behind may keep the process
#: from exiting (a start-up step abandoned while it waited, say) before it exits anyway.
EXIT_GRACE_SECONDS = 5.0

# Libraries whose INFO lines say nothing an operator acts on.
_QUIET_LIBRARIES = ["alembic=WARN", "kazoo=WARN", "libvirt=WARN"]

LOG = logging.getLogger(__name__)


def parse_config(argv: Sequence[str] | None, prog: str) -> None:
    """Parse *argv* (without the program name) and config files into CONF; set up logs."""
    logging.register_options(CONF)
    logging.set_defaults(default_log_levels=logging.get_default_log_levels() + _QUIET_LIBRARIES)
    if prog in ("nubis-manage", "nubis-status"):
        # A command's output is its answer (scripts read it); its log lines go to stderr.
        CONF.set_default("use_stderr", True)
    rpc.register_opts(CONF)
    args = list(sys.argv[1:] if argv is None else argv)
    for option, path in _config_paths(args):
        problem = config_path_problem(option, path)
        if problem:
            raise exception.ConfigurationError(option=f"{option} {path}", reason=problem)
    try:
        CONF(args, project="nubis", prog=prog, version=version.VERSION)
    except (OSError, UnicodeDecodeError) as exc:
        raise exception.ConfigurationError(
            option="configuration files", reason=f"cannot be read: {exception.one_line(exc)}"
        ) from exc
    logging.setup(CONF, "nubis")


def _config_paths(args: list[str]) -> list[tuple[str, str]]:
    """``(option, path)`` of every ``--config-file``/``--config-dir`` in *args*."""
    found: list[tuple[str, str]] = []
    for i, arg in enumerate(args):
        for option in ("--config-file", "--config-dir"):
            if arg == option and i + 1 < len(args):
                found.append((option, args[i + 1]))
            elif arg.startswith(option + "="):
                found.append((option, arg.split("=", 1)[1]))
    return found


def config_path_problem(option: str, path: str) -> str | None:
    """Why *path* cannot be read as *option* (``--config-file``/``--config-dir``); None
    when it can, or does not exist (oslo.config says so itself)."""
    if not os.path.lexists(path):
        return None
    if option == "--config-dir":
        return None if os.path.isdir(path) else "is not a directory"
    if os.path.isdir(path):
        return "is a directory; name a file, or use --config-dir for a directory of *.conf files"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        return f"is not a text file (byte {byte:#04x} at offset {exc.start} is not UTF-8)"
    return None


def fail(exc: BaseException) -> int:
    """Print *exc* as one line (one per problem it carries) on stderr; return EXIT_CONFIG."""
    lines = getattr(exc, "problems", None) or [exception.one_line(exc)]
    for line in lines:
        print(f"error: {mask(line)}", file=sys.stderr)
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
    reason = getattr(exc, "orig", None) or exc
    return exception.DatabaseUnavailable(
        connection=mask_url(str(CONF.database.connection)), reason=exception.one_line(reason)
    )


def run_services(
    services: Sequence[str] | Callable[[], Sequence[str]],
    argv: Sequence[str] | None,
    prog: str,
    before_start: Callable[[], None] | None = None,
    compose: Callable[[Sequence[str]], list[Any]] | None = None,
    services_option: str = "",
) -> int:
    """Compose *services* from configuration in this process and serve until stopped.

    *services* may be a callable, evaluated after the configuration is parsed;
    *services_option* names the option it reads for the check's messages.
    *before_start* runs after the start-up check and waits, before any service is
    composed. *compose* turns the service names into Service objects (default: one
    ``Service.create(name)`` each). Everything after the configuration is parsed runs
    under the :class:`~nubis.core.launcher.Launcher`, so SIGTERM/SIGINT stop it in
    every phase; see the module docstring for the exit codes.
    """
    from nubis.core.launcher import Launcher

    launcher: Launcher | None = None

    def prepare() -> list[Any]:
        from nubis.core import objects
        from nubis.core.context import get_admin_context
        from nubis.core.db import guard
        from nubis.core.objects.base import install_indirection
        from nubis.core.service import Service

        names = list(services() if callable(services) else services)
        config_check.check(CONF, names, services_option)
        rpc.wait_for_transport(CONF)
        objects.register_all()
        indirection = install_indirection(CONF)
        if hasattr(indirection, "wait_until_ready"):
            # Remotable methods go to a conductor: nothing can start until one answers,
            # and (but for nubis-api, whose identity service reads the database) this
            # process has no business with the database.
            if "api" not in names:
                guard.block(prog)
            indirection.wait_until_ready(
                get_admin_context(), timeout=CONF.rpc_response_timeout_startup
            )
        if before_start is not None:
            before_start()
        if compose is not None:
            return compose(names)
        return [Service.create(name) for name in names]

    def main() -> int:
        nonlocal launcher
        parse_config(argv, prog)
        launcher = Launcher([], CONF)
        return launcher.run(prepare)

    try:
        code = guarded(main)
    except BaseException:
        exit_promptly(1, abandoned=False)
        raise
    return exit_promptly(code, abandoned=launcher is not None and launcher.abandoned)


def exit_promptly(code: int, abandoned: bool) -> int:
    """Make sure the process ends soon with *code* once its services are stopped.

    Abandoned work (``graceful_shutdown_timeout`` passed) is left the way a crash leaves
    it: the process exits at once. Otherwise threads left behind (a start-up wait that
    a signal cut short, a cast still retrying an absent broker) get
    :data:`EXIT_GRACE_SECONDS` before the process exits anyway; with none left this
    returns *code* for the normal exit.
    """
    if abandoned:
        _hard_exit(code)
    current = threading.current_thread()
    # Daemon threads count too: the interpreter's exit joins every concurrent.futures
    # worker (daemon or not) before it ends, so one stuck in a call holds the exit.
    if any(t is not current and t.is_alive() for t in threading.enumerate()):

        def backstop() -> None:
            time.sleep(EXIT_GRACE_SECONDS)
            LOG.warning("threads still running %.0f s after the stop; exiting", EXIT_GRACE_SECONDS)
            _hard_exit(code)

        threading.Thread(target=backstop, name="nubis-exit", daemon=True).start()
    return code


def _hard_exit(code: int) -> None:
    import logging as std_logging

    std_logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: S110 -- a closed stream: nothing left to flush
            pass
    os._exit(code)
