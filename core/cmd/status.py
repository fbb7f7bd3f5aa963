"""``nubis-status upgrade check``: is this deployment ready for the code installed here?

Run it after installing a new release and before restarting services on it (and again
after, until it passes). Each check prints one row of the table nova-status prints
(``--json`` for a machine-readable answer), with a details line that says what was
found and what to do:

* **Database schema** -- ``[database] connection`` is at the newest Alembic revision;
* **Service versions** -- no live service record older than
  :data:`~nubis.core.version.MINIMUM_SERVICE_VERSION` (failure) or than this code's
  :data:`~nubis.core.version.SERVICE_VERSION` (warning);
* **RPC version caps** -- every ``[upgrade_levels]`` value is ``auto`` or a version of
  that API this code speaks, and agrees with the running services
  (:mod:`nubis.core.cmd.status_rpc`);
* **Object versions** -- nubis pins no object versions: a receiver has a conductor
  backport objects newer than it knows, so conductors must be the newest services;
* **Deprecated options** -- options the configuration files set under a deprecated
  name or that are deprecated for removal (:mod:`nubis.core.conf.deprecations`);
* **Policy File JSON to YAML Migration** -- oslo.upgradecheck's own check.

Exit status, as nova-status: 0 every check passed, 1 a warning (nothing blocks the
upgrade, but read it), 2 a failure (fix it first); 255 a check crashed (traceback).
A bad command line or configuration file is one ``error:`` line and status 2. The
database is read once, in a thread, within ``--database-timeout`` seconds; past that,
or on any error, the checks that need it fail with one line saying why.

"Live" service records are the ones not deleted and not forced down: ``auto`` caps
ignore forced-down services too (``nubis-manage service force-down`` takes a service
that is gone for good out of both).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from oslo_config import cfg
from oslo_upgradecheck import common_checks, upgradecheck

from nubis.core import binaries, exception, version
from nubis.core.cmd import common, status_rpc
from nubis.core.conf import CONF, deprecations
from nubis.core.conf.masking import mask_url
from nubis.core.db import engine, migration, models

Code = upgradecheck.Code
Result = upgradecheck.Result

#: Default of ``--database-timeout``: how long the check waits for the database.
DATABASE_TIMEOUT = 10.0
#: Services named in a details line before "and N more".
_NAMED = 5

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ServiceRecord:
    """The part of a ``services`` row the checks use (columns every revision has)."""

    host: str
    binary: str
    version: int
    forced_down: bool

    def __str__(self) -> str:
        return f"{self.binary} on {self.host} (version {self.version})"


@dataclasses.dataclass(frozen=True)
class DatabaseState:
    """What the checks read from the database, or why it could not be read.

    ``problem`` is one line (None when the database was read) and ``advice`` what to
    do about it; ``services`` holds the records that are not deleted, or is None when
    the database has no ``services`` table (no schema yet).
    """

    problem: str | None = None
    advice: str = ""
    revision: str | None = None
    services: tuple[ServiceRecord, ...] | None = None

    def live_services(self) -> list[ServiceRecord]:
        """The records not forced down (empty when there are none or no table)."""
        return [s for s in self.services or () if not s.forced_down]


_SERVER_ADVICE = "Check that the database server is up and [database] connection is right."
_SYNC_ADVICE = "Fix [database] connection, or create the database: nubis-manage db sync."


def read_database(conf: cfg.ConfigOpts, timeout: float) -> DatabaseState:
    """Read the schema revision and the service records of ``[database] connection``.

    A URL that does not parse, a SQLite file that does not exist (it is not created),
    a server that refuses or fails, or no answer within *timeout* seconds gives a
    state whose ``problem`` is one line naming the (masked) URL. Errors that are not
    the database's (a bug) are raised.
    """
    connection = str(conf.database.connection)
    shown = mask_url(connection)
    try:
        url = engine.normalized_url(connection)
    except sqlalchemy.exc.ArgumentError as exc:
        return DatabaseState(
            problem=f"{shown} ([database] connection) is not a database URL: {exc}",
            advice="Fix [database] connection.",
        )
    if url.get_backend_name() == "sqlite" and not engine.is_memory_sqlite(url):
        path = os.path.abspath(url.database or "")
        if not os.path.exists(path):
            return DatabaseState(
                problem=f"the SQLite database {path} ([database] connection) does not exist",
                advice=_SYNC_ADVICE,
            )
    try:
        return _bounded(_read, timeout)
    except TimeoutError:
        problem = (
            f"no answer from the database {shown} ([database] connection) within {timeout:g} s"
        )
    except exception.NubisException as exc:
        problem = exception.one_line(exc)
    except (sqlalchemy.exc.SQLAlchemyError, OSError, ImportError) as exc:
        reason = exception.one_line(getattr(exc, "orig", None) or exc)
        problem = str(exception.DatabaseUnavailable(connection=shown, reason=reason))
    return DatabaseState(problem=problem, advice=_SERVER_ADVICE)


def _read() -> DatabaseState:
    revision = migration.db_version()
    table = models.Service.__table__
    with engine.get_engine().connect() as connection:
        if not sqlalchemy.inspect(connection).has_table(table.name):
            return DatabaseState(revision=revision)
        statement = (
            sqlalchemy.select(table.c.host, table.c.binary, table.c.version, table.c.forced_down)
            .where(table.c.deleted == 0)
            .order_by(table.c.binary, table.c.host)
        )
        services = tuple(
            ServiceRecord(str(host), str(binary), int(number or 0), bool(forced_down))
            for host, binary, number, forced_down in connection.execute(statement)
        )
    return DatabaseState(revision=revision, services=services)


def _bounded(fn: Callable[[], T], timeout: float) -> T:
    """Run *fn* in a daemon thread; return its result or raise what it raised, or
    TimeoutError after *timeout* seconds (the thread is left to finish on its own: a
    connect that never answers must not keep the process from exiting)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="nubis-status-database", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value


