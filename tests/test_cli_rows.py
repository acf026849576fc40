"""``hub rows list|show|approve|skip|set`` on the local store and on the emulated Google Sheet:
the same rules and messages as the API, every change in the row's history as ``cli``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.cli.common import console
from hub.config import Settings
from hub.rows.history import RowHistory
from sheets.local import LocalStore
from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

runner = CliRunner()


@pytest.fixture(params=["local", "google"])
def cli_on_each_store(request, data_dir, emulator_servers, monkeypatch):  # noqa: F811
    """(environment for the CLI, a store to look with)."""
    monkeypatch.chdir(data_dir.parent)  # no developer .env is read
    monkeypatch.setattr(console, "width", 160)  # a wide terminal: table cells stay whole
    if request.param == "local":
        store = LocalStore(Settings(_env_file=None, data_dir=data_dir).local_store_path)
        store.ensure_schema()
        yield {"HUB_DATA_DIR": str(data_dir)}, store
        store.close()
        return
    with google_sheet_env(data_dir, [["domain", "notes"]], servers=emulator_servers) as env:
        store = env.store()
        store.ensure_schema()
        yield env.env(), store


def rows_cli(env: dict[str, str], *args: str, input: str | None = None):
    result = runner.invoke(app, ["rows", *args], env=env, input=input, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())  # undo rich's line wrapping


def seed(store) -> list[str]:
    return store.append(
        [
            *(
                {
                    "domain": f"gallery{i}.example",
                    "contact_email": f"ed{i}@gallery{i}.example",
                    "outreach_status": "drafted",
                }
                for i in range(3)
            ),
            {"domain": "later.example"},
        ]
    ).added


def test_rows_commands(cli_on_each_store, data_dir):
    env, store = cli_on_each_store
    a, b, c, later = seed(store)

    code, out = rows_cli(env, "list", "--status", "drafted")
    assert code == 0 and "3 rows" in out and "gallery2.example" in out
    assert "later.example" not in out

    assert rows_cli(env, "approve", a) == (0, "approved 1 of 1 rows")
    code, out = rows_cli(env, "set", a, "message_id=<x@y>", "outreach_status=sent")
    assert code == 1
    assert "message_id: is written by the hub only" in out and "not 'sent'" in out
    code, out = rows_cli(env, "set", b, "contact_email=not-an-address")
    assert code == 1 and "contact_email: 'not-an-address' is not an e-mail address" in out
    code, out = rows_cli(env, "set", b, "contact_name=Ann Smith", "notes=met at the fair")
    assert code == 0, out
    assert out == f"{b}: contact_name (empty) → 'Ann Smith'; notes (empty) → 'met at the fair'"
    assert rows_cli(env, "set", b, "oops")[0] == 2

    code, out = rows_cli(env, "skip", c, "--do-not-contact")
    assert code == 0 and "'drafted' → 'do_not_contact'" in out

    code, out = rows_cli(env, "approve", "--status", "drafted", input="n\n")
    assert code == 1 and "Approve 2 rows matching the filter?" in out
    assert store.get(b).get("approved", "") == ""
    code, out = rows_cli(env, "approve", "--status", "drafted", "--yes")
    assert (code, out) == (0, "approved 1 of 2 rows; 1 already approved")
    assert rows_cli(env, "approve")[0] == 2  # neither ids nor a filter

    rows = {h: store.get(h) for h in (a, b, c, later)}
    assert [rows[h].get("approved", "") for h in (a, b, c, later)] == ["TRUE", "TRUE", "", ""]
    assert rows[a]["outreach_status"] == "drafted" and not rows[a].get("message_id")
    assert rows[b]["contact_name"] == "Ann Smith" and rows[b]["notes"] == "met at the fair"
    assert rows[c]["outreach_status"] == "do_not_contact"

    code, out = rows_cli(env, "show", b)
    assert code == 0 and "Ann Smith" in out and "changes (newest first)" in out
    assert " cli " in out
    assert rows_cli(env, "show", "h_nobody")[0] == 1
    history = RowHistory.from_settings(Settings(_env_file=None, data_dir=data_dir))
    assert {ch.actor for h in (a, b, c) for ch in history.for_row(h)} == {"cli"}
    history.close()
