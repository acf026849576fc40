"""row history: changes people made through the hub

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REAL = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "row_changes",
        sa.Column("seq", SEQ, sa.Identity(), primary_key=True),
        sa.Column("hub_id", sa.Text, nullable=False),
        sa.Column("at", REAL, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("column_name", sa.Text, nullable=False),
        sa.Column("before", sa.Text, nullable=False),
        sa.Column("after", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("row_changes_row", "row_changes", ["hub_id", "seq"])


def downgrade() -> None:
    raise NotImplementedError("the hub's migrations move forward only")
