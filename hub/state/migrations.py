"""Which schema this code has (the newest migration's number), where a database records its,
and the refusal of a schema newer than this code.

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


class SchemaTooNew(Exception):
    """The database was migrated by a newer hub than this one."""


class SchemaUnrecognised(SchemaTooNew):
    """The database holds hub tables but no record of their migrations: refused, as a newer
    schema is, since this hub cannot tell what it would be writing to."""


class SchemaBehind(Exception):
    """The database needs migrations this hub would apply (auto-upgrade is off)."""


def check_not_newer(version: int, where: str = "") -> None:
    if version > CODE_VERSION:
        what = f"{where}: the state schema" if where else "the database schema"
        raise SchemaTooNew(
            f"{what} is at version {version}, newer than this hub's {CODE_VERSION}: a newer "
            "hub migrated it. Run the newer hub version (or restore a backup); this one "
            "refuses to write to a schema it does not know"
        )


def revision_number(revision: str, where: str = "") -> int:
    """The version an Alembic revision id stands for (ids are ``0001``, ``0002``, ...)."""
    if not revision.isdigit():
        what = f"{where}: the state schema" if where else "the database schema"
        raise SchemaTooNew(
            f"{what} is at revision {revision!r}, which this hub does not know (its newest is "
            f"{CODE_VERSION}): run the hub version that migrated it (or restore a backup)"
        )
    return int(revision)
