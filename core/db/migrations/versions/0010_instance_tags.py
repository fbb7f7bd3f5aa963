"""Server tags (``/servers/{id}/tags``, 2.26): ``instance_tags``.

Revision ID: 0010
Revises: 0009
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "instance_tags",
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("tag", sa.String(80), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("instance_uuid", "tag", name="pk_instance_tags"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("instance_tags_tag_idx", "instance_tags", ["tag"])


def downgrade() -> None:
    op.drop_index("instance_tags_tag_idx", table_name="instance_tags")
    op.drop_table("instance_tags")
