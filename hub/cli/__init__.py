"""The ``hub`` command. Each command group lives in its own module and is added here."""

from __future__ import annotations

import typer

from hub.cli import serve as _serve
from hub.cli import sheet as _sheet

app = typer.Typer(
    name="hub",
    help="Outreach Hub: a Google Sheet as an outreach pipeline, driven by Make.com.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(_serve.serve)
app.add_typer(_sheet.app, name="sheet")


def main() -> None:
    app()
