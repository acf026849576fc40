"""The prospect store's tables, defined once (SQLAlchemy Core): ``prospects`` and its header.

Both backends of the embedded store use them: :mod:`sheets.local` (SQLite,
``prospects.sqlite3``) and :mod:`sheets.postgres` (the hub's PostgreSQL database, beside the
hub's own tables, which ``hub.state.schema`` defines: ``sheets`` never imports ``hub``). The
store's statements stay hand-written SQL; only the DDL comes from here, and the migrations in
``sheets/alembic/versions/`` bring an older store to it (:mod:`sheets.schema_upgrade`).

To change a table: write it here (a new column at the END of its table), add the next
migration ``sheets/alembic/versions/NNNN_what.py`` (``alembic -c sheets/alembic/alembic.ini``
drafts one, as ``hub/state/schema.py`` describes), and bump
:data:`sheets.schema_version.STORE_VERSION`. ``tests/test_schema_migrations.py`` fails until the
migrations and this metadata agree on both dialects.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Identity, Index, Integer, MetaData, Table, Text, text

metadata = MetaData()

# The user's header (column names, in the user's order), under key 'header'.
prospect_meta = Table(
    "prospect_meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per prospect: JSON of its non-empty cells, with domain and status copied into
# indexed columns for de-duplication and counting. ``pos`` keeps the rows' order (a sheet's).
prospects = Table(
    "prospects",
    metadata,
    Column(
        "pos",
        BigInteger().with_variant(Integer(), "sqlite"),  # SQLite: INTEGER, to be the rowid
        Identity(always=True),
        primary_key=True,
    ),
    Column("hub_id", Text, nullable=False, unique=True),
    Column("domain", Text, nullable=False, server_default=text("''")),
    Column("outreach_status", Text, nullable=False, server_default=text("''")),
    Column("data", Text, nullable=False),
    Index("prospects_domain", "domain"),
    Index("prospects_status", "outreach_status"),
    sqlite_autoincrement=True,
)
