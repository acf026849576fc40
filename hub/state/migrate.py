"""Applying the numbered migrations (:mod:`hub.state.migrations`) to a PostgreSQL database.

``hub db upgrade`` calls :func:`upgrade`; a hub starting with ``HUB_DATABASE_AUTO_UPGRADE``
(the default) calls it too, which is safe because each migration runs in one transaction under
an advisory lock, so hubs starting together apply it once. A database newer than this code is
refused either way (:class:`SchemaTooNew`).
"""

from __future__ import annotations

from typing import Any

from hub.state.migrations import CODE_VERSION, MIGRATION_LOCK_ID, MIGRATIONS

_TABLE = """
CREATE TABLE IF NOT EXISTS hub_schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class SchemaTooNew(Exception):
    """The database was migrated by a newer hub than this one."""


class SchemaBehind(Exception):
    """The database needs migrations this hub would apply (auto-upgrade is off)."""


def database_version(conn: Any) -> int:
    """The newest migration applied to the database (0: none, or no migrations table)."""
    (exists,) = conn.execute("SELECT to_regclass('hub_schema_migrations') IS NOT NULL").fetchone()
    if not exists:
        return 0
    (version,) = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM hub_schema_migrations"
    ).fetchone()
    return int(version)


def check_not_newer(version: int) -> None:
    if version > CODE_VERSION:
        raise SchemaTooNew(
            f"the database schema is at version {version}, newer than this hub's "
            f"{CODE_VERSION}: a newer hub migrated it. Run the newer hub version (or "
            f"restore a backup); this one refuses to write to a schema it does not know"
        )


def upgrade(conn: Any) -> list[int]:
    """Apply every pending migration, each in its own transaction; returns the versions
    applied (none when the database was up to date). ``conn`` autocommits."""
    with conn.transaction():
        # Under the lock too: CREATE TABLE IF NOT EXISTS is not safe against a concurrent
        # CREATE (hubs starting together on an empty database failed on pg_type's key).
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        conn.execute(_TABLE)
    applied: list[int] = []
    for migration in MIGRATIONS:
        with conn.transaction():
            # Hubs starting together: one applies, the others wait here and then skip.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
            current = database_version(conn)
            check_not_newer(current)
            if current >= migration.version:
                continue
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO hub_schema_migrations(version, name) VALUES(%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied


def prepare_schema(conn: Any, *, auto_upgrade: bool) -> int:
    """At start-up: refuse a newer schema, apply pending migrations when allowed (else
    refuse a schema that is behind, naming the command). Returns the schema version."""
    current = database_version(conn)
    check_not_newer(current)
    if current < CODE_VERSION:
        if not auto_upgrade:
            raise SchemaBehind(
                f"the database schema is at version {current}, this hub needs {CODE_VERSION}: "
                "run `hub db upgrade` (or set HUB_DATABASE_AUTO_UPGRADE=true)"
            )
        upgrade(conn)
        current = database_version(conn)
    return current
