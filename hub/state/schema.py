"""The hub's tables, defined once (SQLAlchemy Core): the one place a column is written.

Both dialects' DDL is derived from this metadata: a fresh SQLite file or PostgreSQL database
is created from it (``metadata.create_all``) and stamped at the newest migration; a database
made by an older hub is brought here by the Alembic migrations in ``hub/state/alembic/``
(:mod:`hub.state.schema_upgrade`). The statements the hub runs stay hand-written SQL (the
ingest, the job claim and the ledger are hot paths); only the DDL comes from here.

Which database: every SQLite file the hub opens for its state (``state.sqlite3``,
``discovery.sqlite3`` in ``HUB_DATA_DIR``) and the PostgreSQL database of ``HUB_DATABASE_URL``
hold all of these tables; the prospect store's tables are ``sheets.schema``'s (``sheets``
never imports ``hub``).

To add a table or a column (issues 20 and 21 will):

1. Write it here. A new column goes at the END of its table: old tables get it by
   ``ALTER TABLE ... ADD COLUMN``, which appends, and code that builds rows from ``SELECT *``
   (the ledger's ``Intent(*row)``) relies on that order. Use the types below
   (``_SEQ``, ``_REAL``) so SQLite and PostgreSQL get what the other tables have.
2. Add a migration ``hub/state/alembic/versions/NNNN_what.py``, NNNN being the next number
   (the revision id is that number, ``down_revision`` the previous one):
   ``alembic -c hub/state/alembic/alembic.ini revision --autogenerate --rev-id NNNN -m "what"``
   drafts it from a diff against a database at the current head (``-x url=...``; the default
   is a throwaway SQLite file). Read the draft: it must run on both dialects (SQLite alters a
   table through ``op.batch_alter_table``; the env renders batch operations for it).
   Never edit a migration that has shipped.
3. Bump ``CODE_VERSION`` in :mod:`hub.state.migrations` to NNNN.
4. ``tests/test_schema_migrations.py`` fails until the migrations and this metadata give the
   same schema on both dialects (Alembic's autogenerate comparison finds no difference).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects import sqlite

metadata = MetaData()

# An ever-growing key: BIGINT identity on PostgreSQL; on SQLite it must be spelled INTEGER to
# be the rowid (``INTEGER PRIMARY KEY AUTOINCREMENT``: never reused, even after deletes).
_SEQ = BigInteger().with_variant(Integer(), "sqlite")
# Seconds since the epoch: DOUBLE PRECISION on PostgreSQL, REAL (the same 8 bytes) on SQLite.
_REAL = Double().with_variant(sqlite.REAL(), "sqlite")
_ZERO = text("0")
_EMPTY = text("''")


def _seq() -> Column:
    return Column("seq", _SEQ, Identity(), primary_key=True)


# The history of migrations applied, one line per version, as the hub recorded it before
# Alembic: kept up to date so an older hub still sees a newer schema and refuses it.
hub_schema_migrations = Table(
    "hub_schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# --- jobs, the webhook inbox, the delivery log, the events outbox -----------------------------
jobs = Table(
    "jobs",
    metadata,
    _seq(),
    Column("id", Text, nullable=False, unique=True),
    Column("job_type", Text, nullable=False),
    Column("status", Text, nullable=False),  # pending|running|completed|failed|cancelled
    # running, but the work continues elsewhere (DataForSEO callbacks)
    Column("waiting", Integer, nullable=False, server_default=_ZERO),
    Column("params", Text, nullable=False, server_default=text("'{}'")),
    Column("source", Text, nullable=False, server_default=text("'api'")),
    Column("parent_id", Text),
    Column("processed", Integer, nullable=False, server_default=_ZERO),
    Column("total", Integer, nullable=False, server_default=_ZERO),
    Column("result", Text),
    Column("error", Text),
    Column("created_at", Text, nullable=False),
    Column("started_at", Text),
    Column("finished_at", Text),
    Column("lease_owner", Text),
    Column("lease_expires", _REAL),
    Column("attempts", Integer, nullable=False, server_default=_ZERO),
    Column("cancel_requested", Integer, nullable=False, server_default=_ZERO),
    Index("jobs_status", "status", "job_type", "seq"),
    Index("jobs_type", "job_type", "seq"),
    Index(
        "jobs_lease_owner",
        "lease_owner",
        postgresql_where=text("lease_owner IS NOT NULL"),
        sqlite_where=text("lease_owner IS NOT NULL"),
    ),
    sqlite_autoincrement=True,
)

# The durable webhook inbox. UNIQUE(dedupe_key) turns 50 concurrent identical deliveries into
# exactly one job; an expired key is deleted before a new one is inserted.
inbox = Table(
    "inbox",
    metadata,
    _seq(),
    Column("dedupe_key", Text, unique=True),
    Column("source", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("job_id", Text),
    Column("task_id", Text),
    Column("tag", Text),
    Column("received_at", _REAL, nullable=False),
    Column("expires_at", _REAL, nullable=False),
    Column("processed_at", _REAL),
    Column("error", Text),
    Index("inbox_unprocessed", "source", "processed_at"),
    sqlite_autoincrement=True,
)

# The last inbound deliveries (accepted, duplicate, refused) for the status page.
deliveries = Table(
    "deliveries",
    metadata,
    _seq(),
    Column("at", Text, nullable=False),
    Column("route", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("verdict", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("job_id", Text),
    sqlite_autoincrement=True,
)

# Outbound events. status: pending (to deliver) | delivered | dead (gave up) | local (no
# HUB_EVENTS_URL: the local event log only).
outbox = Table(
    "outbox",
    metadata,
    _seq(),
    Column("id", Text, nullable=False, unique=True),  # the webhook-id, stable across retries
    Column("event_type", Text, nullable=False),
    Column("body", Text, nullable=False),  # the exact JSON sent, identical on every attempt
    Column("created_at", _REAL, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=_ZERO),
    Column("next_attempt_at", _REAL, nullable=False),
    Column("last_error", Text),
    Column("delivered_at", _REAL),
    Index("outbox_due", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

outbox_attempts = Table(
    "outbox_attempts",
    metadata,
    _seq(),
    Column("event_id", Text, nullable=False),
    Column("at", _REAL, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer),
    Index("outbox_attempts_event", "event_id"),
    sqlite_autoincrement=True,
)

# When a periodic task (the tick, the DataForSEO sweep) last ran, across all processes.
periodic_runs = Table(
    "periodic_runs",
    metadata,
    Column("name", Text, primary_key=True),
    Column("ran_at", _REAL, nullable=False),
)

# --- the send ledger (hub.sending.ledger; its row types in hub.sending.ledger_schema list
# these columns in this order), the suppression list, dry-run previews -------------------------
send_intents = Table(
    "send_intents",
    metadata,
    Column("hub_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("recipient_domain", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False, server_default=_EMPTY),
    Column("thread_id", Text, nullable=False, server_default=_EMPTY),
    Column("created_at", _REAL, nullable=False),
    Column("attempted_at", _REAL),
    Column("owner", Text),
    Column("lease_until", _REAL),
    Column("identity", Text, nullable=False, server_default=_EMPTY),  # "" = the implicit one
    PrimaryKeyConstraint("hub_id", "step"),
    Index("send_intents_attempted", "attempted_at"),
    Index("send_intents_owner", "owner"),
)

sends = Table(
    "sends",
    metadata,
    Column("hub_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("recipient_domain", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("provider_id", Text, nullable=False, server_default=_EMPTY),
    Column("thread_id", Text, nullable=False, server_default=_EMPTY),
    Column("sent_at", _REAL, nullable=False),
    Column("how", Text, nullable=False, server_default=text("'sent'")),
    Column("identity", Text, nullable=False, server_default=_EMPTY),
    PrimaryKeyConstraint("hub_id", "step"),
    Index("sends_sent_at", "sent_at"),
    Index("sends_domain", "recipient_domain", "sent_at"),
    Index("sends_identity", "identity", "sent_at"),
)

suppressed = Table(
    "suppressed",
    metadata,
    Column("email", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("added_at", _REAL, nullable=False),
)

# Which machine's outbox folder holds the dry-run preview of a step (hub.sending.previews).
dry_run_previews = Table(
    "dry_run_previews",
    metadata,
    Column("hub_id", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("machine", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("file", Text, nullable=False, server_default=_EMPTY),
    Column("written", Integer, nullable=False, server_default=_ZERO),
    Column("lease_until", _REAL, nullable=False),
    PrimaryKeyConstraint("hub_id", "step"),
)

# --- DataForSEO task records (hub.discovery.tasks), the reply cursor, row history ------------
discovery_jobs = Table(
    "discovery_jobs",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("params", Text, nullable=False, server_default=text("'{}'")),
    Column("created_at", _REAL, nullable=False),
    Column("finished", Integer, nullable=False, server_default=_ZERO),
)

discovery_tasks = Table(
    "discovery_tasks",
    metadata,
    Column("task_id", Text, primary_key=True),
    Column("job_id", Text, nullable=False),
    Column("keyword", Text, nullable=False, server_default=_EMPTY),
    Column("location", Text, nullable=False, server_default=_EMPTY),
    Column("status", Text, nullable=False, server_default=text("'posted'")),
    Column("posted_at", _REAL, nullable=False),
    Column("done_at", _REAL),
    Column("found", Integer, nullable=False, server_default=_ZERO),
    Column("added", Integer, nullable=False, server_default=_ZERO),
    Column("duplicates", Integer, nullable=False, server_default=_ZERO),
    Column("excluded", Integer, nullable=False, server_default=_ZERO),
    Column("error", Text, nullable=False, server_default=_EMPTY),
    Index("discovery_tasks_job", "job_id"),
    Index("discovery_tasks_status", "status", "posted_at"),
)

# Where the last reply check stopped reading each mailbox (hub.replies.inbound).
mailbox_cursor = Table(
    "mailbox_cursor",
    metadata,
    Column("mailbox", Text, primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

# Every change a person made to a row through the hub (hub.rows.history).
row_changes = Table(
    "row_changes",
    metadata,
    _seq(),
    Column("hub_id", Text, nullable=False),
    Column("at", _REAL, nullable=False),
    Column("actor", Text, nullable=False),
    Column("column_name", Text, nullable=False),
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Index("row_changes_row", "hub_id", "seq"),
    sqlite_autoincrement=True,
)
