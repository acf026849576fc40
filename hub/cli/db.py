"""``hub db upgrade`` / ``hub db status``: the PostgreSQL schema's numbered migrations."""

from __future__ import annotations

import typer

from hub.cli.common import console, exit_with, print_error, settings_or_exit
from hub.config import SettingError
from hub.startup import connect_database

app = typer.Typer(help="The PostgreSQL database (HUB_DATABASE_URL): schema migrations.")


def _connect(settings):
    if not settings.uses_postgres:
        exit_with("HUB_DATABASE_URL is not set: the SQLite state needs no migrations", 2)
    try:
        return connect_database(settings, timeout=10)
    except SettingError as exc:  # the reason in our words; never the URL's password
        exit_with(str(exc), 1)


@app.command("upgrade")
def upgrade() -> None:
    """Apply the pending migrations (each in one transaction; safe while hubs run)."""
    from hub.state.migrate import SchemaTooNew
    from hub.state.migrate import upgrade as apply_pending
    from hub.state.migrations import CODE_VERSION

    with _connect(settings_or_exit()) as conn:
        try:
            applied = apply_pending(conn)
        except SchemaTooNew as exc:
            print_error(str(exc), label="refused:")
            raise typer.Exit(1) from exc
    if applied:
        console.print(
            f"applied migrations {', '.join(map(str, applied))}; schema at {CODE_VERSION}"
        )
    else:
        console.print(f"schema already at version {CODE_VERSION}: nothing to do")


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
