"""``hub doctor`` without the network: settings consistency, webhook keys, a fresh install,
the local store, the CLI on unparseable settings, and the deadline on a blocking check."""

from __future__ import annotations

import asyncio
import json
import threading

from typer.testing import CliRunner

from hub.cli import app as cli
from hub.doctor import _bounded, in_thread, run_checks
from hub.doctor.checks_public_url import check_public_url, shown
from hub.doctor.checks_settings import check_settings
from hub.doctor.checks_webhooks import check_webhooks
from hub.state.keys import load_or_create_secret_key, secret_key_path
from sheets.local import LocalStore

runner = CliRunner()
LONG_KEY = "k" * 48


def levels(findings, level: str) -> list[str]:
    return [f.message for f in findings if f.level == level]


# --- settings -----------------------------------------------------------------------------------
def test_settings_check_problems_become_one_error_each_naming_the_variable(settings):
    broken = settings.model_copy(
        update={"sheet_id": "1AbC", "mailer": "gmail", "dataforseo_login": "me"}
    )

    findings = check_settings(broken)

    errors = {f.message: f.fix for f in findings if f.level == "error"}
    assert errors["HUB_SHEET_ID is set, so the store is a Google Sheet"] == (
        "set GOOGLE_SERVICE_ACCOUNT_FILE or GOOGLE_SERVICE_ACCOUNT_JSON"
    )
    assert errors["HUB_MAILER=gmail needs GMAIL_REFRESH_TOKEN"].startswith(
        "set GMAIL_REFRESH_TOKEN"
    )
    assert errors["DATAFORSEO_LOGIN is set"] == "set DATAFORSEO_PASSWORD too"


def test_settings_warnings_a_user_would_regret(settings):
    risky = settings.model_copy(
        update={
            "mailer": "gmail",
            "sender_address": "",
            "api_keys": [],
            "daily_cap": 1500,
            "auto_send": True,
            "require_approval": False,
        }
    )

    warned = " | ".join(levels(check_settings(risky), "warn"))

    assert "HUB_SENDER_ADDRESS is empty: real sends are held" in warned
    assert "HUB_DAILY_CAP=1500 is above" in warned
    assert "without anyone reading them" in warned


def test_unparseable_sending_settings_and_missing_files_are_errors(settings, tmp_path):
    broken = settings.model_copy(
        update={
            "send_window": "weekdays nine to five",
            "send_gap_seconds": "soon",
            "followup_days": ["3", "next week"],
            "templates_dir": str(tmp_path / "nowhere"),
        }
    )

    errors = " | ".join(levels(check_settings(broken), "error"))

    assert "HUB_SEND_WINDOW='weekdays nine to five'" in errors
    assert "HUB_SEND_GAP_SECONDS='soon'" in errors
    assert "HUB_FOLLOWUP_DAYS has 'next week'" in errors
    assert "HUB_TEMPLATES_DIR names a folder that does not exist" in errors


def test_without_api_keys_the_embedded_api_key_file_is_named(settings):
    [note] = [f for f in check_settings(settings) if "HUB_API_KEYS" in f.message]

    assert note.level == "ok" and "will hold (created by the first `hub serve`)" in note.message
    assert str(settings.data_dir / "api_key") in note.message


def test_a_short_api_key_stops_serve_so_it_is_an_error_without_showing_it(settings):
    weak = settings.model_copy(update={"api_keys": ["abc123", "x" * 40]})
    [problem] = levels(check_settings(weak), "error")
    assert "1 of the 2 keys in HUB_API_KEYS is shorter than 20 characters" in problem
    assert "abc123" not in problem
    allowed = weak.model_copy(update={"allow_weak_keys": True})  # it starts: a warning
    [warning] = levels(check_settings(allowed), "warn")
    assert warning == problem


# --- webhook keys ---------------------------------------------------------------------------------
def test_rotated_keys_verify_and_a_short_key_is_flagged(settings):
    findings = check_webhooks(settings.model_copy(update={"secret_keys": ["short", LONG_KEY]}))

    oks = " | ".join(levels(findings, "ok"))
    assert "2 key(s) from HUB_SECRET_KEYS" in oks and "rotation works" in oks
    [problem] = levels(findings, "error")  # `hub serve` refuses it (HUB_ALLOW_WEAK_KEYS)
    assert "1 of the 2 keys in HUB_SECRET_KEYS is shorter than 32 characters" in problem
    assert "short" not in problem.replace("shorter", "")


