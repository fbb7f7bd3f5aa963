"""The API's tables: the image registry and the local identity service's users,
projects and role assignments.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamps() -> list[sa.Column]:
    def timestamp() -> sa.types.TypeEngine:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

    return [
        sa.Column("created_at", timestamp(), nullable=True),
        sa.Column("updated_at", timestamp(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("disk_format", sa.String(30), nullable=False),
        sa.Column("container_format", sa.String(30), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("virtual_size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(32), nullable=True),
        sa.Column("os_hash_algo", sa.String(64), nullable=True),
        sa.Column("os_hash_value", sa.String(128), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("uuid", name="uniq_images0uuid"),
        sa.UniqueConstraint("name", name="uniq_images0name"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "identity_projects",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_identity_projects"),
        sa.UniqueConstraint("name", name="uniq_identity_projects0name"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("default_project_id", sa.String(64), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_identity_users"),
        sa.UniqueConstraint("name", name="uniq_identity_users0name"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "identity_role_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_identity_role_assignments"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name="fk_identity_role_assignments_user_id_identity_users",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["identity_projects.id"],
            name="fk_identity_role_assignments_project_id_identity_projects",
        ),
        sa.UniqueConstraint(
            "user_id",
            "project_id",
            "role",
            name="uniq_identity_role_assignments0user_id0project_id0role",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index(
        "identity_role_assignments_project_id_idx", "identity_role_assignments", ["project_id"]
    )


def downgrade() -> None:
    for table in ("identity_role_assignments", "identity_users", "identity_projects", "images"):
        op.drop_table(table)
