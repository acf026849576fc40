"""Durable hub state in one SQLite file (``settings.state_db_path``): jobs, the webhook inbox,
the delivery log and the outbound event outbox.

WAL with ``synchronous=NORMAL`` and a busy timeout, so ``hub serve`` and the CLI share the file
safely. In WAL mode a committed transaction survives a process crash (SIGKILL) — only an OS
crash or power loss can lose the last commits — which is the durability a webhook
acknowledgement promises. Transactions are short (``BEGIN IMMEDIATE`` + a few statements) so
acknowledgements stay fast.

Other modules may keep their own tables in the same file (the sending ledger, DataForSEO task
records): open a connection with :func:`connect` (same pragmas) and create them there.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hub.state.events import EventsMixin
from hub.state.jobs import JobsMixin
from hub.state.listeners import ChangeListeners
from hub.state.migrate import SchemaTooNew

_SCHEMA = """
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


def connect(path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to the state DB with the pragmas every user of the file must share.

    Autocommit mode (``isolation_level=None``): write ``BEGIN IMMEDIATE`` ... ``COMMIT``
    yourself, keep transactions short. Usable from any thread (guard it with a lock).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL: commits survive a process crash; only power loss can drop the last ones.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


# The state file's schema, recorded in SQLite's user_version: a hub refuses a file written by
# a newer hub (whose tables it may not know), instead of writing to it.
SCHEMA_VERSION = 1


def _check_schema_version(db: sqlite3.Connection, path: Path) -> None:
    (found,) = db.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{path}: the state schema is at version {found}, newer than this hub's "
            f"{SCHEMA_VERSION}: a newer hub wrote it. Run the newer hub version (or restore a "
            "backup); this one refuses to write to a schema it does not know"
        )
    if found < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


class State(ChangeListeners, JobsMixin, EventsMixin):
    """The hub's durable state. Thread-safe; every method is short and synchronous.

    ``now`` is injectable (tests of retries and leases); ``deliver_events`` says whether
    outbound events are queued for delivery (``HUB_EVENTS_URL`` set) or only logged locally.
    ``max_deliveries`` bounds the delivery log.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        now: Callable[[], float] = time.time,
        deliver_events: bool = False,
        max_deliveries: int = 500,
    ):
        self.path = Path(path)
        self.now = now
        self.deliver_events = deliver_events
        self.max_deliveries = max_deliveries
        self._lock = threading.RLock()
        # delivery-log lines waiting for the next inbound group commit (EventsMixin)
        self._queued_deliveries: list[dict[str, Any]] = []
        self._queued_lock = threading.Lock()
        self._db = connect(self.path)
        with self._lock:
            self._db.executescript(_SCHEMA)
            _check_schema_version(self._db, self.path)
        self._init_listeners()

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> State:
        return cls(settings.state_db_path, deliver_events=bool(settings.events_url), **kwargs)

    backend_name = "sqlite"

    @contextlib.contextmanager
    def periodic_turn(self, name: str, period_seconds: float) -> Iterator[bool]:
        """Always this process's turn: one machine, one ``hub serve`` runs the tick."""
        yield True

    def record_runner(self, owner: str) -> None:
        """Nothing to share: one machine, whose ``hub serve`` runs its jobs itself."""

    def forget_runner(self, owner: str) -> None:
        """Nothing to share (see :meth:`record_runner`)."""

    # --- plumbing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (``BEGIN IMMEDIATE`` takes the write lock up front, so
        two processes never interleave a read-then-write)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def ping(self) -> bool:
        return self.query("SELECT 1")[0][0] == 1

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.flush_deliveries()
        with self._lock:
            self._db.close()