def test_the_embedded_key_is_read_never_created_and_its_mode_checked(settings):
    path = secret_key_path(settings)

    [missing] = check_webhooks(settings)
    assert missing.level == "warn" and "does not exist" in missing.message
    assert not path.exists()

    load_or_create_secret_key(path)
    path.chmod(0o644)
    findings = check_webhooks(settings)

    assert "from the embedded key file" in levels(findings, "ok")[0]
    [loose] = levels(findings, "warn")
    assert "can be read by other users (mode 644)" in loose


# --- a fresh install ---------------------------------------------------------------------------------
def test_a_fresh_install_is_healthy_and_the_doctor_writes_nothing(settings, data_dir):
    report = run_checks(settings)

    assert report.ok, [f.message for f in report.findings if f.level == "error"]
    [store] = report.in_area("store")
    assert "does not exist yet" in store.message and "hub sheet init" in store.fix
    assert "on embedded defaults" in report.in_area("providers")[0].message
    assert "lint clean" in report.in_area("scenarios")[0].message
    assert list(data_dir.iterdir()) == []  # no store, state DB or key file created


def test_a_local_store_is_checked_and_its_rows_read(settings, local_store):
    local_store.append([{"domain": "a.example", "outreach_status": "sending"}])

    report = run_checks(settings.model_copy(update={"secret_keys": [LONG_KEY]}))

    assert report.ok and "header complete" in report.in_area("store")[0].message
    assert "1 row(s): sending 1" in report.in_area("rows")[0].message
    assert "changed in the last few minutes" in report.in_area("rows")[1].message


def test_a_local_store_missing_hub_columns_is_an_error(settings):
    store = LocalStore(settings.local_store_path)
    # The header an older hub version wrote: score_reasons did not exist yet.
    store.ensure_schema()
    header = [c for c in store.header() if c != "score_reasons"]
    store._save_header(header)  # test set-up only: there is no public way to lose a column
    store.close()

    report = run_checks(settings)

    [finding] = [f for f in report.in_area("store") if f.level == "error"]
    assert "lacks 1 hub column(s): score_reasons" in finding.message
    assert LocalStore(settings.local_store_path).header() == header  # dry run: unchanged


# --- public URL without the network ---------------------------------------------------------------------
def test_public_url_unset_while_dataforseo_and_gmail_need_it(settings):
    needy = settings.model_copy(update={"dataforseo_login": "me", "mailer": "gmail"})

    [finding] = asyncio.run(check_public_url(needy, [], 1.0))

    assert finding.level == "warn" and "HUB_PUBLIC_URL is not set" in finding.message
    assert "DataForSEO callbacks would go to http://127.0.0.1:8000" in finding.message
    assert "REVIEW:public_url" in finding.message and "HUB_PUBLIC_URL" in finding.fix


def test_public_url_that_is_not_http_is_an_error_and_credentials_are_never_shown(settings):
    [finding] = asyncio.run(
        check_public_url(settings.model_copy(update={"public_url": "hub.example.com"}), [], 1.0)
    )
    assert finding.level == "error" and "is not an http(s) URL" in finding.message
    assert shown("https://user:pa55@hub.example.com:8443/x/") == "https://hub.example.com:8443/x"


# --- the CLI and the deadline ------------------------------------------------------------------------------
def test_cli_reports_an_unparseable_setting_without_its_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"HUB_DATA_DIR": str(tmp_path / "d"), "HUB_DAILY_CAP": "lots-secret-ish"}

    result = runner.invoke(cli, ["doctor", "--json"], env=env)

    assert result.exit_code == 1
    body = json.loads(result.output)
    [finding] = body["findings"]
    assert body["ok"] is False and finding["area"] == "settings" and finding["level"] == "error"
    assert "HUB_DAILY_CAP" in finding["message"] and "lots-secret-ish" not in result.output


def test_a_blocking_check_past_its_deadline_becomes_an_error_and_does_not_hold_the_loop():
    release = threading.Event()

    def stuck() -> list:
        release.wait(30)
        return []

    async def main():
        return await _bounded("store", "the store", in_thread(stuck), deadline=0.2)

    try:
        [finding] = asyncio.run(main())  # returns although the thread is still blocked
    finally:
        release.set()
    assert finding.level == "error" and finding.area == "store"
    assert "the store did not answer within" in finding.message


def test_a_check_that_crashes_is_reported_as_a_hub_bug_and_the_others_still_run():
    def broken() -> list:
        raise KeyError("unexpected")

    [finding] = asyncio.run(_bounded("scenarios", "the blueprint lint", in_thread(broken), 5))

    assert finding.level == "error" and "failed unexpectedly (KeyError)" in finding.message
    assert "bug" in finding.fix


def test_settings_object_is_not_changed_by_the_doctor(settings):
    before = settings.model_dump()
    run_checks(settings)
    assert settings.model_dump() == before
