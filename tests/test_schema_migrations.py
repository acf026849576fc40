"""The tables are defined once (hub/state/schema.py, sheets/schema.py) and their migrations must
build exactly that, on SQLite and on PostgreSQL: a test that fails the moment a table or column
is added to one and not the other (how to add one: hub/state/schema.py's docstring)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import hub.state.schema_upgrade as hub_upgrade
import sheets.schema_upgrade as store_upgrade
from hub.state import migrations as hub_versions
from hub.state.schema import metadata as hub_metadata
from sheets import schema_version as store_versions
from sheets.schema import metadata as store_metadata
from tests.schema_shape import schema_shape

# (name, migrations folder, metadata, Alembic's version table, this code's version)
HISTORIES = {
    "hub": (
        hub_upgrade.SCRIPTS,
        hub_metadata,
        hub_versions.VERSION_TABLE,
        hub_versions.CODE_VERSION,
    ),
    "store": (
        store_upgrade.SCRIPTS,
        store_metadata,
        store_versions.VERSION_TABLE,
        store_versions.STORE_VERSION,
    ),
}


def engine_for(dialect: str, tmp_path: Path, request: pytest.FixtureRequest, name: str):
    if dialect == "sqlite":
        return store_upgrade.sqlite_engine(tmp_path / f"{name}.sqlite3")
    cluster = request.getfixturevalue("postgres_cluster")
    return store_upgrade.postgres_engine(cluster.create_database())


def migrated_from_empty(engine: sa.Engine, scripts: Path) -> None:
    """Every migration in order, on an empty database (never the metadata's create_all)."""
    with engine.begin() as conn:
        command.upgrade(store_upgrade.alembic_config(scripts, conn), "head")


def created_fresh(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """As a new database is made: the metadata's DDL (compiled once per process)."""
    with engine.begin() as conn:
        store_upgrade.create_tables(conn, metadata)


@pytest.mark.parametrize("history", sorted(HISTORIES))
def test_the_migrations_are_one_numbered_line_ending_at_this_codes_version(history):
    scripts, _, _, version = HISTORIES[history]
    script = ScriptDirectory(str(scripts))
    revisions = list(reversed(list(script.walk_revisions())))
    assert script.get_heads() == [f"{version:04d}"], "bump the code's version with a migration"
    assert [r.revision for r in revisions] == [f"{n:04d}" for n in range(1, version + 1)]
    assert [r.down_revision for r in revisions] == [None] + [r.revision for r in revisions[:-1]]
    for revision in revisions:  # the file is named after its revision, so the next is obvious
        assert re.fullmatch(rf"{revision.revision}_\w+\.py", Path(revision.path).name)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("history", sorted(HISTORIES))
def test_the_migrations_build_exactly_the_tables_the_metadata_defines(
    history, dialect, tmp_path, request
):
    scripts, metadata, version_table, _ = HISTORIES[history]
    migrated = engine_for(dialect, tmp_path, request, "migrated")
    fresh = engine_for(dialect, tmp_path, request, "fresh")
    try:
        migrated_from_empty(migrated, scripts)
        created_fresh(fresh, metadata)
        with migrated.connect() as conn:
            # What `alembic revision --autogenerate` would draft: nothing is left to migrate.
            context = MigrationContext.configure(
                conn,
                opts={
                    "target_metadata": metadata,
                    "version_table": version_table,
                    "compare_type": True,
                    "compare_server_default": dialect == "postgresql",
                },
            )
            assert compare_metadata(context, metadata) == []
            built = schema_shape(conn, set(metadata.tables))
        with fresh.connect() as conn:
            # The inspector's full view (defaults, partial indexes, AUTOINCREMENT) agrees too.
            assert built == schema_shape(conn, set(metadata.tables))
        assert set(built) == set(metadata.tables)
    finally:
        migrated.dispose()
        fresh.dispose()


def test_a_new_sqlite_file_gets_every_hub_table_and_the_record_older_hubs_read(tmp_path):
    from hub.state.database import SqliteDatabase

    path = tmp_path / "state.sqlite3"
    SqliteDatabase(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert set(hub_metadata.tables) <= set(sa.inspect(conn).get_table_names())
        version = conn.exec_driver_sql(f"SELECT version_num FROM {hub_versions.VERSION_TABLE}")
        assert version.scalar() == hub_versions.HEAD_REVISION
        history = conn.exec_driver_sql("SELECT version FROM hub_schema_migrations ORDER BY 1")
        assert [v for (v,) in history] == list(range(1, hub_versions.CODE_VERSION + 1))
        user_version = conn.exec_driver_sql("PRAGMA user_version").scalar()
        assert user_version == hub_versions.sqlite_user_version(hub_versions.CODE_VERSION)
    engine.dispose()


def test_older_hubs_see_a_schema_after_the_numbered_ones_as_newer_than_theirs():
    # Before Alembic a SQLite hub refused user_version > 1 and a PostgreSQL hub any version
    # above 5 in hub_schema_migrations: the record keeps saying so for every later version.
    assert hub_versions.sqlite_user_version(5) == 1
    assert hub_versions.sqlite_user_version(6) > 1
