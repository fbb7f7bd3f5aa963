"""Quotas (``os-quota-sets``, ``os-quota-class-sets``): ``quotas`` (a project's limits),
``project_user_quotas`` (a user's within a project) and ``quota_classes``.

Revision ID: 0011
Revises: 0010
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _limits_table(name: str, *keys: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        *(sa.Column(key, sa.String(255), nullable=False) for key in keys),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.UniqueConstraint(*keys, "resource", name=f"uniq_{name}0" + "0".join(keys) + "0resource"),
        **MYSQL_TABLE_ARGS,
    )


def upgrade() -> None:
    _limits_table("quotas", "project_id")
    _limits_table("project_user_quotas", "project_id", "user_id")
    _limits_table("quota_classes", "class_name")


def downgrade() -> None:
    for name in ("quota_classes", "project_user_quotas", "quotas"):
        op.drop_table(name)
