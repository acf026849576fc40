"""Which schema this code has: the newest migration's number, and where a database records its.

The tables are defined once in :mod:`hub.state.schema`; the migrations that bring an older
database there are Alembic's, in ``hub/state/alembic/versions/`` (revision ids ``0001``,
``0002``, ... in one line), applied by :mod:`hub.state.migrate`. Kept free of SQLAlchemy: a
hub whose database is current checks this much and never imports it.

Revisions 1-5 are the numbered migrations the hub applied before Alembic, under the same
numbers and names: ``hub_schema_migrations`` still gets one line per version, so a hub from
before Alembic, seeing a newer version there, refuses the database as it always did.
"""

from __future__ import annotations

CODE_VERSION = 5
"""The newest migration (``hub/state/alembic/versions/NNNN_*.py``): bump it with each new one."""

HEAD_REVISION = f"{CODE_VERSION:04d}"

VERSION_TABLE = "hub_alembic_version"
"""Alembic's record of the revision a database is at (the prospect store keeps its own)."""

LEGACY_LAST_VERSION = 5
"""The last migration the hub numbered before Alembic: where a legacy database is carried over."""

# One lock id for "someone is migrating this database" (pg_advisory_xact_lock's bigint).
MIGRATION_LOCK_ID = 0x6875625F6D6967  # "hub_mig"


def sqlite_user_version(version: int) -> int:
    """What a SQLite file's ``PRAGMA user_version`` says for schema ``version``: hubs before
    Alembic wrote 1 and refuse a file above it, so a schema they know stays at 1 and any newer
    one is above it."""
    return 1 if version <= LEGACY_LAST_VERSION else version
