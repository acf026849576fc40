"""Helpers shared by the CLI commands: settings with clear errors, a console, progress bars."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from hub.config import Settings, load_settings
from hub.errors import ConfigError

console = Console()
err_console = Console(stderr=True)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        err_console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except ValidationError as exc:
        for problem in exc.errors():
            where = ".".join(str(p) for p in problem["loc"]) or "settings"
            err_console.print(f"[red]configuration error:[/red] {where}: {problem['msg']}")
        raise typer.Exit(2) from exc


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
