"""``hub doctor [--json]``: check the hub's set-up and say what to fix. Exit 1 when broken."""

from __future__ import annotations

import json

import typer
from pydantic import ValidationError
from rich.table import Table

from hub.cli.common import console
from hub.config import Settings, settings_problems
from hub.doctor import run_checks
from hub.doctor.report import Report, error

STYLES = {"ok": "green", "warn": "yellow", "error": "bold red"}


def doctor(
    as_json: bool = typer.Option(False, "--json", help='Print {"ok": bool, "findings": [...]}.'),
) -> None:
    """Diagnose settings, database, store, providers, public URL, webhook keys, rows, blueprints.

    Exits 1 when something is broken (an error); warnings are advice and exit 0.
    """
    report = _report()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        console.print(_table(report))
        console.print(_summary(report))
    if not report.ok:
        raise typer.Exit(1)


def _report() -> Report:
    try:
        settings = Settings()
    except ValidationError as exc:
        # A value that cannot even be parsed: the lines `hub serve` prints (a secret's value
        # is never shown).
        return Report(
            [error("settings", problem.problem, problem.fix) for problem in settings_problems(exc)]
        )
    return run_checks(settings)


def _table(report: Report) -> Table:
    table = Table(title="hub doctor", show_lines=False, expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("area", no_wrap=True)
    table.add_column("finding", overflow="fold")
    table.add_column("what to do", overflow="fold")
    for finding in report.findings:
        style = STYLES[finding.level]
        table.add_row(
            f"[{style}]{finding.level}[/{style}]",
            finding.area,
            finding.message,
            finding.fix,
            end_section=False,
        )
    return table


def _summary(report: Report) -> str:
    errors, warnings = report.count("error"), report.count("warn")
    if errors:
        return f"[bold red]broken:[/bold red] {errors} error(s), {warnings} warning(s)"
    if warnings:
        return f"[yellow]working, with {warnings} warning(s)[/yellow]"
    return "[green]healthy[/green]"
