"""Which schema the prospect store's code has, and how a database tells it (no SQLAlchemy here:
a store whose tables are current never loads it; :mod:`sheets.migrate` checks at open)."""

from __future__ import annotations

from sheets.store import StoreError

STORE_VERSION = 1
"""The newest migration (``sheets/alembic/versions/NNNN_*.py``): bump it with each new one."""

VERSION_TABLE = "prospects_alembic_version"
"""Alembic's record for the store (the hub's tables keep their own, hub_alembic_version)."""


class StoreSchemaTooNew(StoreError):
    """The store's tables were migrated by a newer hub than this one."""


def check_not_newer(version: int, where: str) -> None:
    if version > STORE_VERSION:
        raise StoreSchemaTooNew(
            f"{where}: the prospect store's schema is at version {version}, newer than this "
            f"hub's {STORE_VERSION}: a newer hub migrated it. Run the newer hub version (or "
            "restore a backup); this one refuses to write to a schema it does not know"
        )


def revision_number(revision: str, where: str) -> int:
    if not revision.isdigit():
        raise StoreSchemaTooNew(
            f"{where}: the prospect store's schema is at revision {revision!r}, which this hub "
            f"does not know (its newest is {STORE_VERSION}): run the hub version that migrated it"
        )
    return int(revision)
