"""One handle to "the hub's database" for the modules that keep their own tables in it (the
send ledger, the suppression list, DataForSEO task records, the reply-check cursor): a SQLite
file in ``HUB_DATA_DIR`` by default, the shared PostgreSQL database with ``HUB_DATABASE_URL``.

Both speak SQLite's dialect (``?``; ``INSERT ... ON CONFLICT DO NOTHING`` works on both). What a
module needs beyond plain statements:

- :meth:`transaction`: SQLite's ``BEGIN IMMEDIATE`` (the write lock up front) or a PostgreSQL
  transaction on one pooled connection;
- :meth:`lock_key` inside a transaction: serialise writers of one key across processes
  (a transaction advisory lock on PostgreSQL; SQLite's write lock already does it);
- :meth:`shared_lock`: a lock held across several statements and across processes (an advisory
  lock on PostgreSQL, a re-entrant in-process lock on SQLite, whose file has one writer process).

Every table is defined once, in :mod:`hub.state.schema`; opening the database creates or
migrates them (:mod:`hub.state.migrate`): a SQLite file when it is opened, PostgreSQL when the
process's pool is (:func:`hub.state.pools.shared_pool`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.state.migrate import ensure_sqlite_schema

LOCK_KEYS = 0x6875_6233  # first key of the advisory locks taken by lock_key / shared_lock


@dataclass
class Result:
    """A statement's rows (read at once) and how many rows it changed."""

    rows: list[Any]
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


class SqliteDatabase:
    backend_name = "sqlite"

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            ensure_sqlite_schema(self._db, self.path)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._lock:
            cur = self._db.execute(sql, params)
            return Result(cur.fetchall(), cur.rowcount)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: two processes deciding about the same row are
        serialised by SQLite."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def lock_key(self, db: Any, name: str, number: int = 0) -> None:
        """Nothing to do: BEGIN IMMEDIATE holds the file's write lock."""

    def shared_lock(self, name: str) -> contextlib.AbstractContextManager[Any]:
        return self._lock

    def close(self) -> None:
        with self._lock:
            self._db.close()


class PostgresDatabase:
    backend_name = "postgres"

    def __init__(self, pool: Any):
        self.pool = pool
        self._shared: dict[str, _SharedLock] = {}
        self._shared_guard = threading.Lock()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        from hub.state.dialect import pg_sql

        with self.pool.connection() as conn:
            cur = conn.execute(pg_sql(sql), params or None)
            rows = cur.fetchall() if cur.description else []
            return Result(rows, cur.rowcount)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        from hub.state.dialect import PgConnection

        with self.pool.connection() as conn, conn.transaction():
            yield PgConnection(conn)

    def lock_key(self, db: Any, name: str, number: int = 0) -> None:
        """Wait for, then hold until the transaction ends, the lock on (``name``, ``number``)
        (every process of the hub takes the same lock for the same key)."""
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?), ?)", (name, number))

    def shared_lock(self, name: str) -> _SharedLock:
        with self._shared_guard:
            return self._shared.setdefault(name, _SharedLock(self.pool, name))

    def close(self) -> None:
        """The pool is the process's (:func:`hub.state.pools.shared_pool`): left open."""


class _SharedLock:
    """Re-entrant in this process; the outermost holder also holds a PostgreSQL session
    advisory lock on a pinned connection, so other processes wait too."""

    def __init__(self, pool: Any, name: str):
        self._pool = pool
        self._name = name
        self._local = threading.RLock()
        self._depth = 0
        self._conn: Any = None

    def __enter__(self) -> _SharedLock:
        self._local.acquire()
        self._depth += 1
        if self._depth == 1:
            try:
                self._conn = self._pool.getconn()
                self._conn.execute(
                    "SELECT pg_advisory_lock(%s, hashtext(%s))", (LOCK_KEYS, self._name)
                )
            except BaseException:
                self._give_back()
                raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._depth == 1:
            with contextlib.suppress(Exception):
                self._conn.execute(
                    "SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_KEYS, self._name)
                )
            self._give_back()
        else:
            self._depth -= 1
            self._local.release()

    def _give_back(self) -> None:
        if self._conn is not None:
            self._pool.putconn(self._conn)
            self._conn = None
        self._depth -= 1
        self._local.release()


def open_database(
    settings: Any, *, sqlite_path: str | Path | None = None, synchronous: str = "NORMAL"
) -> SqliteDatabase | PostgresDatabase:
    """The shared PostgreSQL database when ``HUB_DATABASE_URL`` is set, else the SQLite file
    ``sqlite_path`` (default: the state DB)."""
    if settings.uses_postgres:
        from hub.state.pools import shared_pool

        return PostgresDatabase(shared_pool(settings))
    return SqliteDatabase(sqlite_path or settings.state_db_path, synchronous=synchronous)
