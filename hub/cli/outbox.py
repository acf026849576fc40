"""``hub outbox``: the dry-run messages waiting in ``HUB_DATA_DIR/outbox`` (nothing was sent)."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.common import console, settings_or_exit
from hub.mail.outbox import OutboxMailer


def outbox(
    limit: int = typer.Option(50, min=1, help="Show at most this many, newest first."),
    show: str = typer.Option("", help="Print one message in full (a file name from the list)."),
) -> None:
    """List the dry-run messages (file, to, subject, date) written while HUB_MAILER=outbox."""
    settings = settings_or_exit()
    mailer = OutboxMailer.from_settings(settings)
    if show:
        entries = {entry.file: entry for entry in mailer.entries()}
        if show not in entries:
            console.print(f"[red]no message named {show!r} in {mailer.folder}[/red]")
            raise typer.Exit(1)
        console.print((mailer.folder / show).read_text(encoding="utf-8", errors="replace"))
        return
    entries = mailer.entries()
    if not entries:
        console.print(f"the outbox is empty ({mailer.folder})")
        return
    table = Table(title=f"outbox: {len(entries)} messages (dry run, nothing was sent)")
    for column in ("file", "to", "subject", "date"):
        table.add_column(column, overflow="fold")
    for entry in entries[:limit]:
        when = entry.date.strftime("%Y-%m-%d %H:%M") if entry.date else ""
        table.add_row(entry.file, entry.to, entry.subject, when)
    console.print(table)
    if len(entries) > limit:
        console.print(f"... and {len(entries) - limit} more (--limit)")
