"""The public surface a move of modules must not change: ``hub --help`` (and every sub-command's
help) and ``/openapi.json``, compared with snapshots taken before issue 18 moved anything.

After a deliberate change of the surface, rewrite the snapshots with
``HUB_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_public_surface.py`` and commit
them with the change that made it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer.main
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli import app as cli_app

SNAPSHOTS = Path(__file__).parent / "snapshots"
# A fixed width and no colour: rich would otherwise wrap and colour to the caller's terminal.
HELP_ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}


def _command_paths(command, path: tuple[str, ...] = ()):
    yield path
    # a group (typer ships its own click: duck-typed rather than isinstance)
    commands = getattr(command, "commands", None) or {}
    for name in sorted(commands):
        yield from _command_paths(commands[name], (*path, name))


def cli_help_text() -> str:
    """Every command's ``--help``, one section per command, in a stable order."""
    runner = CliRunner()
    sections = []
    for path in _command_paths(typer.main.get_command(cli_app)):
        result = runner.invoke(cli_app, [*path, "--help"], env=HELP_ENV, terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        sections.append(f"$ hub {' '.join((*path, '--help'))}\n{result.output.rstrip()}\n")
    return "\n".join(sections)


def openapi_text(settings) -> str:
    settings.tick_minutes = 0
    with TestClient(create_app(settings)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    return json.dumps(response.json(), indent=2, sort_keys=True) + "\n"


def _compare(name: str, actual: str) -> None:
    snapshot = SNAPSHOTS / name
    if os.environ.get("HUB_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(actual)
    assert actual == snapshot.read_text(), f"{name} changed; see this module's docstring"


def test_cli_help_is_unchanged_by_the_move():
    _compare("cli_help.txt", cli_help_text())


def test_openapi_document_is_unchanged_by_the_move(settings):
    _compare("openapi.json", openapi_text(settings))
