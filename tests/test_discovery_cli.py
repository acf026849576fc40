"""``hub discover`` against the DataForSEO emulator, live and by polling for posted tasks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli import app
from sheets.local import LocalStore
from tests.emulators.dataforseo import LOGIN, PASSWORD, DataForSEOEmulator, organic
from tests.emulators.serve import serve_in_thread


@pytest.fixture
def dfs_with_serp():
    emulator = DataForSEOEmulator()
    emulator.hold_callbacks = True  # no server runs: the command must collect the tasks itself
    emulator.serp["art blog"] = [organic(1, "www.one.test"), organic(2, "two.test")]
    emulator.serp["art magazine"] = [organic(1, "two.test"), organic(2, "three.test")]
    with serve_in_thread(emulator.app) as server:
        emulator.url = server.url
        yield emulator


@pytest.fixture
def dfs_cli_env(data_dir, dfs_with_serp, monkeypatch):
    monkeypatch.chdir(data_dir.parent)  # no developer .env
    return {
        "HUB_DATA_DIR": str(data_dir),
        "DATAFORSEO_LOGIN": LOGIN,
        "DATAFORSEO_PASSWORD": PASSWORD,
        "HUB_DATAFORSEO_API_URL": dfs_with_serp.url,
        "HUB_SECRET_KEYS": "cli-secret",
        "COLUMNS": "200",
    }


def _domains(data_dir) -> list[str]:
    store = LocalStore(data_dir / "prospects.sqlite3")
    try:
        return sorted(r["domain"] for r in store.rows())
    finally:
        store.close()


def test_live_discovery_adds_rows_and_prints_a_summary(dfs_cli_env, data_dir, dfs_with_serp):
    result = CliRunner().invoke(
        app, ["discover", "art blog", "art magazine", "--live", "--max", "5"], env=dfs_cli_env
    )
    assert result.exit_code == 0, result.output
    assert _domains(data_dir) == ["one.test", "three.test", "two.test"]
    assert "added" in result.output and "3" in result.output
    assert dfs_with_serp.requests["live"] == 2 and dfs_with_serp.requests["task_post"] == 0


def test_posted_tasks_are_collected_without_a_server(dfs_cli_env, data_dir, dfs_with_serp):
    result = CliRunner().invoke(
        app,
        ["discover", "art blog", "--location", "United States", "--poll-seconds", "0.05"],
        env=dfs_cli_env,
    )
    assert result.exit_code == 0, result.output
    assert _domains(data_dir) == ["one.test", "two.test"]
    assert "art blog" in result.output and "United States" in result.output
    assert dfs_with_serp.requests["task_post"] == 1 and dfs_with_serp.requests["task_get"] == 1


def test_without_credentials_it_says_which_setting(dfs_cli_env, data_dir):
    dfs_cli_env = {**dfs_cli_env, "DATAFORSEO_LOGIN": "", "DATAFORSEO_PASSWORD": ""}
    result = CliRunner().invoke(app, ["discover", "art blog"], env=dfs_cli_env)
    assert result.exit_code == 2
    assert "DATAFORSEO_LOGIN" in result.output
