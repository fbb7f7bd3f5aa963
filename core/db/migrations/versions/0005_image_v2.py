"""Images as Glance v2 has them: created empty (``queued``) before their data is
uploaded, so ``name``, ``size``, ``disk_format`` and ``container_format`` may be null;
names are no longer unique (Glance allows duplicates); ``protected`` images cannot be
deleted; tags (``image_tags``) and extra string properties (``image_properties``) live in
tables of their own, one row per tag or property.

Images are deleted for real (no soft delete), so they have no shadow tables.

Revision ID: 0005
Revises: 0004
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

NULLABLE_NOW = (
    ("name", sa.String(255)),
    ("size", sa.BigInteger()),
    ("disk_format", sa.String(30)),
    ("container_format", sa.String(30)),
)


def _timestamps() -> list[sa.Column]:
    def timestamp() -> sa.types.TypeEngine:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

    return [
        sa.Column("created_at", timestamp(), nullable=True),
        sa.Column("updated_at", timestamp(), nullable=True),
    ]


def upgrade() -> None:
    # Existing rows get protected = false through a server default that the second
    # batch drops again: the models set it in Python, like every other flag.
    with op.batch_alter_table("images") as batch:
        batch.drop_constraint("uniq_images0name", type_="unique")
        for column, kind in NULLABLE_NOW:
            batch.alter_column(column, existing_type=kind, nullable=True)
        batch.add_column(
            sa.Column("protected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index("images_name_idx", ["name"])
    with op.batch_alter_table("images") as batch:
        batch.alter_column(
            "protected", existing_type=sa.Boolean(), existing_nullable=False, server_default=None
        )
    op.create_table(
        "image_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_image_tags"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_image_tags_image_id_images"),
        sa.UniqueConstraint("image_id", "value", name="uniq_image_tags0image_id0value"),
        **MYSQL_TABLE_ARGS,
    )
    op.create_index("image_tags_value_idx", "image_tags", ["value"])
    op.create_table(
        "image_properties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_image_properties"),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_image_properties_image_id_images"
        ),
        sa.UniqueConstraint("image_id", "name", name="uniq_image_properties0image_id0name"),
        **MYSQL_TABLE_ARGS,
    )


def downgrade() -> None:
    """Back to 0004. Fails (IntegrityError) while two images share a name or an image
    still has no data (null size or format): 0004 cannot hold them."""
    op.drop_table("image_properties")
    op.drop_index("image_tags_value_idx", table_name="image_tags")
    op.drop_table("image_tags")
    with op.batch_alter_table("images") as batch:
        batch.drop_index("images_name_idx")
        batch.drop_column("protected")
        for column, kind in NULLABLE_NOW:
            batch.alter_column(column, existing_type=kind, nullable=False)
        batch.create_unique_constraint("uniq_images0name", ["name"])
