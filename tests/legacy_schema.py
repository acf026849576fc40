"""Today's schema, frozen: the DDL exactly as the release before the one schema made it.

Copied verbatim (by a script, not by hand) from commit 68bdf22 (main before issue 18's schema
work), so the upgrade tests build a database the way that release did and then upgrade it with
this code (tests/test_schema_upgrade.py). Never edit these strings: they are history.
"""

# --- SQLite: HUB_DATA_DIR/state.sqlite3 (hub.state.sqlite and the modules that opened the
# state DB with their own ``CREATE TABLE IF NOT EXISTS``), discovery.sqlite3, prospects.sqlite3

SQLITE_STATE = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,            -- pending|running|completed|failed|cancelled
    waiting INTEGER NOT NULL DEFAULT 0,  -- running, but the work continues elsewhere (callbacks)
    params TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT 'api',
    parent_id TEXT,
    processed INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    lease_owner TEXT,
    lease_expires REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, job_type);
CREATE INDEX IF NOT EXISTS jobs_type ON jobs(job_type, seq);

-- The durable webhook inbox. UNIQUE(dedupe_key) is what turns 50 concurrent identical
-- deliveries into exactly one job; an expired key is deleted before a new one is inserted.
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT UNIQUE,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    job_id TEXT,
    task_id TEXT,
    tag TEXT,
    received_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    processed_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS inbox_unprocessed ON inbox(source, processed_at);

-- Last N inbound deliveries (accepted, duplicate, refused) for the status page.
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    verdict TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    job_id TEXT
);

