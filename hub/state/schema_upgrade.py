"""Create or migrate a hub database to this code's schema (SQLAlchemy + Alembic).

Called by :mod:`hub.state.migrate` only when a database is not at this code's version, so
SQLAlchemy and Alembic load only then. Everything happens in ONE transaction under a lock —
PostgreSQL's ``pg_advisory_xact_lock``, SQLite's ``BEGIN IMMEDIATE`` — so a failure leaves the
database as it was, and hubs starting together migrate it once (the others wait, then find it
current). A database is, by what it holds:

- empty: created from :data:`hub.state.schema.metadata` and stamped at the newest revision;
- Alembic's (``hub_alembic_version``): the pending revisions are applied;
- a PostgreSQL database numbered by a hub before Alembic (``hub_schema_migrations`` at N):
  stamped at revision N, the same migration, then upgraded;
- a SQLite file from before Alembic, whose tables each module created with ``CREATE TABLE IF
  NOT EXISTS`` (so any subset, in SQLite's own spelling): its tables are set aside, the
  migrations up to the last numbered one build them as they are everywhere else, and the rows
  are copied back (with each table's AUTOINCREMENT counter), then it is upgraded.

Every revision applied is also written to ``hub_schema_migrations`` (and a SQLite file's
``user_version``), where hubs from before Alembic look for a schema newer than theirs.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from hub.state.migrations import (
    CODE_VERSION,
    LEGACY_LAST_VERSION,
    MIGRATION_LOCK_ID,
    VERSION_TABLE,
    SchemaUnrecognised,
    check_not_newer,
    revision_number,
    sqlite_user_version,
)
from hub.state.schema import metadata
from sheets.schema_upgrade import (
    alembic_config,
    create_tables,
    postgres_engine,
    rebuild_sqlite_tables,
    script_directory,
    sqlite_engine,
    stamp,
)

SCRIPTS = Path(__file__).with_name("alembic")

# The tables SQLite files held before Alembic (state.sqlite3, discovery.sqlite3, a ledger...).
LEGACY_SQLITE_TABLES = (
    "jobs",
    "inbox",
    "deliveries",
    "outbox",
    "outbox_attempts",
    "send_intents",
    "sends",
    "suppressed",
    "discovery_jobs",
    "discovery_tasks",
    "mailbox_cursor",
    "row_changes",
    "dry_run_previews",
)


def upgrade_postgres(dsn: str) -> list[int]:
    """Bring the PostgreSQL database at ``dsn`` to this code's schema; returns the versions
    it moved through."""
    engine = postgres_engine(dsn)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            return _upgrade(conn, where="")
    finally:
        engine.dispose()


def upgrade_sqlite(path: str | Path) -> list[int]:
    """Bring the SQLite file ``path`` to this code's schema; returns the versions it moved
    through."""
    engine = sqlite_engine(path)
    try:
        with engine.begin() as conn:
            applied = _upgrade(conn, where=str(path))
            conn.exec_driver_sql(f"PRAGMA user_version={sqlite_user_version(CODE_VERSION)}")
            return applied
    finally:
        engine.dispose()


def _upgrade(conn: sa.Connection, *, where: str) -> list[int]:
    tables = set(sa.inspect(conn).get_table_names())
    current = _recorded_version(conn, tables, where)
    check_not_newer(current, where)
    config = alembic_config(SCRIPTS, conn)
    if VERSION_TABLE in tables:
        command.upgrade(config, "head")
    elif not tables & (set(metadata.tables) - {"hub_schema_migrations"}):
        create_tables(conn, metadata)
        stamp(conn, SCRIPTS, VERSION_TABLE)
    elif conn.dialect.name == "sqlite":
        present = {t: t for t in LEGACY_SQLITE_TABLES if t in tables}
        rebuild_sqlite_tables(
            conn, present, lambda: command.upgrade(config, f"{LEGACY_LAST_VERSION:04d}")
        )
        command.upgrade(config, "head")
    elif current:
        command.stamp(config, f"{current:04d}")
        command.upgrade(config, "head")
    else:
        raise SchemaUnrecognised(
            "the database holds hub tables but no record of their migrations "
            "(hub_schema_migrations): restore it from a backup, or use an empty database"
        )
    _record_history(conn)
    return list(range(current + 1, CODE_VERSION + 1))


def _recorded_version(conn: sa.Connection, tables: set[str], where: str) -> int:
    if VERSION_TABLE in tables:
        found = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
        return revision_number(found, where) if found else 0
    if "hub_schema_migrations" in tables:
        found = conn.exec_driver_sql("SELECT MAX(version) FROM hub_schema_migrations").scalar()
        return int(found or 0)
    return 0


def _record_history(conn: sa.Connection) -> None:
    """One line per revision in ``hub_schema_migrations``, as hubs before Alembic kept it."""
    script = script_directory(SCRIPTS)
    recorded = {v for (v,) in conn.exec_driver_sql("SELECT version FROM hub_schema_migrations")}
    for revision in reversed(list(script.walk_revisions())):
        version = int(revision.revision)
        if version not in recorded:
            conn.execute(
                sa.text("INSERT INTO hub_schema_migrations(version, name) VALUES(:v, :n)"),
                {"v": version, "n": revision.doc},
            )
