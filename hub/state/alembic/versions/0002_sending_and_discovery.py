"""send ledger, suppression, DataForSEO tasks, reply cursor

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REAL = sa.Double().with_variant(sqlite.REAL(), "sqlite")
ZERO = sa.text("0")
EMPTY = sa.text("''")


def upgrade() -> None:
    op.create_table(
        "send_intents",
        sa.Column("hub_id", sa.Text, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("recipient_domain", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("thread_id", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("created_at", REAL, nullable=False),
        sa.Column("attempted_at", REAL),
        sa.Column("owner", sa.Text),
        sa.Column("lease_until", REAL),
        sa.PrimaryKeyConstraint("hub_id", "step"),
    )
    op.create_index("send_intents_attempted", "send_intents", ["attempted_at"])
    op.create_index("send_intents_owner", "send_intents", ["owner"])
    op.create_table(
        "sends",
        sa.Column("hub_id", sa.Text, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("recipient_domain", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("provider_id", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("thread_id", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("sent_at", REAL, nullable=False),
        sa.Column("how", sa.Text, nullable=False, server_default=sa.text("'sent'")),
        sa.PrimaryKeyConstraint("hub_id", "step"),
    )
    op.create_index("sends_sent_at", "sends", ["sent_at"])
    op.create_index("sends_domain", "sends", ["recipient_domain", "sent_at"])
    op.create_table(
        "suppressed",
        sa.Column("email", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("added_at", REAL, nullable=False),
    )
    op.create_table(
        "discovery_jobs",
        sa.Column("job_id", sa.Text, primary_key=True),
        sa.Column("params", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("created_at", REAL, nullable=False),
        sa.Column("finished", sa.Integer, nullable=False, server_default=ZERO),
    )
    op.create_table(
        "discovery_tasks",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("keyword", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("location", sa.Text, nullable=False, server_default=EMPTY),
        sa.Column("status", sa.Text, nullable=False, server_default=sa.text("'posted'")),
        sa.Column("posted_at", REAL, nullable=False),
        sa.Column("done_at", REAL),
        sa.Column("found", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("added", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("excluded", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("error", sa.Text, nullable=False, server_default=EMPTY),
    )
    op.create_index("discovery_tasks_job", "discovery_tasks", ["job_id"])
    op.create_index("discovery_tasks_status", "discovery_tasks", ["status", "posted_at"])
    op.create_table(
        "mailbox_cursor",
        sa.Column("mailbox", sa.Text, primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the hub's migrations move forward only")
