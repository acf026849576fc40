"""Opening a SQLite file the way every user of it must: WAL, a busy timeout, autocommit.

The local store, the hub's state and its discovery file all open SQLite files from several
threads and processes at once, often at the moment the file is created. Switching a new file
to WAL needs a moment of exclusive access, and SQLite answers a concurrent switch with
``database is locked`` at once instead of waiting on its busy handler; so the switch is
retried until the same deadline the busy timeout gives every other statement.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def connect_wal(
    path: str | Path, *, timeout: float = 30.0, synchronous: str = "NORMAL"
) -> sqlite3.Connection:
    """A connection in autocommit mode (write ``BEGIN IMMEDIATE`` … ``COMMIT`` yourself),
    usable from any thread (guard it with a lock), the file in WAL mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    _switch_to_wal(db, deadline=time.monotonic() + timeout)
    # NORMAL in WAL: commits survive a process crash; only power loss can drop the last ones.
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def _switch_to_wal(db: sqlite3.Connection, *, deadline: float) -> None:
    pause = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                db.close()
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
