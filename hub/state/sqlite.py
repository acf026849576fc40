"""Durable hub state in one SQLite file (``settings.state_db_path``): jobs, the webhook inbox,
the delivery log and the outbound event outbox.

WAL with ``synchronous=NORMAL`` and a busy timeout, so ``hub serve`` and the CLI share the file
safely. In WAL mode a committed transaction survives a process crash (SIGKILL) — only an OS
crash or power loss can lose the last commits — which is the durability a webhook
acknowledgement promises. Transactions are short (``BEGIN IMMEDIATE`` + a few statements) so
acknowledgements stay fast.

Other modules keep their tables in the same file (the sending ledger, the suppression list...):
they open it with the same pragmas (:mod:`hub.state.database`). Every table is defined in
:mod:`hub.state.schema`; opening the file creates or migrates them (:mod:`hub.state.migrate`).
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
from hub.state.migrate import ensure_sqlite_schema


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
            ensure_sqlite_schema(self._db, self.path)
        self._init_listeners()

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> State:
        return cls(settings.state_db_path, deliver_events=bool(settings.events_url), **kwargs)

    backend_name = "sqlite"

    @contextlib.contextmanager
    def periodic_turn(self, name: str, period_seconds: float) -> Iterator[bool]:
        """Always this process's turn: one machine, one ``hub serve`` runs the tick."""
        yield True

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
