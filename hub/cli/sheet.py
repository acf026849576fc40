"""``hub sheet``: create or migrate the header, import and export CSV, show row counts."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import console, err_console, progress_bar, settings_or_exit
from hub.services import build_store
from sheets.csvio import export_csv, import_csv
from sheets.store import ProspectStore, StoreError

app = typer.Typer(help="The prospect store (Google Sheet or local).", no_args_is_help=True)


@contextlib.contextmanager
def _store() -> Iterator[ProspectStore]:
    """The configured store; a StoreError (no access, no sheet, ...) is one clear line, exit 1."""
    settings = settings_or_exit()
    store = None
    try:
        store = build_store(settings)
        yield store
    except StoreError as exc:
        err_console.print(f"[red]store error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.close()


@app.command("init")
def init(dry_run: bool = typer.Option(False, help="Only say what would change.")) -> None:
    """Create the header, or append the hub columns it lacks (never reorders or touches data)."""
    with _store() as store:
        report = store.ensure_schema(dry_run=dry_run)
    verb = "would add" if dry_run else "added"
    if report.added_columns:
        console.print(
            f"{verb} {len(report.added_columns)} columns: {', '.join(report.added_columns)}"
        )
    else:
        console.print("header complete: nothing to add")
    if report.ids_assigned:
        verb = "would give" if dry_run else "gave"
        console.print(f"{verb} {report.ids_assigned} hand-typed rows a hub_id")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a domain column."),
) -> None:
    """Add rows from a CSV, de-duplicated by normalised domain."""
    with open(file, encoding="utf-8-sig", newline="") as handle:
        total = sum(1 for _ in csv.reader(handle)) - 1
    with _store() as store:
        store.ensure_schema()
        try:
            with progress_bar(f"importing {file.name}", max(total, 0)) as advance:
                report = import_csv(store, file, on_batch=advance)
        except (ValueError, csv.Error) as exc:
            err_console.print(f"[red]cannot import:[/red] {exc}")
            raise typer.Exit(2) from None
    console.print(
        f"added {len(report.added)} rows; skipped {len(report.duplicates)} duplicate domains"
    )


@app.command("export")
def export(
    file: Path = typer.Argument(..., dir_okay=False, help="Where to write the CSV."),
) -> None:
    """Write every row to a CSV (formula-looking cells are neutralised)."""
    with _store() as store:
        count = export_csv(store, file)
    console.print(f"wrote {count} rows to {file}")


@app.command("status")
def status() -> None:
    """Rows per outreach_status, and rows on hold with the reason."""
    with _store() as store:
        rows = store.rows()
        backend = store.backend_name
    by_status: dict[str, int] = {}
    holds: dict[str, int] = {}
    for row in rows:
        key = row.get("outreach_status") or "pending"
        by_status[key] = by_status.get(key, 0) + 1
        reason = (row.get("hold_reason") or "").split(" ", 1)[0]
        if reason:
            holds[reason] = holds.get(reason, 0) + 1
    table = Table(title=f"{len(rows)} rows ({backend} store)")
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
