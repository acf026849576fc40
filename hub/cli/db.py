"""``hub db upgrade`` / ``hub db status``: the PostgreSQL schema's migrations (:mod:`hub.state.migrate`)."""

from __future__ import annotations

import typer

from hub.cli.common import console, err_console, settings_or_exit

app = typer.Typer(help="The PostgreSQL database (HUB_DATABASE_URL): schema migrations.")


def _connect(settings):
    import psycopg

    from hub.state.dialect import redact_dsn

    if not settings.uses_postgres:
        err_console.print(
            "[red]HUB_DATABASE_URL is not set:[/red] the SQLite files in HUB_DATA_DIR are "
            "migrated by the hub that opens them"
        )
        raise typer.Exit(2)
    url = settings.database_url.get_secret_value()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        err_console.print(f"[red]cannot reach {redact_dsn(url)}:[/red] {type(exc).__name__}")
        raise typer.Exit(1) from exc


def ready_or_exit(settings) -> None:
    """Before `hub serve` / `hub worker` start on PostgreSQL: reach the database, refuse a
    schema newer than this hub (or behind it, without auto-upgrade) with a message that says
    what to do, and apply pending migrations when allowed. On SQLite, refuse a state file a
    newer hub migrated (the files are migrated when the hub opens them)."""
    if not settings.uses_postgres:
        _sqlite_ready_or_exit(settings)
        return
    from hub.state.migrate import prepare_schema
    from hub.state.migrations import SchemaBehind, SchemaTooNew

    with _connect(settings) as conn:
        try:
            prepare_schema(
                conn,
                settings.database_url.get_secret_value(),
                auto_upgrade=settings.database_auto_upgrade,
            )
        except (SchemaTooNew, SchemaBehind) as exc:
            err_console.print(f"[red]refusing to start:[/red] {exc}")
            raise typer.Exit(2) from exc


def _sqlite_ready_or_exit(settings) -> None:
    import sqlite3

    from hub.state.migrate import sqlite_version
    from hub.state.migrations import SchemaTooNew, check_not_newer

    for path in (settings.state_db_path, settings.data_dir / "discovery.sqlite3"):
        if not path.exists():
            continue
        db = sqlite3.connect(path)
        try:
            version = sqlite_version(db, str(path))
            if version is not None:
                check_not_newer(version, str(path))
        except SchemaTooNew as exc:
            err_console.print(f"[red]refusing to start:[/red] {exc}")
            raise typer.Exit(2) from exc
        finally:
            db.close()


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
        err_console.print(f"[red]refused:[/red] {exc}")
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
        err_console.print(f"[red]refused:[/red] {exc}")
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
