"""``hub doctor`` against the emulators: a healthy set-up reads healthy, and each broken part a
test creates is named (area, level, cause) — wrong Hunter key, sheet missing columns,
unreachable public URL, revoked Gmail refresh token, rows stuck in ``sending``, and more.

One module-wide world: OAuth + Sheets (google_sheet_env), Gmail, Hunter, DataForSEO and Gemini
emulators, and a real hub (``create_app``) serving the public URL. Each test points settings
at a variant of it; a test that breaks shared state mends it in ``finally``.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli import app as cli
from hub.config import Settings
from hub.doctor import Report, run_checks
from hub.state.sqlite import State
from sheets.columns import HUB_COLUMNS
from tests.emulators import google_keys
from tests.emulators.dataforseo import LOGIN, PASSWORD, DataForSEOEmulator
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.gmail import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, GmailEmulator
from tests.emulators.google_oauth import RefreshGrant
from tests.emulators.hunter import API_KEY as HUNTER_KEY
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import free_port, serve_in_thread
from tests.store_contract import WORKSHEET, GoogleSheetEnv, google_sheet_env

ADDRESS = "studio@artist.example"
SECRET_KEY = "doctor-test-key-" + "k" * 48
API_KEY = "doctor-test-api-key-" + "a" * 32
GEMINI_KEY = "test-gemini-key"
POSTAL = "Studio Nine, 1 Quay Road, Bristol BS1 1AA, UK"
runner = CliRunner()


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def grid(header: list[str], *rows: dict[str, str]) -> list[list[str]]:
    return [header] + [[row.get(name, "") for name in header] for row in rows]


FULL_HEADER = [*HUB_COLUMNS, "notes"]
HEALTHY_ROWS = (
    {"hub_id": "h_sent1", "domain": "gallery.example", "outreach_status": "sent"},
    {"hub_id": "h_pend1", "domain": "blog.example", "outreach_status": "pending"},
    {"hub_id": "h_skip1", "domain": "mag.example", "outreach_status": "unsubscribed",
     "hold_reason": "SKIP:unsubscribed"},
)  # fmt: skip


@dataclass
class World:
    sheet: GoogleSheetEnv
    gmail: GmailEmulator
    hunter: HunterEmulator
    dataforseo: DataForSEOEmulator
    gemini: GeminiEmulator
    urls: dict[str, str]
    data_dir: Path

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "public_url": self.urls["hub"],
            "secret_keys": [SECRET_KEY],
            "api_keys": [API_KEY],
            "hunter_api_key": HUNTER_KEY,
            "hunter_api_url": self.urls["hunter"] + "/v2",
            "dataforseo_login": LOGIN,
            "dataforseo_password": PASSWORD,
            "dataforseo_api_url": self.urls["dataforseo"],
            "gemini_api_key": GEMINI_KEY,
            "gemini_api_url": self.urls["gemini"],
            "mailer": "gmail",
            "gmail_api_url": self.urls["gmail"] + "/",
            "gmail_client_id": CLIENT_ID,
            "gmail_client_secret": CLIENT_SECRET,
            "gmail_refresh_token": REFRESH_TOKEN,
            "gmail_sender": ADDRESS,
            "sender_address": POSTAL,
        }
        values.update(overrides)
        return self.sheet.settings(**values)

    def env(self, **overrides: str) -> dict[str, str]:
        """The same set-up as environment variables, for the CLI."""
        values = {
            **self.sheet.env(),
            "HUB_PUBLIC_URL": self.urls["hub"],
            "HUB_SECRET_KEYS": SECRET_KEY,
            "HUB_API_KEYS": API_KEY,
            "HUNTER_API_KEY": HUNTER_KEY,
            "HUB_HUNTER_API_URL": self.urls["hunter"] + "/v2",
            "DATAFORSEO_LOGIN": LOGIN,
            "DATAFORSEO_PASSWORD": PASSWORD,
            "HUB_DATAFORSEO_API_URL": self.urls["dataforseo"],
            "GEMINI_API_KEY": GEMINI_KEY,
            "HUB_GEMINI_API_URL": self.urls["gemini"],
            "HUB_MAILER": "gmail",
            "HUB_GMAIL_API_URL": self.urls["gmail"] + "/",
            "GMAIL_CLIENT_ID": CLIENT_ID,
            "GMAIL_CLIENT_SECRET": CLIENT_SECRET,
            "GMAIL_REFRESH_TOKEN": REFRESH_TOKEN,
            "GMAIL_SENDER": ADDRESS,
            "HUB_SENDER_ADDRESS": POSTAL,
        }
        values.update(overrides)
        return values

    def new_sheet(self, rows: list[list[str]]) -> str:
        return self.sheet.sheets.create_spreadsheet({WORKSHEET: rows})


@pytest.fixture(scope="module")
def doctor_world(tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("doctor")
    data_dir, hub_dir = root / "hub-data", root / "public-hub"
    data_dir.mkdir()
    # The doctor reads the sheet several times per run; the emulator's quota clock is fake.
    with (
        google_sheet_env(data_dir, grid(FULL_HEADER, *HEALTHY_ROWS), read_quota=100_000) as sheet,
        contextlib.ExitStack() as stack,
    ):
        sheet.oauth.refresh_tokens[REFRESH_TOKEN] = RefreshGrant(
            CLIENT_ID,
            CLIENT_SECRET,
            principal=ADDRESS,
            scopes=(
                "https://www.googleapis.com/auth/gmail.send",
                "https://www.googleapis.com/auth/gmail.readonly",
            ),
        )
        gmail = GmailEmulator(address=ADDRESS, check_bearer=sheet.oauth.is_valid)
        hunter, dataforseo, gemini = HunterEmulator(), DataForSEOEmulator(), GeminiEmulator()
        # The public hub: a real app on the embedded defaults, sharing the secret key.
        public_hub = create_app(
            Settings(_env_file=None, data_dir=hub_dir, secret_keys=[SECRET_KEY], tick_minutes=0)
        )
        urls = {
            name: stack.enter_context(serve_in_thread(app)).url
            for name, app in (
                ("gmail", gmail.app),
                ("hunter", hunter.app),
                ("dataforseo", dataforseo.app),
                ("gemini", gemini.app),
                ("hub", public_hub),
            )
        }
        yield World(sheet, gmail, hunter, dataforseo, gemini, urls, data_dir)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no developer .env is read by Settings()


def only(report: Report, area: str, level: str) -> list:
    return [f for f in report.in_area(area) if f.level == level]


def problems(report: Report) -> list[str]:
    return [f"{f.level} {f.area}: {f.message}" for f in report.findings if f.level != "ok"]


# --- healthy ------------------------------------------------------------------------------------
def test_a_healthy_setup_reads_healthy_with_every_provider_answering(doctor_world):
    report = run_checks(doctor_world.settings())

    assert report.ok and problems(report) == []
    providers = " | ".join(f.message for f in report.in_area("providers"))
    assert "every role uses its real provider" in providers
    assert "Hunter answers" in providers and "25000 of 25000 searches left" in providers
    assert "DataForSEO answers" in providers and "balance 100.00 USD" in providers
    assert "model 'gemini-2.5-flash' is available" in providers
    assert f"Gmail answers with the refresh token, as {ADDRESS}" in providers
    assert "header complete" in report.in_area("store")[0].message
    public = " | ".join(f.message for f in report.in_area("public_url"))
    assert "answers /healthz" in public and "accepts webhook tokens" in public
    assert "3 row(s)" in report.in_area("rows")[0].message
    assert "1 key(s) from HUB_SECRET_KEYS" in report.in_area("webhooks")[0].message
    assert "lint clean" in report.in_area("scenarios")[0].message
    # The cheap credential calls were made, and nothing was spent or sent.
    assert doctor_world.hunter.requests["account"] >= 1 and doctor_world.hunter.searched == []
    assert doctor_world.dataforseo.requests["user_data"] >= 1 and not doctor_world.dataforseo.tasks
    assert doctor_world.gemini.request_count == 0  # models.get is not a generateContent
    assert (
        doctor_world.gmail.count("users.getProfile") >= 1
        and doctor_world.gmail.count("users.messages.send") == 0
    )


def test_cli_json_on_a_healthy_setup_exits_zero_and_prints_no_secret(doctor_world):
    result = runner.invoke(cli, ["doctor", "--json"], env=doctor_world.env())

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["ok"] is True
    assert {f["area"] for f in body["findings"]} >= {
        "settings", "store", "rows", "providers", "public_url", "webhooks", "scenarios"
    }  # fmt: skip
    assert all(set(f) == {"level", "area", "message", "fix"} for f in body["findings"])
    _assert_no_secret(result.output)


def test_cli_table_on_a_terminal_says_healthy(doctor_world):
    result = runner.invoke(cli, ["doctor"], env=doctor_world.env())

    assert result.exit_code == 0, result.output
    assert "hub doctor" in result.output and "healthy" in result.output
    _assert_no_secret(result.output)


def _assert_no_secret(text: str) -> None:
    private_key = google_keys.service_account_info()["private_key"]
    for secret in (SECRET_KEY, API_KEY, HUNTER_KEY, PASSWORD, GEMINI_KEY, REFRESH_TOKEN,
                   CLIENT_SECRET, private_key.splitlines()[1]):  # fmt: skip
        assert secret not in text


# --- broken, one part at a time -------------------------------------------------------------------
def test_a_wrong_hunter_key_is_named(doctor_world):
    report = run_checks(doctor_world.settings(hunter_api_key="not-the-key"))

    [finding] = only(report, "providers", "error")
    assert "Hunter answered 401" in finding.message and "HUNTER_API_KEY" in finding.fix
    assert not report.ok


def test_cli_exits_one_naming_the_wrong_hunter_key(doctor_world):
    result = runner.invoke(
        cli, ["doctor", "--json"], env=doctor_world.env(HUNTER_API_KEY="wrong-key")
    )

    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["ok"] is False
    [finding] = [f for f in body["findings"] if f["level"] == "error"]
    assert finding["area"] == "providers" and "Hunter answered 401" in finding["message"]
    assert "wrong-key" not in result.output


def test_a_sheet_missing_columns_is_named_and_left_unchanged(doctor_world):
    header = [c for c in FULL_HEADER if c not in ("draft_subject", "draft_body", "contact_email")]
    header.append("Contact Email")  # a person renamed the hub's column
    sheet_id = doctor_world.new_sheet(grid(header, {"hub_id": "h_1", "domain": "a.example"}))

    report = run_checks(doctor_world.settings(sheet_id=sheet_id))

    [finding] = only(report, "store", "error")
    assert "lacks 3 hub column(s): contact_email, draft_subject, draft_body" in finding.message
    assert "'Contact Email' looks like contact_email" in finding.message
    assert "hub sheet init" in finding.fix
    rows = doctor_world.sheet.sheets.cells(spreadsheet_id=sheet_id)
    assert rows[0][: len(header)] == header and "draft_subject" not in rows[0]  # dry run only


def test_a_missing_worksheet_is_named(doctor_world):
    report = run_checks(doctor_world.settings(worksheet="Leads"))

    [finding] = only(report, "store", "error")
    assert "'Leads'" in finding.message and "HUB_WORKSHEET" in finding.fix


def test_rows_without_hub_id_are_counted(doctor_world):
    rows = grid(FULL_HEADER, {"hub_id": "h_1", "domain": "a.example"}, {"domain": "typed.example"})
    report = run_checks(doctor_world.settings(sheet_id=doctor_world.new_sheet(rows)))

    [finding] = only(report, "store", "warn")
    assert "1 row(s) have no hub_id" in finding.message and report.ok


def test_an_unreachable_public_url_is_named(doctor_world):
    report = run_checks(doctor_world.settings(public_url=f"http://127.0.0.1:{free_port()}"))

    [finding] = only(report, "public_url", "error")
    assert "cannot be reached from the hub itself" in finding.message
    assert "/healthz" in finding.message and "hub serve" in finding.fix


def test_a_public_hub_with_other_keys_is_named(doctor_world):
    report = run_checks(doctor_world.settings(secret_keys=["another-key-" + "x" * 40]))

    [finding] = only(report, "public_url", "error")
    assert "refuses webhook tokens made with this machine's keys" in finding.message
    assert "HUB_SECRET_KEYS" in finding.fix


def test_a_revoked_gmail_refresh_token_is_named(doctor_world):
    doctor_world.sheet.oauth.revoke(REFRESH_TOKEN)
    try:
        report = run_checks(doctor_world.settings())
    finally:
        doctor_world.sheet.oauth.revoked_refresh_tokens.discard(REFRESH_TOKEN)

    [finding] = only(report, "providers", "error")
    assert "Gmail refused the OAuth refresh token (expired or revoked)" in finding.message
    assert "GMAIL_REFRESH_TOKEN" in finding.fix


@pytest.mark.parametrize(
    ("overrides", "cause", "fix"),
    [
        ({"dataforseo_password": "wrong"}, "DataForSEO answered 40100", "DATAFORSEO_PASSWORD"),
        ({"gemini_api_key": "wrong"}, "Gemini answered 400 API_KEY_INVALID", "GEMINI_API_KEY"),
        ({"gemini_model": "gemini-9-ultra"}, "no model 'gemini-9-ultra'", "GEMINI_MODEL"),
        ({"gmail_client_secret": "wrong"}, "Gmail refused the OAuth", "GMAIL_CLIENT_SECRET"),
    ],
    ids=["dataforseo-password", "gemini-key", "gemini-model", "gmail-client-secret"],
)
def test_each_refused_provider_credential_is_named(doctor_world, overrides, cause, fix):
    report = run_checks(doctor_world.settings(**overrides))

    [finding] = only(report, "providers", "error")
    assert cause in finding.message and fix in finding.fix


def test_an_empty_dataforseo_balance_and_a_used_up_hunter_plan(doctor_world):
    doctor_world.dataforseo.balance, doctor_world.hunter.searches_left = 0.0, 0
    try:
        report = run_checks(doctor_world.settings())
    finally:
        doctor_world.dataforseo.balance, doctor_world.hunter.searches_left = 100.0, None

    [empty] = only(report, "providers", "error")
    assert "balance is 0.00 USD" in empty.message and "top up" in empty.fix
    [used_up] = only(report, "providers", "warn")
    assert "no searches are left" in used_up.message


def test_a_gmail_account_other_than_gmail_sender_is_a_warning(doctor_world):
    report = run_checks(doctor_world.settings(gmail_sender="someone.else@artist.example"))

    [finding] = only(report, "providers", "warn")
    assert f"Gmail answers for {ADDRESS}" in finding.message and "GMAIL_SENDER" in finding.fix
    assert report.ok


# --- rows -----------------------------------------------------------------------------------------
def _rows_sheet(doctor_world: World) -> str:
    now = datetime.now(UTC)
    rows = grid(
        FULL_HEADER,
        {"hub_id": "h_old", "outreach_status": "sending", "updated_at": iso(now - timedelta(hours=3))},
        {"hub_id": "h_blank", "outreach_status": "sending"},
        {"hub_id": "h_new", "outreach_status": "sending", "updated_at": iso(now)},
        {"hub_id": "h_a1", "outreach_status": "drafted", "hold_reason": "REVIEW:approval"},
        {"hub_id": "h_a2", "outreach_status": "drafted", "hold_reason": "REVIEW:approval"},
        {"hub_id": "h_cap", "outreach_status": "drafted",
         "hold_reason": "HELD:daily_cap until 2030-01-01T09:00Z"},
        {"hub_id": "h_f", "outreach_status": "failed", "last_error": "enrich: site timed out"},
    )  # fmt: skip
    return doctor_world.new_sheet(rows)


def test_rows_stuck_in_sending_are_named_with_holds_counted_per_reason(doctor_world, tmp_path):
    settings = doctor_world.settings(sheet_id=_rows_sheet(doctor_world), data_dir=tmp_path / "data")

    report = run_checks(settings)

    [stuck] = only(report, "rows", "error")
    assert "2 row(s) stuck in sending for 3 h" in stuck.message
    assert "h_old" in stuck.message and "h_blank" in stuck.message and "h_new" not in stuck.message
    assert "hub run send" in stuck.fix and "Sent mailbox" in stuck.fix
    warnings = {f.message: f.fix for f in only(report, "rows", "warn")}
    assert warnings["2 row(s) on hold: REVIEW:approval (waiting for a person)"] == (
        "tick `approved` on the rows you want sent"
    )
    assert "1 row(s) failed; most often (1): enrich: site timed out" in warnings
    held = [f for f in only(report, "rows", "ok") if "HELD:daily_cap" in f.message]
    assert [f.message for f in held] == ["1 row(s) on hold: HELD:daily_cap"]
    assert "sending 3" in report.in_area("rows")[0].message


def test_sending_rows_are_not_stuck_while_a_send_job_holds_its_lease(doctor_world, tmp_path):
    settings = doctor_world.settings(sheet_id=_rows_sheet(doctor_world), data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    state = State.from_settings(settings)
    try:
        job_id = state.insert_job("send")
        assert state.claim_job(job_id, "elsewhere:1", 600, owner_dead=lambda owner: False)
    finally:
        state.close()

    report = run_checks(settings)

    assert only(report, "rows", "error") == []
    assert any(job_id in f.message for f in only(report, "rows", "ok"))


# --- bounded time -----------------------------------------------------------------------------------
@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_providers_that_never_answer_cost_a_timeout_not_a_hang(doctor_world):
    with silent_server() as url:
        silent = doctor_world.settings(
            hunter_api_url=url + "/v2",
            gemini_api_url=url,
            gmail_api_url=url + "/",
            public_url=url,
        )
        report = run_checks(silent, timeout=0.3, deadline=10)

    failed = {f.message.split()[0]: f for f in only(report, "providers", "error")}
    assert set(failed) == {"Hunter", "Gemini", "Gmail"}
    assert "did not answer" in failed["Hunter"].message
    assert "HUB_HUNTER_API_URL" in failed["Hunter"].fix
    assert "did not answer" in failed["Gemini"].message
    assert "did not answer" in failed["Gmail"].message
    assert "HUB_GMAIL_API_URL" in failed["Gmail"].fix
    [public] = only(report, "public_url", "error")
    assert "ReadTimeout" in public.message
    # DataForSEO still answered: one silent provider does not take the others down.
    assert any("DataForSEO answers" in f.message for f in only(report, "providers", "ok"))
