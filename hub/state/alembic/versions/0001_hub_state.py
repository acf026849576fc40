"""hub state: jobs, inbox, deliveries, events outbox

Revision ID: 0001
Revises:

The first of the five numbered migrations the hub applied before Alembic (recorded in
``hub_schema_migrations``, which this one creates too): a PostgreSQL database at version N
there is stamped at revision N and goes on from it.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import sqlite

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of hub.state.schema's column types as they were at this revision.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REAL = sa.Double().with_variant(sqlite.REAL(), "sqlite")
ZERO = sa.text("0")


def seq() -> sa.Column:
    return sa.Column("seq", SEQ, sa.Identity(), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "hub_schema_migrations",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "jobs",
        seq(),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("job_type", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("waiting", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("params", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("source", sa.Text, nullable=False, server_default=sa.text("'api'")),
        sa.Column("parent_id", sa.Text),
        sa.Column("processed", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("total", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("started_at", sa.Text),
        sa.Column("finished_at", sa.Text),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires", REAL),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("cancel_requested", sa.Integer, nullable=False, server_default=ZERO),
        sqlite_autoincrement=True,
    )
    op.create_index("jobs_status", "jobs", ["status", "job_type", "seq"])
    op.create_index("jobs_type", "jobs", ["job_type", "seq"])
    op.create_index(
        "jobs_lease_owner",
        "jobs",
        ["lease_owner"],
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
    )
    op.create_table(
        "inbox",
        seq(),
        sa.Column("dedupe_key", sa.Text, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("task_id", sa.Text),
        sa.Column("tag", sa.Text),
        sa.Column("received_at", REAL, nullable=False),
        sa.Column("expires_at", REAL, nullable=False),
        sa.Column("processed_at", REAL),
        sa.Column("error", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("inbox_unprocessed", "inbox", ["source", "processed_at"])
    op.create_table(
        "deliveries",
        seq(),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("route", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("verdict", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "outbox",
        seq(),
        sa.Column("id", sa.Text, nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", REAL, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("next_attempt_at", REAL, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", REAL),
        sqlite_autoincrement=True,
    )
    op.create_index("outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "outbox_attempts",
        seq(),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("at", REAL, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer),
        sqlite_autoincrement=True,
    )
    op.create_index("outbox_attempts_event", "outbox_attempts", ["event_id"])
    op.create_table(
        "periodic_runs",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("ran_at", REAL, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the hub's migrations move forward only")
