"""What a user gives a server beyond its name, as Nova keeps it: ``description``
(2.19), the user's metadata (``user_metadata``, JSON text; until now it shared
``system_metadata`` with nubis's own keys), ``key_name`` with the key's ``key_data``,
``access_ip_v4``/``access_ip_v6`` and the create request's ``reservation_id`` -- on
``instances`` and ``shadow_instances``.

Existing rows: ``system_metadata`` keys nubis writes (``nubis_*``) stay there, every
other key moves to ``user_metadata``.

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (
    ("description", sa.Text),
    ("user_metadata", sa.Text),
    ("key_name", lambda: sa.String(255)),
    ("key_data", sa.Text),
    ("access_ip_v4", lambda: sa.String(39)),
    ("access_ip_v6", lambda: sa.String(39)),
    ("reservation_id", lambda: sa.String(255)),
)
TABLES = ("instances", "shadow_instances")
INTERNAL_PREFIX = "nubis_"


def _split_metadata(table_name: str) -> None:
    bind = op.get_bind()
    table = sa.table(
        table_name,
        sa.column("id", sa.Integer),
        sa.column("system_metadata", sa.Text),
        sa.column("user_metadata", sa.Text),
    )
    rows = bind.execute(
        sa.select(table.c.id, table.c.system_metadata).where(table.c.system_metadata.is_not(None))
    ).all()
    for row_id, text in rows:
        try:
            values = json.loads(text) or {}
        except ValueError:
            continue
        internal = {k: v for k, v in values.items() if k.startswith(INTERNAL_PREFIX)}
        user = {k: v for k, v in values.items() if not k.startswith(INTERNAL_PREFIX)}
        bind.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(system_metadata=json.dumps(internal), user_metadata=json.dumps(user))
        )


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy), as 0003 does.
    for table in TABLES:
        for name, column_type in COLUMNS:
            op.add_column(table, sa.Column(name, column_type(), nullable=True))
    for table in TABLES:
        _split_metadata(table)


def downgrade() -> None:
    for table in TABLES:
        for name, _ in reversed(COLUMNS):
            op.drop_column(table, name)
