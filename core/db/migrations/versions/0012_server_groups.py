"""Server groups (``/os-server-groups``): ``instance_groups`` (a group and its policy)
and ``instance_group_members`` (the servers in it, one group per server).

Revision ID: 0012
Revises: 0011
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "instance_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("policy", sa.String(255), nullable=False),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_instance_groups"),
        sa.UniqueConstraint("uuid", name="uniq_instance_groups0uuid"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("instance_groups_project_id_idx", "instance_groups", ["project_id"])
    op.create_table(
        "instance_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_instance_group_members"),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["instance_groups.id"],
            name="fk_instance_group_members_group_id_instance_groups",
        ),
        sa.UniqueConstraint("instance_uuid", name="uniq_instance_group_members0instance_uuid"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("instance_group_members_group_id_idx", "instance_group_members", ["group_id"])


def downgrade() -> None:
    # The table's index goes with it (MariaDB will not drop an index its foreign key
    # uses on its own).
    op.drop_table("instance_group_members")
    op.drop_index("instance_groups_project_id_idx", table_name="instance_groups")
    op.drop_table("instance_groups")
