"""The ``hub`` command. Each command group lives in its own module and is added here."""

from __future__ import annotations

import logging
import sys
import traceback

import typer

from hub.cli import db as _db
from hub.cli import discover as _discover
from hub.cli import doctor as _doctor
from hub.cli import outbox as _outbox
from hub.cli import rows as _rows
from hub.cli import run as _run
from hub.cli import scenarios as _scenarios
from hub.cli import serve as _serve
from hub.cli import sheet as _sheet
from hub.cli import webhook_url as _webhook_url
from hub.cli import worker as _worker
from hub.redact import RedactingFilter, redact

app = typer.Typer(
    name="hub",
    help="Outreach Hub: a Google Sheet as an outreach pipeline, driven by Make.com.",
    no_args_is_help=True,
    add_completion=False,
    # main() prints a bug's traceback itself, redacted; typer's would show it as it is.
    pretty_exceptions_enable=False,
)
app.command("serve")(_serve.serve)
app.command("worker")(_worker.worker)
app.add_typer(_db.app, name="db")
app.command("discover")(_discover.discover)
app.add_typer(_sheet.app, name="sheet")
app.add_typer(_rows.app, name="rows")
app.add_typer(_scenarios.app, name="scenarios")
app.add_typer(_run.app, name="run")
app.command("jobs")(_run.jobs)
app.command("webhook-url")(_webhook_url.webhook_url)
app.command("outbox")(_outbox.outbox)
app.command("doctor")(_doctor.doctor)


def main() -> None:
    redacted_warnings()
    try:
        app()
    except Exception as exc:  # a bug: its traceback, redacted (a message may quote a secret)
        text = "".join(traceback.format_exception(exc))
        sys.stderr.write(redact(text) + "(this is a bug in the hub: please report it)\n")
        sys.exit(1)


def redacted_warnings() -> None:
    """What Python's last-resort handler would print (warnings and errors on stderr), but
    redacted: a library's message may quote a URL with its password (psycopg_pool's retries
    quote libpq's, which quotes the connection string). ``hub serve`` and ``hub worker``
    replace it with their own configuration."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
