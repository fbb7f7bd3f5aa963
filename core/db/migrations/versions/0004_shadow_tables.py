"""Shadow tables for ``nubis-manage db archive-deleted-rows``: ``shadow_<name>`` for every
soft-deleting table (services, compute_nodes, instances, migrations, instance_actions,
instance_actions_events, instance_faults).

A shadow table has the columns of its source table as the database holds them at this
revision (read from the database, so this revision stays right whatever later ones add;
a later revision that adds a column to a source table adds it to its shadow table too),
with their types and nullability and nothing else: no primary key, unique constraint,
foreign key, default or autoincrement; one plain index on ``id``
(:func:`nubis.core.db.models._shadow_table` is the same definition for the models).
Reading the source tables needs a connection: this revision cannot be rendered as an
offline SQL script.

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

SOURCE_TABLES = (
    "services",
    "compute_nodes",
    "instances",
    "migrations",
    "instance_actions",
    "instance_actions_events",
    "instance_faults",
)


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("revision 0004 reads the source tables: run it online (db sync)")
    metadata = sa.MetaData()
    for name in SOURCE_TABLES:
        source = sa.Table(name, metadata, autoload_with=op.get_bind())
        shadow = f"shadow_{name}"
        op.create_table(
            shadow,
            *[
                sa.Column(column.name, column.type, nullable=column.nullable, autoincrement=False)
                for column in source.columns
            ],
            **MYSQL_TABLE_ARGS,
        )
        op.create_index(f"{shadow}_id_idx", shadow, ["id"])


def downgrade() -> None:
    for name in reversed(SOURCE_TABLES):
        op.drop_table(f"shadow_{name}")
