"""``hub db upgrade`` / ``hub db status``: the PostgreSQL schema's migrations (:mod:`hub.state.migrate`)."""

from __future__ import annotations

import typer

from hub.cli.common import console, exit_with, print_error, settings_or_exit
from hub.config import SettingError
from hub.startup import connect_database

app = typer.Typer(help="The PostgreSQL database (HUB_DATABASE_URL): schema migrations.")


def _connect(settings):
    if not settings.uses_postgres:
        exit_with(
            "HUB_DATABASE_URL is not set: the SQLite files in HUB_DATA_DIR are migrated by the "
            "hub that opens them",
            2,
        )
    try:
        return connect_database(settings, timeout=10)
    except SettingError as exc:  # the reason in our words; never the URL's password
        exit_with(str(exc), 1)


@app.command("upgrade")
def upgrade() -> None:
    """Apply the pending migrations (in one transaction, under a lock: safe while hubs run)."""
    from hub.state.migrate import upgrade as apply_pending
    from hub.state.migrations import CODE_VERSION, SchemaTooNew

    settings = settings_or_exit()
    with _connect(settings):  # reachable, or a message naming it without its password
        pass
    try:
        applied = apply_pending(settings.database_url.get_secret_value())
    except SchemaTooNew as exc:
        print_error(str(exc), label="refused:")
        raise typer.Exit(1) from exc
    if applied:
        console.print(
            f"applied migrations {', '.join(map(str, applied))}; schema at {CODE_VERSION}"
        )
    else:
        console.print(f"schema already at version {CODE_VERSION}: nothing to do")
    if not settings.uses_google_sheet:
        _upgrade_store(settings)


def _upgrade_store(settings) -> None:
    """The local prospect store's tables in the same database (their own migrations, which
    the store applies when it is opened, under its own lock)."""
    from sheets.postgres import PostgresStore
    from sheets.schema_version import STORE_VERSION
    from sheets.store import StoreError

    try:
        PostgresStore(settings.database_url.get_secret_value(), max_size=1).close()
    except StoreError as exc:
        print_error(str(exc), label="refused:")
        raise typer.Exit(1) from exc
    console.print(f"prospect store schema at version {STORE_VERSION}")


@app.command("status")
def status() -> None:
    """The schema version of the database and of this hub."""
    from hub.state.migrate import database_version
    from hub.state.migrations import CODE_VERSION

    with _connect(settings_or_exit()) as conn:
        current = database_version(conn)
    console.print(f"database schema: {current}; this hub: {CODE_VERSION}")
    if current != CODE_VERSION:
        raise typer.Exit(1)
