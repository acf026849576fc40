"""Helpers shared by the CLI commands: settings with clear errors, a console, progress bars."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.config import Settings, load_settings, settings_problems
from hub.errors import ConfigError
from hub.redact import redact

console = Console()
err_console = Console(stderr=True)


def print_error(line: str, *, label: str = "") -> None:
    """One line on stderr, never wrapped (rich wraps at 80 columns when piped) and never read
    as markup (a message may quote ``[[identity]]`` or ``[::1]``)."""
    prefix = f"[red]{escape(label)}[/red] " if label else ""
    err_console.print(prefix + escape(redact(line)), soft_wrap=True, highlight=False)


def exit_with(line: str, code: int, *, label: str = "") -> NoReturn:
    print_error(line, label=label)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    """Settings, or one line per bad setting (naming it and the fix) and exit 2."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        exit_with(str(exc), 2, label="configuration error:")
    except ValidationError as exc:
        for problem in settings_problems(exc):
            print_error(str(problem), label="configuration error:")
        raise typer.Exit(2) from None


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[callable]:
    """Yields ``advance(n)``; renders a bar on a terminal and stays quiet when piped."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