-- Outbound events. status: pending (to deliver) | delivered | dead (gave up) | local (no
-- HUB_EVENTS_URL configured: the local event log only).
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,         -- the Standard Webhooks webhook-id, stable across retries
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,              -- the exact JSON sent, identical on every attempt
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE IF NOT EXISTS outbox_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    at REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_attempts_event ON outbox_attempts(event_id);
"""

SQLITE_STATE_USER_VERSION = 1

SQLITE_LEDGER = """
CREATE TABLE IF NOT EXISTS send_intents (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    attempted_at REAL,
    owner TEXT,
    lease_until REAL,
    identity TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX IF NOT EXISTS send_intents_attempted ON send_intents(attempted_at);
CREATE TABLE IF NOT EXISTS sends (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    provider_id TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    sent_at REAL NOT NULL,
    how TEXT NOT NULL DEFAULT 'sent',
    identity TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX IF NOT EXISTS sends_sent_at ON sends(sent_at);
CREATE INDEX IF NOT EXISTS sends_domain ON sends(recipient_domain, sent_at);
"""

SQLITE_LEDGER_INDEXES = "CREATE INDEX IF NOT EXISTS sends_identity ON sends(identity, sent_at);"

# The ledger before sending identities (c7a31d2, issue 14 added `identity` to both tables).
SQLITE_LEDGER_BEFORE_IDENTITIES = """
CREATE TABLE IF NOT EXISTS send_intents (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    attempted_at REAL,
    owner TEXT,
    lease_until REAL,
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX IF NOT EXISTS send_intents_attempted ON send_intents(attempted_at);
CREATE TABLE IF NOT EXISTS sends (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    provider_id TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    sent_at REAL NOT NULL,
    how TEXT NOT NULL DEFAULT 'sent',
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX IF NOT EXISTS sends_sent_at ON sends(sent_at);
CREATE INDEX IF NOT EXISTS sends_domain ON sends(recipient_domain, sent_at);
"""

SQLITE_SUPPRESSION = """
CREATE TABLE IF NOT EXISTS suppressed (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_at REAL NOT NULL
);
"""

SQLITE_ROW_HISTORY = """
CREATE TABLE IF NOT EXISTS row_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_id TEXT NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    column_name TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS row_changes_row ON row_changes(hub_id, seq);
"""

SQLITE_MAILBOX_CURSOR = """
CREATE TABLE IF NOT EXISTS mailbox_cursor (
    mailbox TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""

SQLITE_DISCOVERY = """
CREATE TABLE IF NOT EXISTS discovery_jobs (
    job_id TEXT PRIMARY KEY,
    params TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS discovery_tasks (
    task_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    keyword TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'posted',
    posted_at REAL NOT NULL,
    done_at REAL,
    found INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    excluded INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS discovery_tasks_job ON discovery_tasks(job_id);
CREATE INDEX IF NOT EXISTS discovery_tasks_status ON discovery_tasks(status, posted_at);
"""

SQLITE_STORE = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prospects (
    pos INTEGER PRIMARY KEY AUTOINCREMENT,
    hub_id TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL DEFAULT '',
    outreach_status TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prospects_domain ON prospects(domain);
CREATE INDEX IF NOT EXISTS prospects_status ON prospects(outreach_status);
"""


# --- PostgreSQL: hub.state.migrate's table, the numbered migrations, the store's tables

PG_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS hub_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

PG_MIGRATION_1 = """
CREATE TABLE jobs (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    waiting INTEGER NOT NULL DEFAULT 0,
    params TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT 'api',
    parent_id TEXT,
    processed INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    lease_owner TEXT,
    lease_expires DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_status ON jobs(status, job_type, seq);
CREATE INDEX jobs_type ON jobs(job_type, seq);
CREATE INDEX jobs_lease_owner ON jobs(lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE inbox (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    dedupe_key TEXT UNIQUE,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    job_id TEXT,
    task_id TEXT,
    tag TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    processed_at DOUBLE PRECISION,
    error TEXT
);
CREATE INDEX inbox_unprocessed ON inbox(source, processed_at);

CREATE TABLE deliveries (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at TEXT NOT NULL,
    route TEXT NOT NULL,
    action TEXT NOT NULL,
    verdict TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    job_id TEXT
);

CREATE TABLE outbox (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error TEXT,
    delivered_at DOUBLE PRECISION
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE outbox_attempts (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    event_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms INTEGER
);
CREATE INDEX outbox_attempts_event ON outbox_attempts(event_id);

-- When a periodic task (the tick, the DataForSEO sweep) last ran, across all processes.
CREATE TABLE periodic_runs (
    name TEXT PRIMARY KEY,
    ran_at DOUBLE PRECISION NOT NULL
);
"""

PG_MIGRATION_2 = """
CREATE TABLE send_intents (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    attempted_at DOUBLE PRECISION,
    owner TEXT,
    lease_until DOUBLE PRECISION,
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX send_intents_attempted ON send_intents(attempted_at);
CREATE INDEX send_intents_owner ON send_intents(owner);
CREATE TABLE sends (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    subject TEXT NOT NULL,
    provider_id TEXT NOT NULL DEFAULT '',
    thread_id TEXT NOT NULL DEFAULT '',
    sent_at DOUBLE PRECISION NOT NULL,
    how TEXT NOT NULL DEFAULT 'sent',
    PRIMARY KEY (hub_id, step)
);
CREATE INDEX sends_sent_at ON sends(sent_at);
CREATE INDEX sends_domain ON sends(recipient_domain, sent_at);

CREATE TABLE suppressed (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE discovery_jobs (
    job_id TEXT PRIMARY KEY,
    params TEXT NOT NULL DEFAULT '{}',
    created_at DOUBLE PRECISION NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE discovery_tasks (
    task_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    keyword TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'posted',
    posted_at DOUBLE PRECISION NOT NULL,
    done_at DOUBLE PRECISION,
    found INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    excluded INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX discovery_tasks_job ON discovery_tasks(job_id);
CREATE INDEX discovery_tasks_status ON discovery_tasks(status, posted_at);

CREATE TABLE mailbox_cursor (
    mailbox TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

PG_MIGRATION_3 = """
CREATE TABLE dry_run_previews (
    hub_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    machine TEXT NOT NULL,
    owner TEXT NOT NULL,
    file TEXT NOT NULL DEFAULT '',
    written INTEGER NOT NULL DEFAULT 0,
    lease_until DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hub_id, step)
);
"""

PG_MIGRATION_4 = """
CREATE TABLE row_changes (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    hub_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    column_name TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL
);
CREATE INDEX row_changes_row ON row_changes(hub_id, seq);
"""

PG_MIGRATION_5 = """
ALTER TABLE send_intents ADD COLUMN identity TEXT NOT NULL DEFAULT '';
ALTER TABLE sends ADD COLUMN identity TEXT NOT NULL DEFAULT '';
CREATE INDEX sends_identity ON sends(identity, sent_at);
"""

# (version, name, sql), applied in order, each recorded in hub_schema_migrations

PG_MIGRATIONS = (
    (1, "hub state: jobs, inbox, deliveries, events outbox", PG_MIGRATION_1),
    (2, "send ledger, suppression, DataForSEO tasks, reply cursor", PG_MIGRATION_2),
    (3, "dry-run previews: one .eml per step across machines", PG_MIGRATION_3),
    (4, "row history: changes people made through the hub", PG_MIGRATION_4),
    (5, "sending identities in the send ledger", PG_MIGRATION_5),
)

PG_STORE = """
CREATE TABLE IF NOT EXISTS prospect_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prospects (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hub_id TEXT NOT NULL UNIQUE,
    domain TEXT NOT NULL DEFAULT '',
    outreach_status TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS prospects_domain ON prospects(domain);
CREATE INDEX IF NOT EXISTS prospects_status ON prospects(outreach_status);
"""