def named(services: Sequence[Any]) -> str:
    """``a, b, c`` -- the first few of *services*, then ``and N more``."""
    shown = ", ".join(str(s) for s in services[:_NAMED])
    more = len(services) - _NAMED
    return f"{shown} and {more} more" if more > 0 else shown


class UpgradeCommands(upgradecheck.UpgradeCommands):
    """The checks of ``nubis-status upgrade check`` on *conf* (default: nubis's CONF).

    :meth:`check` (oslo.upgradecheck's) runs them in order, prints the table and
    returns the worst :class:`Code`. The database is read once, on first need.
    """

    display_title = "Upgrade Check Results"

    def __init__(
        self, conf: cfg.ConfigOpts | None = None, database_timeout: float = DATABASE_TIMEOUT
    ) -> None:
        super().__init__()
        self.conf = conf or CONF
        self.database_timeout = database_timeout
        self._database: DatabaseState | None = None

    @property
    def database(self) -> DatabaseState:
        """The database as read on first use (see :func:`read_database`)."""
        if self._database is None:
            self._database = read_database(self.conf, self.database_timeout)
        return self._database

    def _services_or_result(self) -> list[ServiceRecord] | Result:
        """The live service records, or the failure saying why they cannot be read."""
        state = self.database
        if state.problem is not None:
            return Result(
                Code.FAILURE,
                "Not checked: the database cannot be read (see the Database schema check).",
            )
        if state.services is None:
            return Result(
                Code.FAILURE,
                "Not checked: the database has no nubis schema yet "
                "(see the Database schema check).",
            )
        return state.live_services()

    def _check_schema(self) -> Result:
        """The schema is at the newest revision the installed migrations define."""
        state = self.database
        if state.problem is not None:
            return Result(
                Code.FAILURE,
                f"Cannot read the database: {state.problem}. {state.advice}",
            )
        script = ScriptDirectory.from_config(migration.alembic_config())
        head = script.get_current_head()
        if state.revision is None:
            return Result(
                Code.FAILURE,
                f"The database has no nubis schema (newest revision: {head}). "
                "Run: nubis-manage db sync",
            )
        if state.revision == head:
            return Result(Code.SUCCESS, f"Schema at revision {head}, the newest.")
        try:
            script.get_revision(state.revision)
        except CommandError:
            return Result(
                Code.FAILURE,
                f"The database is at revision {state.revision}, which this code does not "
                f"know (its newest is {head}): the schema is newer than this nubis. "
                "Install the release that matches the database.",
            )
        behind = len(list(script.iterate_revisions(head, state.revision)))
        return Result(
            Code.FAILURE,
            f"Schema at revision {state.revision}, {behind} behind the newest, {head}. "
            "Run: nubis-manage db sync",
        )

    def _check_services(self) -> Result:
        """No live service older than the minimum (failure) or than this code (warning)."""
        services = self._services_or_result()
        if isinstance(services, Result):
            return services
        if not services:
            return Result(Code.SUCCESS, "No live service records yet.")
        minimum, current = version.MINIMUM_SERVICE_VERSION, version.SERVICE_VERSION
        unsupported = [s for s in services if s.version < minimum]
        if unsupported:
            return Result(
                Code.FAILURE,
                f"{len(unsupported)} service(s) older than version {minimum}, the oldest "
                f"this release runs beside: {named(unsupported)}. First upgrade them to "
                f"a release whose services report version {minimum} or newer, or, for "
                "services gone for good, run nubis-manage service force-down HOST BINARY.",
            )
        older = [s for s in services if s.version < current]
        newer = [s for s in services if s.version > current]
        if older:
            return Result(
                Code.WARNING,
                f"{len(older)} service(s) older than this code (version {current}): "
                f"{named(older)}. Expected during a rolling upgrade: upgrade the "
                "conductors first, keep [upgrade_levels] at auto until every service "
                "runs this release, then run this check again.",
            )
        if newer:
            return Result(
                Code.WARNING,
                f"{len(newer)} service(s) newer than this code (version {current}): "
                f"{named(newer)}. Run nubis-status from the newest installed release.",
            )
        return Result(Code.SUCCESS, f"{len(services)} live service(s), all at version {current}.")

    def _check_upgrade_levels(self) -> Result:
        """``[upgrade_levels]`` is valid and agrees with the running services."""
        state = self.database
        services = None if state.problem or state.services is None else state.live_services()
        return status_rpc.check_upgrade_levels(self.conf, services)

    def _check_objects(self) -> Result:
        """Every conductor is at least as new as every other live service."""
        services = self._services_or_result()
        if isinstance(services, Result):
            return services
        why = (
            "nubis pins no object versions: a service that receives an object newer than "
            "it knows has a conductor backport it, so conductors must be the newest "
            "services."
        )
        conductors = [s for s in services if s.binary == binaries.CONDUCTOR]
        others = [s for s in services if s.binary != binaries.CONDUCTOR]
        if not conductors or not others:
            return Result(
                Code.SUCCESS, f"{why} There is no conductor, or no other service, to compare."
            )
        oldest = min(conductors, key=lambda s: s.version)
        ahead = [s for s in others if s.version > oldest.version]
        if ahead:
            return Result(
                Code.WARNING,
                f"{why} {oldest} is older than {named(ahead)}: upgrade and restart the "
                "conductors first.",
            )
        return Result(
            Code.SUCCESS,
            f"{why} They are: the oldest conductor is at version {oldest.version}, the "
            f"newest other service at {max(s.version for s in others)}.",
        )

    def _check_deprecated_options(self) -> Result:
        """No option set in the configuration files is deprecated."""
        report = deprecations.find(self.conf)
        if not report.files:
            return Result(Code.SUCCESS, "No configuration file was read.")
        parts = []
        if report.findings:
            parts.append(
                f"{len(report.findings)} deprecated option(s) set: "
                f"{'; '.join(str(f) for f in report.findings)}. Rename or remove them "
                "before the release that drops them."
            )
        if report.problems:
            parts.append(f"Not all checked: {'; '.join(report.problems)}.")
        if parts:
            return Result(Code.WARNING, " ".join(parts))
        return Result(
            Code.SUCCESS,
            f"No deprecated option set in {', '.join(report.files)}.",
        )

    def _check_policy_file(self) -> Result:
        result: Result = common_checks.check_policy_json(self, self.conf)
        return result

    _upgrade_checks = (
        ("Database schema", _check_schema),
        ("Service versions", _check_services),
        ("RPC version caps ([upgrade_levels])", _check_upgrade_levels),
        ("Object versions", _check_objects),
        ("Deprecated options", _check_deprecated_options),
        ("Policy File JSON to YAML Migration", _check_policy_file),
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return seconds


def _upgrade_check() -> int:
    commands = UpgradeCommands(CONF, CONF.command.database_timeout)
    return int(commands.check())


def _add_parsers(subparsers: Any) -> None:
    upgrade = subparsers.add_parser("upgrade", help="readiness for the installed release")
    actions = upgrade.add_subparsers(dest="action", required=True)
    checking = actions.add_parser("check", help="run the upgrade checks")
    checking.add_argument(
        "--json", action="store_true", help="print the results as JSON instead of a table"
    )
    checking.add_argument(
        "--database-timeout",
        type=_seconds,
        default=DATABASE_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for the database (default {DATABASE_TIMEOUT:g})",
    )
    checking.set_defaults(action_fn=_upgrade_check)


COMMAND = cfg.SubCommandOpt("command", title="commands", handler=_add_parsers)


def main(argv: Sequence[str] | None = None) -> int:
    CONF.register_cli_opt(COMMAND)

    def run() -> int:
        common.parse_config(argv, "nubis-status")
        # oslo.upgradecheck reads --json from its module's CONF, which its own main()
        # sets; nubis parses the command line itself (config file checks, logging).
        upgradecheck.CONF = CONF
        return upgradecheck.run(CONF)

    return common.guarded(run)


if __name__ == "__main__":
    sys.exit(main())
