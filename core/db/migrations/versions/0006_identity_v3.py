"""Identity v3 management: the extra attributes of users and projects (Keystone keeps
``email``, ``description`` and any attribute it has no column for in ``extra``; so do
we, as JSON text) and the roles created through the API (``identity_roles``; the
default roles ``admin``, ``member`` and ``reader`` always exist and need no row).

Revision ID: 0006
Revises: 0005
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): a copy of identity_users or identity_projects
    # would trip the role assignments' foreign keys on SQLite.
    op.add_column("identity_users", sa.Column("extra", sa.Text(), nullable=True))
    op.add_column("identity_projects", sa.Column("extra", sa.Text(), nullable=True))
    op.create_table(
        "identity_roles",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_identity_roles"),
        sa.UniqueConstraint("name", name="uniq_identity_roles0name"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    op.drop_table("identity_roles")
    op.drop_column("identity_projects", "extra")
    op.drop_column("identity_users", "extra")
