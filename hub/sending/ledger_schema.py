"""What the send ledger stores: its two tables and the frozen row types that mirror them.

``Intent`` and ``SendRecord`` list their fields in the tables' column order, because the
ledger builds them straight from ``SELECT *`` rows (``Intent(*row)``): a column added to a
table needs its field added here, in the same place.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = """
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

# Ledgers written before sending identities existed lack the ``identity`` column; it is added
# at the end of each table (where ALTER TABLE puts it, matching the field order below), and
# their sends count as the implicit identity's (``''``).
MIGRATIONS = (
    (
        "send_intents",
        "identity",
        "ALTER TABLE send_intents ADD COLUMN identity TEXT NOT NULL DEFAULT ''",
    ),
    ("sends", "identity", "ALTER TABLE sends ADD COLUMN identity TEXT NOT NULL DEFAULT ''"),
)
INDEXES_AFTER_MIGRATION = "CREATE INDEX IF NOT EXISTS sends_identity ON sends(identity, sent_at);"


@dataclass(frozen=True)
class Intent:
    hub_id: str
    step: int
    message_id: str
    recipient: str
    recipient_domain: str
    subject: str
    body: str
    thread_id: str
    created_at: float
    attempted_at: float | None
    owner: str | None
    lease_until: float | None
    identity: str = ""  # the sending identity's name ("" = the implicit one)


@dataclass(frozen=True)
class SendRecord:
    hub_id: str
    step: int
    message_id: str
    recipient: str
    recipient_domain: str
    subject: str
    provider_id: str
    thread_id: str
    sent_at: float
    how: str
    identity: str = ""


def recipient_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()
