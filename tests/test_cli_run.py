"""``hub run <stage>``, ``hub jobs`` and ``hub webhook-url`` through the real typer app."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.state.keys import secret_keys_for
from hub.state.sqlite import State
from tests.core_plugin import marking_stage, registered
from webhooks.tokens import body_signing_key, verify_make_token

runner = CliRunner()


@pytest.fixture
def cli_env(settings, monkeypatch):
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("HUB_SECRET_KEYS", raising=False)
    return settings


@pytest.fixture
def row_ids(cli_env, local_store):
    return local_store.append([{"domain": f"s{i}.example"} for i in range(12)]).added


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_run_stage_in_process_with_max_and_summary(cli_env, row_ids, local_store):
    with registered({"score": marking_stage("score", chunk=4)}):
        result = invoke("run", "score", "--max", "5")
    assert result.exit_code == 0, result.output
    assert "completed" in result.output and "marked" in result.output
    assert sum(1 for r in local_store.rows() if r.get("score") == "1") == 5
    state = State(cli_env.state_db_path)
    try:
        [job] = state.list_jobs("score")
        assert (job["source"], job["params"], job["processed"]) == ("cli", {"max_prospects": 5}, 5)
        assert state.list_jobs("draft") == []  # the CLI runs exactly the stage it names
    finally:
        state.close()


def test_run_stage_for_given_ids_only(cli_env, row_ids, local_store):
    with registered({"check_replies": marking_stage("reply_snippet")}):
        result = invoke("run", "check-replies", "--id", row_ids[3], "--id", row_ids[7])
    assert result.exit_code == 0, result.output
    marked = {r["hub_id"] for r in local_store.rows() if r.get("reply_snippet")}
    assert marked == {row_ids[3], row_ids[7]}


def test_failed_stage_exits_non_zero_with_the_error(cli_env, row_ids):
    async def broken(ctx):
        raise ValueError("Hunter said 'plan used up'")

    with registered({"enrich": broken}):
        result = invoke("run", "enrich")
    assert result.exit_code == 1
    assert "failed" in result.output and "plan used up" in result.output


def test_jobs_lists_recent_jobs(cli_env, row_ids):
    with registered({"score": marking_stage("score")}):
        invoke("run", "score")
    result = invoke("jobs")
    assert result.exit_code == 0
    assert "score" in result.output and "completed" in result.output
    assert "no jobs" in invoke("jobs", "--type", "send").output


def test_webhook_url_prints_a_verifiable_token_and_signing_key(cli_env):
    result = invoke("webhook-url", "import_rows", "--hub-url", "https://hub.example.org/")
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    prefix = "https://hub.example.org/webhooks/make/"
    assert url.startswith(prefix)
    keys = secret_keys_for(cli_env)  # the embedded key the command created
    assert verify_make_token(url[len(prefix) :], keys) == "import_rows"
    signed = invoke("webhook-url", "tick", "--signing-key").output.splitlines()
    assert signed[1] == f"body signing key: {body_signing_key(keys[-1])}"
    assert keys[-1] not in " ".join(signed)  # the master key itself is never printed


def test_webhook_url_refuses_unknown_actions(cli_env):
    result = runner.invoke(app, ["webhook-url", "launch_rockets"])
    assert result.exit_code == 2
