"""Bringing a hub database to this code's schema: at start-up, and by ``hub db upgrade``.

A database already at :data:`~hub.state.migrations.CODE_VERSION` costs one ``SELECT`` here and
never imports SQLAlchemy or Alembic (≈0.3 s at start-up). Any other is handed to
:mod:`hub.state.schema_upgrade`, which creates it from :mod:`hub.state.schema` or migrates it,
all pending migrations in one transaction under a lock (PostgreSQL's advisory lock, SQLite's
``BEGIN IMMEDIATE``), so hubs starting together apply them once. A database whose schema is
newer than this code's is refused (:class:`SchemaTooNew`) rather than written to.

On PostgreSQL ``hub db upgrade`` calls :func:`upgrade`, and a hub starting with
``HUB_DATABASE_AUTO_UPGRADE`` (the default) does too; without it, a schema that is behind is
refused (:class:`SchemaBehind`). A SQLite file (one machine) is upgraded when it is opened.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hub.state.migrations import (
    CODE_VERSION,
    VERSION_TABLE,
    SchemaBehind,
    check_not_newer,
    revision_number,
)


# --- PostgreSQL (a psycopg connection in autocommit mode) ------------------------------------
def alembic_version(conn: Any) -> int | None:
    """The version Alembic recorded, or None before the database was carried over to it."""
    (exists,) = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (VERSION_TABLE,)).fetchone()
    if not exists:
        return None
    found = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    return revision_number(found[0]) if found else None


def database_version(conn: Any) -> int:
    """The newest migration applied to the database (0: none): Alembic's record, or the
    numbered ``hub_schema_migrations`` of a database no hub has carried over yet."""
    version = alembic_version(conn)
    if version is not None:
        return version
    (exists,) = conn.execute("SELECT to_regclass('hub_schema_migrations') IS NOT NULL").fetchone()
    if not exists:
        return 0
    (version,) = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM hub_schema_migrations"
    ).fetchone()
    return int(version)


def upgrade(dsn: str) -> list[int]:
    """Create or migrate the database at ``dsn`` to this code's schema; returns the versions
    it moved through (none when it was up to date)."""
    # Deferred: SQLAlchemy and Alembic load only when a schema must change.
    from hub.state.schema_upgrade import upgrade_postgres

    return upgrade_postgres(dsn)


def prepare_schema(conn: Any, dsn: str, *, auto_upgrade: bool) -> int:
    """At start-up: refuse a newer schema, apply pending migrations when allowed (else refuse
    a schema that is behind, naming the command). Returns the schema version."""
    if alembic_version(conn) == CODE_VERSION:
        return CODE_VERSION
    current = database_version(conn)
    check_not_newer(current)
    if auto_upgrade:
        upgrade(dsn)
        return CODE_VERSION
    if current < CODE_VERSION:
        raise SchemaBehind(
            f"the database schema is at version {current}, this hub needs {CODE_VERSION}: "
            "run `hub db upgrade` (or set HUB_DATABASE_AUTO_UPGRADE=true)"
        )
    # Numbered by a hub before Alembic, at this very schema: usable as it is; the next
    # `hub db upgrade` records it in Alembic's table.
    return current


# --- SQLite -------------------------------------------------------------------------------------
def sqlite_version(db: sqlite3.Connection, where: str = "") -> int | None:
    """The version Alembic recorded in the file, or None (a new file, or one from before)."""
    try:
        found = db.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    return revision_number(found[0], where) if found else None


def ensure_sqlite_schema(db: sqlite3.Connection, path: str | Path) -> None:
    """Make the file behind ``db`` hold this code's schema (every hub table), or refuse it."""
    version = sqlite_version(db, str(path))
    if version == CODE_VERSION:
        return
    if version is not None:
        check_not_newer(version, str(path))
    from hub.state.schema_upgrade import upgrade_sqlite

    upgrade_sqlite(path)
