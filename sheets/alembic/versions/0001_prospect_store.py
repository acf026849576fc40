"""prospect store: rows and their header

Revision ID: 0001
Revises:

As the store created its tables before Alembic (PostgreSQL's are stamped at this revision; a
SQLite store's ``meta`` table is ``prospect_meta`` from here on, as on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prospect_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "prospects",
        sa.Column(
            "pos",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=True),
            primary_key=True,
        ),
        sa.Column("hub_id", sa.Text, nullable=False, unique=True),
        sa.Column("domain", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("outreach_status", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("data", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("prospects_domain", "prospects", ["domain"])
    op.create_index("prospects_status", "prospects", ["outreach_status"])


def downgrade() -> None:
    raise NotImplementedError("the store's migrations move forward only")
