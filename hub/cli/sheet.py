"""``hub sheet``: create or migrate the header, import and export CSV, show row counts."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import console, err_console, progress_bar, settings_or_exit
from hub.services import build_store
from sheets.csvio import export_csv, import_csv
from sheets.store import StoreError

app = typer.Typer(help="The prospect store (Google Sheet or local).", no_args_is_help=True)


def _store():
    settings = settings_or_exit()
    try:
        return build_store(settings)
    except StoreError as exc:
        err_console.print(f"[red]store error:[/red] {exc}")
        raise typer.Exit(1) from exc


@app.command("init")
def init(dry_run: bool = typer.Option(False, help="Only say what would change.")) -> None:
    """Create the header, or append the hub columns it lacks (never reorders or touches data)."""
    store = _store()
    report = store.ensure_schema(dry_run=dry_run)
    verb = "would add" if dry_run else "added"
    if report.added_columns:
        console.print(
            f"{verb} {len(report.added_columns)} columns: {', '.join(report.added_columns)}"
        )
    else:
        console.print("header complete: nothing to add")
    if report.ids_assigned:
        console.print(f"gave {report.ids_assigned} hand-typed rows a hub_id")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a domain column."),
) -> None:
    """Add rows from a CSV, de-duplicated by normalised domain."""
    store = _store()
    store.ensure_schema()
    with open(file, encoding="utf-8-sig") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    try:
        with progress_bar(f"importing {file.name}", total) as advance:
            report = import_csv(store, file, on_batch=advance)
    except ValueError as exc:
        err_console.print(f"[red]cannot import:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"added {len(report.added)} rows; skipped {len(report.duplicates)} duplicate domains"
    )


@app.command("export")
def export(
    file: Path = typer.Argument(..., dir_okay=False, help="Where to write the CSV."),
) -> None:
    """Write every row to a CSV (formula-looking cells are neutralised)."""
    count = export_csv(_store(), file)
    console.print(f"wrote {count} rows to {file}")


@app.command("status")
def status() -> None:
    """Rows per outreach_status, and rows on hold with the reason."""
    store = _store()
    rows = store.rows()
    by_status: dict[str, int] = {}
    holds: dict[str, int] = {}
    for row in rows:
        key = row.get("outreach_status") or "pending"
        by_status[key] = by_status.get(key, 0) + 1
        reason = (row.get("hold_reason") or "").split(" ", 1)[0]
        if reason:
            holds[reason] = holds.get(reason, 0) + 1
    table = Table(title=f"{len(rows)} rows ({store.backend_name} store)")
    table.add_column("outreach_status")
    table.add_column("rows", justify="right")
    for key, count in sorted(by_status.items(), key=lambda kv: -kv[1]):
        table.add_row(key, str(count))
    console.print(table)
    if holds:
        held = Table(title="on hold")
        held.add_column("hold_reason")
        held.add_column("rows", justify="right")
        for key, count in sorted(holds.items(), key=lambda kv: -kv[1]):
            held.add_row(key, str(count))
        console.print(held)
