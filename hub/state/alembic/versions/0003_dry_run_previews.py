"""dry-run previews: one .eml per step across machines

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REAL = sa.Double().with_variant(sqlite.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dry_run_previews",
        sa.Column("hub_id", sa.Text, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("machine", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("file", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("written", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("lease_until", REAL, nullable=False),
        sa.PrimaryKeyConstraint("hub_id", "step"),
    )


def downgrade() -> None:
    raise NotImplementedError("the hub's migrations move forward only")
