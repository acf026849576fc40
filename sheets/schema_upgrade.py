"""Create or migrate the prospect store's tables (SQLAlchemy + Alembic), and the helpers the
hub's own tables use the same way (``hub.state.schema_upgrade``).

Called by :mod:`sheets.migrate` only when a store is not at this code's version, so
SQLAlchemy and Alembic load only then. All in ONE transaction under the store's lock. A store:

- empty: created from :data:`sheets.schema.metadata`, stamped at the newest revision;
- Alembic's (``prospects_alembic_version``): the pending revisions are applied;
- in PostgreSQL from before Alembic: its tables are revision 0001's, so it is stamped there;
- in SQLite from before Alembic (its header in ``meta``): rebuilt by revision 0001, rows kept
  (:func:`rebuild_sqlite_tables`), its header moving to ``prospect_meta`` as on PostgreSQL.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from sheets.schema import metadata
from sheets.schema_version import VERSION_TABLE, check_not_newer, revision_number

SCRIPTS = Path(__file__).with_name("alembic")
_COMPILED_DDL: dict[tuple[int, str], list[str]] = {}
# Before Alembic: the SQLite store's tables (header in `meta`) and what each is called now.
_LEGACY_SQLITE = {"meta": "prospect_meta", "prospects": "prospects"}


# --- shared with the hub's tables -----------------------------------------------------------
def sqlite_engine(path: str | Path) -> sa.Engine:
    """An engine whose transactions are ``BEGIN IMMEDIATE``: the file's write lock is taken
    before the version is read, and DDL stays inside the transaction (the sqlite3 module would
    otherwise commit before it)."""
    # The file is opened by sqlite3 itself (any path, no URL quoting), in autocommit mode.
    engine = sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(path, timeout=30, isolation_level=None),
        poolclass=NullPool,
    )

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def postgres_engine(dsn: str) -> sa.Engine:
    """SQLAlchemy over psycopg for any libpq connection string (URL or ``key=value``)."""
    return sa.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool
    )


def create_tables(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """``metadata.create_all`` on an empty database, its DDL compiled once per process and
    dialect: tests create hundreds of data dirs, and compiling is most of the cost."""
    key = (id(metadata), conn.dialect.name)
    ddl = _COMPILED_DDL.get(key)
    if ddl is None:
        ddl = []
        for table in metadata.sorted_tables:
            ddl.append(str(CreateTable(table).compile(dialect=conn.dialect)))
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                ddl.append(str(CreateIndex(index).compile(dialect=conn.dialect)))
        _COMPILED_DDL[key] = ddl
    for statement in ddl:
        conn.exec_driver_sql(statement)


@functools.cache
def script_directory(scripts: Path) -> ScriptDirectory:
    """The migrations in ``scripts``, read once per process."""
    return ScriptDirectory(str(scripts))


def stamp(conn: sa.Connection, scripts: Path, version_table: str) -> None:
    """Record a database just created from the metadata as being at the newest revision."""
    context = MigrationContext.configure(conn, opts={"version_table": version_table})
    context.stamp(script_directory(scripts), "head")


def alembic_config(scripts: Path, conn: sa.Connection) -> Config:
    """Alembic's configuration for the migrations in ``scripts``, running on ``conn`` (their
    env.py uses it as it is, inside the caller's transaction and lock)."""
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["connection"] = conn
    return config


def rebuild_sqlite_tables(
    conn: sa.Connection, tables: Mapping[str, str], build: Callable[[], None]
) -> None:
    """Rebuild SQLite tables made before Alembic (``{old name: name now}``) as ``build`` (the
    migrations up to a revision) makes them, keeping every row and each AUTOINCREMENT counter.

    Such tables were created in SQLite's own spelling (a PRIMARY KEY column without NOT NULL,
    another index list...), so altering them in place would never make them equal to fresh
    ones: they are set aside, built again, and their rows copied by column name (a column the
    old table lacks takes its default), then the old ones dropped."""
    counters = _autoincrement_counters(conn)
    for old in tables:
        # Indexes keep their names on a renamed table, and the build creates them again; the
        # indexes of UNIQUE constraints follow the table by themselves.
        for (index,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
            (old,),
        ).fetchall():
            conn.exec_driver_sql(f'DROP INDEX "{index}"')
        conn.exec_driver_sql(f'ALTER TABLE "{old}" RENAME TO "_old_{old}"')
    build()
    inspector = sa.inspect(conn)
    for old, new in tables.items():
        kept = {c["name"] for c in sa.inspect(conn).get_columns(f"_old_{old}")}
        names = ", ".join(f'"{c["name"]}"' for c in inspector.get_columns(new) if c["name"] in kept)
        conn.exec_driver_sql(f'INSERT INTO "{new}" ({names}) SELECT {names} FROM "_old_{old}"')
        conn.exec_driver_sql(f'DROP TABLE "_old_{old}"')
        if old in counters:
            # Ids of deleted rows are never handed out again (AUTOINCREMENT's promise).
            conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name=?", (new,))
            conn.exec_driver_sql(
                "INSERT INTO sqlite_sequence(name, seq) "
                f'SELECT ?, MAX(?, COALESCE((SELECT MAX(rowid) FROM "{new}"), 0))',
                (new, counters[old]),
            )


def _autoincrement_counters(conn: sa.Connection) -> dict[str, int]:
    exists = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'"
    ).scalar()
    if not exists:
        return {}
    return dict(conn.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").fetchall())


# --- the store ------------------------------------------------------------------------------
def upgrade_store_sqlite(path: str | Path) -> None:
    engine = sqlite_engine(path)
    try:
        with engine.begin() as conn:
            _upgrade(conn, str(path))
    finally:
        engine.dispose()


def upgrade_store_postgres(dsn: str, *, where: str, lock: str) -> None:
    engine = postgres_engine(dsn)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(lock)
            _upgrade(conn, where)
    finally:
        engine.dispose()


def _upgrade(conn: sa.Connection, where: str) -> None:
    tables = set(sa.inspect(conn).get_table_names())
    config = alembic_config(SCRIPTS, conn)
    if VERSION_TABLE in tables:
        found = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
        check_not_newer(revision_number(found, where) if found else 0, where)
        command.upgrade(config, "head")
    elif not tables & {*metadata.tables, *_LEGACY_SQLITE}:
        create_tables(conn, metadata)
        stamp(conn, SCRIPTS, VERSION_TABLE)
    elif conn.dialect.name == "sqlite":
        present = {old: new for old, new in _LEGACY_SQLITE.items() if old in tables}
        rebuild_sqlite_tables(conn, present, lambda: command.upgrade(config, "0001"))
        command.upgrade(config, "head")
    else:
        command.stamp(config, "0001")
        command.upgrade(config, "head")
