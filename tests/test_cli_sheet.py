"""``hub sheet init|import|export|status`` against the emulated Google Sheet and the local store."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from hub.cli import app
from sheets.columns import HUB_COLUMNS
from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

runner = CliRunner()


def _hub(env: dict[str, str], *args: str):
    result = runner.invoke(app, ["sheet", *args], env=env, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())  # undo rich's line wrapping


def _write_csv(path, count: int, *, duplicates: int = 0):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["domain", "page_title", "notes"])
        for i in range(count):
            writer.writerow([f"https://www.gallery{i:04d}.example/about", f"Gallery {i}", "x"])
        for i in range(duplicates):  # the same sites again, written differently
            writer.writerow([f"GALLERY{i:04d}.example", "again", ""])
    return path


@pytest.fixture
def sheet(data_dir, emulator_servers, monkeypatch):  # noqa: F811
    monkeypatch.chdir(data_dir.parent)  # no developer .env is read
    grid = [
        ["domain", "notes", "page_title", "hub_id"],
        ["typed.example", "met at the fair", '=IMPORTXML("http://x")', ""],
    ]
    with google_sheet_env(data_dir, grid, servers=emulator_servers) as env:
        yield env


def test_sheet_commands_work_against_the_google_sheet(sheet, tmp_path):
    env = sheet.env()
    code, out = _hub(env, "init", "--dry-run")
    assert code == 0 and "would add" in out and "would give 1" in out
    assert sheet.sheets.count("write") == 0

    code, out = _hub(env, "init")
    assert code == 0 and f"added {len(HUB_COLUMNS) - 3} columns" in out
    assert "gave 1 hand-typed rows a hub_id" in out
    typed_row = ["typed.example", "met at the fair", '=IMPORTXML("http://x")']
    assert sheet.sheets.cells()[1][:3] == typed_row

    sheet.sheets.reset_log()
    source = _write_csv(tmp_path / "galleries.csv", 1200, duplicates=150)
    code, out = _hub(env, "import", str(source))
    assert code == 0, out
    assert "added 1200 rows; skipped 150 duplicate domains" in out
    assert sheet.sheets.count("values.append") == 3  # 1,350 lines in batches of 500
    assert sheet.sheets.count() <= 12
    assert {r.value_input_option for r in sheet.sheets.log if r.kind == "write"} <= {"RAW", None}

    code, out = _hub(env, "status")
    assert code == 0 and "1201 rows (google store)" in out and "pending" in out

    target = tmp_path / "out.csv"
    code, out = _hub(env, "export", str(target))
    assert code == 0 and "wrote 1201 rows" in out
    with open(target, newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    typed = next(r for r in exported if r["domain"] == "typed.example")
    assert typed["page_title"] == '\'=IMPORTXML("http://x")'  # neutralised for spreadsheets
    assert typed["notes"] == "met at the fair"
    assert {r["domain"] for r in exported} >= {"gallery0000.example", "gallery1199.example"}


def test_sheet_not_shared_is_one_clear_line(data_dir, emulator_servers, monkeypatch):  # noqa: F811
    monkeypatch.chdir(data_dir.parent)
    with google_sheet_env(data_dir, shared_with=set(), servers=emulator_servers) as env:
        code, out = _hub(env.env(), "status")
    assert code == 1
    assert "Share the sheet with" in out and "HUB_SHEET_ID" in out
    assert "Traceback" not in out and "PRIVATE KEY" not in out


def test_sheet_id_without_a_service_account_names_the_variable(data_dir, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    code, out = _hub({"HUB_DATA_DIR": str(data_dir), "HUB_SHEET_ID": "1abc"}, "status")
    assert code == 2 and "GOOGLE_SERVICE_ACCOUNT_FILE" in out


def test_sheet_commands_work_on_the_local_store(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    env = {"HUB_DATA_DIR": str(data_dir)}
    assert _hub(env, "init")[0] == 0
    code, out = _hub(env, "import", str(_write_csv(tmp_path / "g.csv", 30, duplicates=5)))
    assert code == 0 and "added 30 rows; skipped 5 duplicate domains" in out
    code, out = _hub(env, "status")
    assert code == 0 and "30 rows (local store)" in out
    code, out = _hub(env, "export", str(tmp_path / "o.csv"))
    assert code == 0 and "wrote 30 rows" in out


def test_import_refuses_a_file_without_a_domain_column(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(data_dir.parent)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nA,a@b.example\n", encoding="utf-8")
    code, out = _hub({"HUB_DATA_DIR": str(data_dir)}, "import", str(bad))
    assert code == 2 and "needs a 'domain' or 'page_url' column" in out


@pytest.mark.parametrize("command", ["init", "import", "export", "status"])
def test_every_sheet_command_has_help(command):
    result = runner.invoke(app, ["sheet", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
