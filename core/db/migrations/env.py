"""Alembic environment of the nubis schema.

Alembic loads this file when :mod:`nubis.core.db.migration` runs a command. It migrates
the connection the caller put in ``config.attributes["connection"]`` (in that
connection's transaction), or else a connection of the shared engine for
``[database] connection``. Offline mode (SQL script output) uses the configured URL.
"""

from alembic import context
from sqlalchemy.engine import Connection

from nubis.core.conf import CONF
from nubis.core.db import engine, models


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=models.Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Run the migrations Alembic was asked for."""
    if context.is_offline_mode():
        context.configure(
            url=engine.normalized_url(CONF.database.connection),
            target_metadata=models.Base.metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    with engine.get_engine().connect() as new_connection:
        _migrate(new_connection)


run()
