"""Token revocation and login lockout for the local identity service: the users'
``tokens_valid_after``, ``failed_auth_count`` and ``failed_auth_at``.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _timestamp() -> sa.types.TypeEngine:
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy): SQLite does it in place, and a copy of
    # identity_users would trip the role assignments' foreign keys.
    op.add_column("identity_users", sa.Column("tokens_valid_after", _timestamp(), nullable=True))
    op.add_column(
        "identity_users",
        sa.Column("failed_auth_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("identity_users", sa.Column("failed_auth_at", _timestamp(), nullable=True))


def downgrade() -> None:
    for column in ("failed_auth_at", "failed_auth_count", "tokens_valid_after"):
        op.drop_column("identity_users", column)
