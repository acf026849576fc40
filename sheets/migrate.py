"""Bringing the prospect store's tables to this code's schema, when a store is opened.

A store already at :data:`STORE_VERSION` costs one ``SELECT`` here and never imports
SQLAlchemy or Alembic; any other is handed to :mod:`sheets.schema_upgrade`, which creates or
migrates it in one transaction under the store's lock (SQLite's ``BEGIN IMMEDIATE``, the
store's PostgreSQL advisory lock). A store whose schema is newer than this code's is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sheets.schema_version import (
    STORE_VERSION,
    VERSION_TABLE,
    check_not_newer,
    revision_number,
)


def ensure_sqlite_store(db: sqlite3.Connection, path: str | Path) -> None:
    """Make the SQLite store behind ``db`` hold this code's tables, or refuse it."""
    try:
        found = db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.OperationalError:  # no such table: a new store, or one from before Alembic
        found = None
    if found is not None:
        version = revision_number(found[0], str(path))
        if version == STORE_VERSION:
            return
        check_not_newer(version, str(path))
    # Deferred: SQLAlchemy and Alembic load only when the schema must change.
    from sheets.schema_upgrade import upgrade_store_sqlite

    upgrade_store_sqlite(path)


def ensure_postgres_store(conn: Any, dsn: str, *, where: str, lock: str) -> None:
    """The same for the store in PostgreSQL (``conn``: psycopg, autocommit; ``lock``: the
    statement taking the store's advisory lock, under which the schema changes)."""
    (exists,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if exists:
        found = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        if found is not None:
            version = revision_number(found[0], where)
            if version == STORE_VERSION:
                return
            check_not_newer(version, where)
    from sheets.schema_upgrade import upgrade_store_postgres

    upgrade_store_postgres(dsn, where=where, lock=lock)
