"""``hub scenarios list|render|lint``: the Make.com blueprints shipped with the hub.

``render`` prints JSON on stdout (or writes ``--out``) with ``typer.echo``, never through rich,
which would re-wrap long lines and interpret ``[...]`` in the JSON as markup.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from hub.cli.common import console, err_console, settings_or_exit
from hub.config import Settings
from hub.state.keys import secret_keys_for
from scenarios.lint import FileReport, lint_file
from scenarios.lint_context import LintOptions
from scenarios.render import (
    DEFAULT_DATAFORSEO_JOB,
    DEFAULT_ZONE,
    NOTIFY_EMAIL,
    RenderError,
    RenderOptions,
    catalogue,
    render,
    shipped,
)

app = typer.Typer(help="Make.com scenario blueprints: list, render, lint.", no_args_is_help=True)


@app.command("list")
def list_blueprints() -> None:
    """The shipped blueprints, with what each one does."""
    table = Table("name", "what it does", show_lines=True)
    for blueprint in catalogue():
        table.add_row(blueprint.name, f"[bold]{blueprint.title}[/bold]\n{blueprint.summary}")
    console.print(table)


@app.command("render")
def render_blueprint(
    name: str = typer.Argument(..., help="A name from `hub scenarios list`."),
    hub_url: str = typer.Option(
        None, "--hub-url", help="Where Make.com reaches the hub (default HUB_PUBLIC_URL)."
    ),
    out: Path = typer.Option(None, "--out", help="Write here instead of standard output."),
    zone: str = typer.Option(DEFAULT_ZONE, "--zone", help="Your Make zone, e.g. us1.make.com."),
    sign: bool = typer.Option(False, "--sign", help="Sign request bodies (X-Hub-Signature-256)."),
    notify_email: str = typer.Option(
        None, "--notify-email", help="Recipient of notification e-mails (hub-events-notify)."
    ),
    dataforseo_job: str = typer.Option(
        DEFAULT_DATAFORSEO_JOB,
        "--dataforseo-job",
        help="Label of the Make-posted DataForSEO tasks: callback tokens name the job id "
        "make-dfs:LABEL, under which the hub opens a discover job per task.",
    ),
) -> None:
    """Fill in a blueprint's webhook URLs (freshly signed tokens), zone and optional signing."""
    settings = settings_or_exit()
    hub_url = hub_url or settings.public_url
    if not hub_url:
        err_console.print(
            "[red]give --hub-url[/red] (or set HUB_PUBLIC_URL): the address where Make.com "
            "reaches the hub from the internet"
        )
        raise typer.Exit(2)
    try:
        blueprint = shipped(name)
        document = blueprint.load()
        needs_email = NOTIFY_EMAIL in json.dumps(document)
        options = RenderOptions(
            hub_url=hub_url,
            secret_keys=secret_keys(settings),
            zone=zone,
            sign=sign,
            notify_email=(notify_email or _default_email(settings)) if needs_email else "",
            dataforseo_job=dataforseo_job,
        )
        rendered = render(document, options)
    except RenderError as exc:
        err_console.print(f"[red]cannot render:[/red] {exc}")
        raise typer.Exit(2) from exc
    text = json.dumps(rendered, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        if sign:
            _write_private(out, text)
        else:
            out.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {out}: import it in Make.com (Scenarios > Import blueprint)")
    if sign:
        err_console.print(
            "[yellow]the blueprint holds the body-signing key[/yellow]: keep it private, and "
            "render again after rotating HUB_SECRET_KEYS"
        )


@app.command("lint")
def lint_blueprints(
    files: list[Path] = typer.Argument(..., help="Blueprint JSON files exported from Make."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    require_signature: bool = typer.Option(
        None,
        "--require-signature/--no-require-signature",
        help="Hub calls must sign their body (default: the hub's HUB_REQUIRE_SIGNATURE).",
    ),
) -> None:
    """Check blueprints for mistakes Make only reports at run time. Exit 1 on any error."""
    if require_signature is None:
        require_signature = _hub_requires_signature()
    options = LintOptions(require_signature=require_signature)
    reports = [lint_file(path, options) for path in files]
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    if as_json:
        summary = {"errors": errors, "warnings": warnings, "files": [r.to_dict() for r in reports]}
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            _print_report(report)
        typer.echo(f"{len(reports)} file(s): {errors} error(s), {warnings} warning(s)")
    if errors:
        raise typer.Exit(1)


def secret_keys(settings: Settings) -> list[str]:
    """HUB_SECRET_KEYS, else the embedded key file the hub uses (created once if missing)."""
    return secret_keys_for(settings)


def _default_email(settings: Settings) -> str:
    return settings.sender_address or settings.gmail_sender


def _hub_requires_signature() -> bool:
    try:
        return Settings().require_signature
    except Exception:  # a broken .env must not stop a lint; the flag can be given explicitly
        return False


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _print_report(report: FileReport) -> None:
    if not report.findings:
        typer.echo(f"{report.path}: ok")
        return
    state = "invalid" if report.invalid else f"{len(report.errors)} error(s)"
    typer.echo(f"{report.path}: {state}, {len(report.warnings)} warning(s)")
    for finding in report.findings:
        typer.echo(f"  {finding.describe()}")
