"""``hub rows``: list, show, approve, skip and edit rows from a terminal.

The same rules and messages as ``PATCH /api/prospects/{id}`` and the status page
(:mod:`hub.rows.actions`); every change is recorded in the row's history as ``cli``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.table import Table

from hub.app import build_store
from hub.cli.common import console, err_console, settings_or_exit
from hub.errors import HubError
from hub.rows import actions
from hub.rows.filter import RowFilter, normal_status
from hub.services import Services
from hub.web.routes import when
from sheets.store import StoreError

app = typer.Typer(
    help="Act on prospect rows: list, show, approve, skip, set a column.", no_args_is_help=True
)

LIST_COLUMNS = ("hub_id", "domain", "contact_email", "outreach_status", "approved", "hold_reason")


@contextlib.contextmanager
def _services() -> Iterator[Services]:
    """The configured store (no providers needed); errors are one clear line."""
    settings = settings_or_exit()
    store = None
    try:
        store = build_store(settings)
        yield Services(settings=settings, store=store)
    except StoreError as exc:
        err_console.print(f"[red]store error:[/red] {exc}")
        raise typer.Exit(1) from None
    except HubError as exc:
        err_console.print(f"[red]not changed:[/red] {exc.message.removeprefix('not changed: ')}")
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.close()


def _filter(status: str, q: str, hold: str) -> RowFilter:
    return RowFilter(q.strip(), normal_status(status) if status.strip() else "", hold.strip())


@app.command("list")
def list_(
    status: str = typer.Option("", "--status", help="Only rows with this outreach_status."),
    q: str = typer.Option("", "--q", help="Part of a domain or an e-mail address."),
    hold: str = typer.Option("", "--hold", help="A hold_reason group, e.g. HELD:daily_cap."),
    limit: int = typer.Option(50, min=1, help="Show at most this many rows."),
) -> None:
    """Rows matching a filter, in sheet order."""
    with _services() as services:
        rows = services.store.select(_filter(status, q, hold).matches)
    table = Table(title=f"{len(rows)} rows" + (f" (first {limit})" if len(rows) > limit else ""))
    for column in LIST_COLUMNS:
        # the id is what the other commands take: never fold it, so it can be copied whole
        table.add_column(column, overflow="fold", no_wrap=column == "hub_id")
    for row in rows[:limit]:
        table.add_row(*(row.get(c, "") for c in LIST_COLUMNS))
    console.print(table)


@app.command("show")
def show(hub_id: str = typer.Argument(..., help="The row's hub_id.")) -> None:
    """Every cell of one row, and its history of changes."""
    with _services() as services:
        row = services.store.get(hub_id)
        if row is None:
            err_console.print(f"[red]error:[/red] no prospect with id {hub_id!r}")
            raise typer.Exit(1)
        header = services.store.header()
        changes = actions.changes_of(services.settings, hub_id)
    cells = Table(title=hub_id, show_header=False)
    cells.add_column("column", style="bold")
    cells.add_column("value", overflow="fold")
    for name in [*header, *(k for k in row if k not in header)]:
        if row.get(name):
            cells.add_row(name, row[name])
    console.print(cells)
    if changes:
        table = Table(title="changes (newest first)")
        for column in ("when", "who", "column", "before", "after"):
            table.add_column(column, overflow="fold")
        for c in changes:
            table.add_row(when(c.at), c.actor, c.column, c.before, c.after)
        console.print(table)


@app.command("approve")
def approve(
    hub_ids: list[str] = typer.Argument(None, help="hub_ids of the rows to approve."),
    status: str = typer.Option("", "--status", help="Approve every row with this status."),
    q: str = typer.Option("", "--q", help="... whose domain or e-mail contains this."),
    hold: str = typer.Option("", "--hold", help="... on hold for this reason group."),
    yes: bool = typer.Option(False, "--yes", help="Approve the filter's rows without asking."),
) -> None:
    """Tick `approved` on rows named by id, or on every row a filter matches."""
    where = _filter(status, q, hold)
    if bool(hub_ids) == (not where.empty):
        err_console.print(
            "[red]error:[/red] name rows by hub_id, or give a filter (--status, --q, --hold)"
        )
        raise typer.Exit(2)
    with _services() as services:
        if not hub_ids:
            count = len(services.store.select(where.matches))
            if not yes and not typer.confirm(f"Approve {count} rows matching the filter?"):
                err_console.print("nothing changed")
                raise typer.Exit(1)
        result = actions.approve_rows(services, actions.CLI, hub_ids=hub_ids or (), where=where)
    console.print(result.message())
    if result.missing:
        raise typer.Exit(1)


@app.command("skip")
def skip(
    hub_ids: list[str] = typer.Argument(..., help="hub_ids of the rows never to send."),
    do_not_contact: bool = typer.Option(
        False, "--do-not-contact", help="Mark do_not_contact (the address is suppressed)."
    ),
) -> None:
    """Take rows out of the pipeline (outreach_status=skip, or do_not_contact)."""
    status = "do_not_contact" if do_not_contact else "skip"
    with _services() as services:
        for hub_id in hub_ids:
            result = actions.edit_row(services, hub_id, {"outreach_status": status}, actions.CLI)
            console.print(result.message())


@app.command("set")
def set_(
    hub_id: str = typer.Argument(..., help="The row's hub_id."),
    assignments: list[str] = typer.Argument(..., help="column=value, e.g. contact_name=Ann"),
) -> None:
    """Set human columns: approved, outreach_status, contact, draft, notes, your own."""
    try:
        changes = actions.parse_assignments(assignments)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with _services() as services:
        result = actions.edit_row(services, hub_id, changes, actions.CLI)
    console.print(result.message())
