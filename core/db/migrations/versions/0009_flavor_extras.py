"""Flavor extra specs (``/flavors/{id}/os-extra_specs``) and the projects that may use
a private flavor (``os-flavor-access``): ``flavor_extra_specs``, ``flavor_projects``.

Revision ID: 0009
Revises: 0008
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _flavor_child(name: str, *columns: sa.Column, unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flavor_id", sa.Integer(), nullable=False),
        *columns,
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.ForeignKeyConstraint(["flavor_id"], ["flavors.id"], name=f"fk_{name}_flavor_id_flavors"),
        sa.UniqueConstraint(*unique, name=f"uniq_{name}0" + "0".join(unique)),
        **MYSQL_TABLE_ARGS,
    )


def upgrade() -> None:
    _flavor_child(
        "flavor_extra_specs",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=True),
        unique=("flavor_id", "key"),
    )
    _flavor_child(
        "flavor_projects",
        sa.Column("project_id", sa.String(255), nullable=False),
        unique=("flavor_id", "project_id"),
    )


def downgrade() -> None:
    op.drop_table("flavor_projects")
    op.drop_table("flavor_extra_specs")
