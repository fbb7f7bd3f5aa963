"""Bring the nubis database schema up to date, and say which revision it is at.

Both functions work on ``[database] connection`` through the shared engine, so the DB
access guard applies. The Alembic environment is found next to this module
(``migrations/``), so they work from an installed wheel without an alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from nubis.core.db import engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic config for the nubis migrations, bound to *connection* if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_version() -> str | None:
    """Return the newest revision the migrations define."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def db_sync(version: str | None = None) -> None:
    """Upgrade the database to revision *version* (default: the newest)."""
    with engine.get_engine().begin() as connection:
        command.upgrade(alembic_config(connection), version or "head")


def db_version() -> str | None:
    """Return the database's current revision, or None if it has none (empty database)."""
    with engine.get_engine().connect() as connection:
        revision: str | None = MigrationContext.configure(connection).get_current_revision()
        return revision
