"""``nubis-manage db ...``: the schema of ``[database] connection`` and its deleted rows.

* ``db sync [--version REV]`` / ``db version`` -- bring the schema up to date / show
  its revision;
* ``db archive-deleted-rows [--before DATE] [--max-rows N] [--until-complete]
  [--verbose]`` -- move up to N (default 1000) rows of deleted things into the shadow
  tables, in short batches, safe while the services run
  (:func:`nubis.core.db.api.archive_deleted_rows` says which rows); with
  ``--until-complete``, N rows at a time until nothing is left. Exit status as
  nova-manage's: 0 nothing was archived, 1 rows were archived (with or without
  ``--until-complete``: a script runs the command while it exits 1), 4 an invalid
  ``--before``;
* ``db purge --before DATE | --all [--verbose]`` -- delete rows from the shadow
  tables: those deleted before DATE, or all. Exit status as nova-manage's: 0 rows were
  deleted, 1 neither ``--before`` nor ``--all`` was given, 2 an invalid ``--before``, 3
  nothing was deleted.

DATE is ISO 8601 -- ``2025-01-31``, ``2025-01-31 18:30``, ``2025-01-31T18:30:00+02:00``
-- in UTC unless it carries an offset. Both commands print one summary line; with
``--verbose``, one line per table. A bad argument is one ``error: ...`` line on stderr
(an invalid ``--max-rows`` is argparse's usage error, exit status 2, as a database that
cannot be reached is).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Mapping
from typing import Any

from nubis.core.conf import CONF
from nubis.core.context import get_admin_context

ARCHIVE_INVALID_BEFORE = 4
PURGE_NEEDS_OPTION = 1
PURGE_INVALID_BEFORE = 2
PURGE_NOTHING_DELETED = 3


def db_sync() -> int:
    from nubis.core.db import migration

    migration.db_sync(CONF.category.version)
    print(f"database at revision {migration.db_version()}")
    return 0


def db_version() -> int:
    from nubis.core.db import migration

    print(migration.db_version() or "empty (run: nubis-manage db sync)")
    return 0


def parse_date(text: str) -> datetime.datetime:
    """*text* (ISO 8601, UTC unless it has an offset) as a naive UTC datetime; ValueError
    with a one-line reason when it is not a date."""
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--before {text!r} is not a date; use YYYY-MM-DD[ HH:MM[:SS]] (UTC) "
            "or ISO 8601 with an offset"
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return when


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _before(exit_status: int) -> tuple[datetime.datetime | None, int | None]:
    """``--before`` parsed, or None and *exit_status* after printing why it is invalid."""
    if CONF.category.before is None:
        return None, None
    try:
        return parse_date(CONF.category.before), None
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None, exit_status


def _report(counts: Mapping[str, int], verb: str, verbose: bool) -> None:
    total = sum(counts.values())
    if verbose:
        width = max(len(name) for name in counts) if counts else 0
        for name, count in sorted(counts.items()):
            print(f"{name.ljust(width)}  {count}")
    if total:
        rows = "row" if total == 1 else "rows"
        tables = "table" if len(counts) == 1 else "tables"
        print(f"{verb} {total} {rows} from {len(counts)} {tables}")
    else:
        print(f"nothing to {verb.removesuffix('d')}")


def db_archive_deleted_rows() -> int:
    from nubis.core.db import api as db_api

    before, failed = _before(ARCHIVE_INVALID_BEFORE)
    if failed is not None:
        return failed
    context = get_admin_context()
    archived: dict[str, int] = {}
    while True:
        moved = db_api.archive_deleted_rows(context, before=before, max_rows=CONF.category.max_rows)
        for name, count in moved.items():
            archived[name] = archived.get(name, 0) + count
        if not CONF.category.until_complete or not moved:
            break
    _report(archived, "archived", CONF.category.verbose)
    return 1 if archived else 0


def db_purge() -> int:
    from nubis.core.db import api as db_api

    if CONF.category.before is None and not CONF.category.purge_all:
        print("error: db purge needs --before DATE or --all", file=sys.stderr)
        return PURGE_NEEDS_OPTION
    before, failed = _before(PURGE_INVALID_BEFORE)
    if failed is not None:
        return failed
    deleted = db_api.purge_shadow_tables(
        get_admin_context(), before=before, all=CONF.category.purge_all
    )
    _report(deleted, "purged", CONF.category.verbose)
    return 0 if deleted else PURGE_NOTHING_DELETED


def add_parsers(subparsers: Any) -> None:
    """Add ``db sync|version|archive-deleted-rows|purge`` to nubis-manage's sub-commands."""
    parser = subparsers.add_parser("db", help="database schema and deleted rows")
    sub = parser.add_subparsers(dest="action", required=True)
    syncing = sub.add_parser("sync", help="upgrade the schema to the newest revision")
    syncing.add_argument("--version", help="upgrade only to this revision")
    syncing.set_defaults(func=db_sync)
    sub.add_parser("version", help="show the schema revision").set_defaults(func=db_version)

    archive = sub.add_parser(
        "archive-deleted-rows", help="move rows of deleted things into the shadow tables"
    )
    archive.add_argument(
        "--before", metavar="DATE", help="only rows deleted before DATE (ISO 8601, UTC)"
    )
    archive.add_argument(
        "--max-rows",
        type=positive_int,
        default=1000,
        metavar="N",
        help="archive at most about N rows (a batch with --until-complete; default 1000)",
    )
    archive.add_argument(
        "--until-complete", action="store_true", help="repeat until nothing is left"
    )
    archive.add_argument("--verbose", action="store_true", help="print the rows per table")
    archive.set_defaults(func=db_archive_deleted_rows)

    purge = sub.add_parser("purge", help="delete rows from the shadow tables")
    which = purge.add_mutually_exclusive_group()
    which.add_argument("--before", metavar="DATE", help="rows deleted before DATE (ISO 8601, UTC)")
    which.add_argument("--all", dest="purge_all", action="store_true", help="every row")
    purge.add_argument("--verbose", action="store_true", help="print the rows per table")
    purge.set_defaults(func=db_purge)
