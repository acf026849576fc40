"""``hub sheet``: create or migrate the header, import and export CSV, show row counts."""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from hub.app import build_store
from hub.cli.common import console, err_console, progress_bar, settings_or_exit
from hub.stages.row_errors import in_trouble
from sheets.cells import clean_text
from sheets.csvio import RefusedLine, export_csv, import_csv, read_csv_lines
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


# Refused lines printed one by one; the rest are counted (a 200k-line file of junk stays short).
SHOWN_REFUSALS = 50


def _print_refused(refused: list[RefusedLine]) -> None:
    for item in refused[:SHOWN_REFUSALS]:
        err_console.print(f"line {item.line}: {item.reason}", markup=False, highlight=False)
    if len(refused) > SHOWN_REFUSALS:
        err_console.print(f"... and {len(refused) - SHOWN_REFUSALS} more refused lines")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV with a domain column."),
    strict: bool = typer.Option(
        False, "--strict", help="Import nothing and exit 1 when any line is refused."
    ),
) -> None:
    """Add rows from a CSV, de-duplicated by normalised domain. Lines whose domain is not a
    host name are refused, each reported with its line number and the reason."""
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            total = sum(1 for _ in csv.reader(handle)) - 1
        if strict:
            refused = [
                RefusedLine(line, str(row))
                for line, row in read_csv_lines(file)
                if not isinstance(row, dict)
            ]
            if refused:
                _print_refused(refused)
                err_console.print(f"[red]--strict: {len(refused)} lines refused; nothing imported")
                raise typer.Exit(1)
    except (ValueError, csv.Error, UnicodeDecodeError) as exc:
        err_console.print(f"[red]cannot import:[/red] {exc}")
        raise typer.Exit(2) from None
    with _store() as store:
        store.ensure_schema()
        try:
            with progress_bar(f"importing {file.name}", max(total, 0)) as advance:
                report = import_csv(store, file, on_batch=advance)
        except (ValueError, csv.Error, UnicodeDecodeError) as exc:
            err_console.print(f"[red]cannot import:[/red] {exc}")
            raise typer.Exit(2) from None
    _print_refused(report.refused)
    console.print(
        f"added {len(report.added)} rows; skipped {len(report.duplicates)} duplicate domains; "
        f"refused {len(report.refused)} lines"
    )


@app.command("export")
def export(
    file: Path = typer.Argument(..., dir_okay=False, help="Where to write the CSV."),
) -> None:
    """Write every row to a CSV (formula-looking cells are neutralised)."""
    with _store() as store:
        count = export_csv(store, file)
    console.print(f"wrote {count} rows to {file}")


# Rows in trouble listed one by one; more are counted (filter the sheet on hold_reason).
SHOWN_TROUBLE = 100


@app.command("status")
def status() -> None:
    """Rows per outreach_status, rows on hold with the reason, and the rows in trouble (held
    on ERROR: or REVIEW:bad_*) with their last_error."""
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
        table.add_row(Text(clean_text(key, 100)), str(count))
    console.print(table)
    if holds:
        held = Table(title="on hold")
        held.add_column("hold_reason")
        held.add_column("rows", justify="right")
        for key, count in sorted(holds.items(), key=lambda kv: -kv[1]):
            held.add_row(Text(clean_text(key, 100)), str(count))
        console.print(held)
    _print_trouble([row for row in rows if in_trouble(row)])


def _print_trouble(trouble: list[dict[str, str]]) -> None:
    if not trouble:
        return
    table = Table(title=f"{len(trouble)} rows in trouble (a person fixes the cell named)")
    table.add_column("hub_id", no_wrap=True)  # whole, to copy into `hub rows show`
    for name in ("domain", "hold_reason", "last_error"):
        table.add_column(name, overflow="fold")
    for row in trouble[:SHOWN_TROUBLE]:
        # Text, not markup: a cell like "[::1]" or "[red]" is shown as typed; controls removed.
        cells = (row.get(n, "") for n in ("hub_id", "domain", "hold_reason", "last_error"))
        table.add_row(*(Text(clean_text(cell, 300)) for cell in cells))
    console.print(table)
    if len(trouble) > SHOWN_TROUBLE:
        console.print(f"... and {len(trouble) - SHOWN_TROUBLE} more: filter on hold_reason")
