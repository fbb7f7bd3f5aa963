"""Host aggregates (``/os-aggregates``): ``aggregates``, their hosts
(``aggregate_hosts``) and metadata (``aggregate_metadata``, the availability zone among
it); and ``task_log``, where compute hosts record their periodic audits
(``/os-instance_usage_audit_log``).

Revision ID: 0013
Revises: 0012
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _times() -> list[sa.Column]:
    return [
        sa.Column("created_at", _timestamp(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "aggregates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_aggregates"),
        sa.UniqueConstraint("uuid", name="uniq_aggregates0uuid"),
        sa.UniqueConstraint("name", name="uniq_aggregates0name"),
        # The API names aggregates by id: SQLite must not give a deleted one's id again.
        sqlite_autoincrement=True,
        **MYSQL_TABLE_ARGS,
    )
    op.create_table(
        "aggregate_hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_aggregate_hosts"),
        sa.ForeignKeyConstraint(
            ["aggregate_id"],
            ["aggregates.id"],
            name="fk_aggregate_hosts_aggregate_id_aggregates",
        ),
        sa.UniqueConstraint("host", "aggregate_id", name="uniq_aggregate_hosts0host0aggregate_id"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("aggregate_hosts_aggregate_id_idx", "aggregate_hosts", ["aggregate_id"])
    op.create_table(
        "aggregate_metadata",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aggregate_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_aggregate_metadata"),
        sa.ForeignKeyConstraint(
            ["aggregate_id"],
            ["aggregates.id"],
            name="fk_aggregate_metadata_aggregate_id_aggregates",
        ),
        sa.UniqueConstraint("aggregate_id", "key", name="uniq_aggregate_metadata0aggregate_id0key"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("aggregate_metadata_key_idx", "aggregate_metadata", ["key"])
    op.create_table(
        "task_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("state", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("period_beginning", _timestamp(), nullable=False),
        sa.Column("period_ending", _timestamp(), nullable=False),
        sa.Column("message", sa.String(255), nullable=False),
        sa.Column("task_items", sa.Integer(), nullable=True),
        sa.Column("errors", sa.Integer(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_task_log"),
        sa.UniqueConstraint(
            "task_name",
            "host",
            "period_beginning",
            "period_ending",
            name="uniq_task_log0task_name0host0period_beginning0period_ending",
        ),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("task_log_period_idx", "task_log", ["period_beginning", "period_ending"])


def downgrade() -> None:
    # Each table's indexes go with it (MariaDB will not drop an index its foreign key
    # uses on its own).
    op.drop_table("task_log")
    op.drop_table("aggregate_metadata")
    op.drop_table("aggregate_hosts")
    op.drop_table("aggregates")
