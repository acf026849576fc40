"""The per-row error boundary: one row that raises is held with its reason, the job goes on;
after HUB_ROW_MAX_ATTEMPTS it waits for a person; stage-wide failures still fail the job."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hub.app import build_services, create_app
from hub.cli import app as cli_app
from hub.cli.common import console as cli_console
from hub.jobs.runner import JobRunner
from hub.stages.row_errors import RowGuard, fingerprint
from sheets.local import LocalStore
from sheets.store import StoreError
from tests.store_contract import (
    GoogleHarness,
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

# Hunter's answer for one domain: a first_name that is a number, not text. The real pick code
# joins names as text, so this row raises TypeError deep in enrichment.
ODD_ANSWER = [{"value": "ada@odd.test", "type": "personal", "confidence": 97, "first_name": 7}]


@pytest.fixture
def rows_by_name(data_dir):
    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    added = store.append([{"domain": d} for d in ("fine1.test", "odd.test", "fine2.test")]).added
    store.close()
    return dict(zip(("fine1", "odd", "fine2"), added, strict=True))


async def _enrich(settings) -> dict:
    services = build_services(settings)
    try:
        return await JobRunner(services, poll_interval=0.01).run_inline("enrich", {})
    finally:
        await services.enricher.aclose()
        services.close()


def _row(settings, hub_id: str) -> dict[str, str]:
    store = LocalStore(settings.data_dir / "prospects.sqlite3")
    try:
        return store.get(hub_id) or {}
    finally:
        store.close()


def _edit(settings, hub_id: str, column: str, value: str) -> None:
    store = LocalStore(settings.data_dir / "prospects.sqlite3")
    store.human_edit(hub_id, column, value)
    store.close()


async def test_a_row_that_raises_is_held_and_the_job_goes_on(
    data_dir, hunter_world, rows_by_name, caplog
):
    hunter_world.hunter.set_emails("odd.test", ODD_ANSWER)
    settings = hunter_world.settings(data_dir)
    with caplog.at_level(logging.ERROR, logger="hub.stages.row_errors"):
        job = await _enrich(settings)
    assert job["status"] == "completed", job["error"]
    assert job["result"]["errors"] == 1 and job["result"]["enriched"] == 2
    odd = _row(settings, rows_by_name["odd"])
    assert odd["outreach_status"] == "pending"
    assert re.fullmatch(
        r"ERROR:enrich TypeError \(try 1 of 3; row [0-9a-f]{8}\)", odd["hold_reason"]
    )
    assert odd["last_error"].startswith("TypeError: sequence item 0: expected str instance")
    for name in ("fine1", "fine2"):
        assert _row(settings, rows_by_name[name])["outreach_status"] == "enriched"
    logged = caplog.text
    assert rows_by_name["odd"] in logged and "Traceback" in logged and "pick_best" in logged


async def test_after_three_failures_the_row_waits_until_a_person_changes_it(
    data_dir, hunter_world, rows_by_name
):
    hunter_world.hunter.set_emails("odd.test", ODD_ANSWER)
    settings = hunter_world.settings(data_dir)
    for _ in range(3):
        job = await _enrich(settings)
        assert job["status"] == "completed" and job["result"]["errors"] == 1
    odd = _row(settings, rows_by_name["odd"])
    assert "(try 3 of 3: not tried again until a person changes it; row" in odd["hold_reason"]

    asked = hunter_world.hunter.searched.count("odd.test")
    job = await _enrich(settings)  # a fourth run leaves it alone: Hunter is not asked
    assert job["status"] == "completed" and "errors" not in job["result"]
    assert hunter_world.hunter.searched.count("odd.test") == asked
    assert _row(settings, rows_by_name["odd"])["hold_reason"] == odd["hold_reason"]

    _edit(settings, rows_by_name["odd"], "notes", "checked their site by hand")  # a person's change
    await _enrich(settings)
    assert hunter_world.hunter.searched.count("odd.test") == asked + 1
    assert "(try 1 of 3; row" in _row(settings, rows_by_name["odd"])["hold_reason"]

    hunter_world.hunter.set_emails("odd.test", [{**ODD_ANSWER[0], "first_name": "Ada"}])
    _edit(settings, rows_by_name["odd"], "hold_reason", "")  # or they clear the hold
    job = await _enrich(settings)
    fixed = _row(settings, rows_by_name["odd"])
    assert fixed["outreach_status"] == "enriched" and fixed.get("hold_reason", "") == ""
    assert fixed["contact_name"] == "Ada" and "errors" not in job["result"]


async def test_a_store_failure_still_fails_the_whole_job():
    guard = RowGuard("score", max_attempts=3)

    async def unreachable():
        raise StoreError("Google Sheets answered 503 five times")

    with pytest.raises(StoreError):
        await guard.run({"hub_id": "h_1"}, unreachable)
    assert guard.errors == 0


async def test_refused_hunter_credentials_still_fail_the_job(data_dir, hunter_world, rows_by_name):
    settings = hunter_world.settings(data_dir, hunter_api_key="not-the-key")
    job = await _enrich(settings)
    assert job["status"] == "failed" and "HUNTER_API_KEY" in job["error"]
    assert all(_row(settings, h)["outreach_status"] == "pending" for h in rows_by_name.values())


def test_last_error_and_log_never_carry_secrets(hunter_world, data_dir, caplog):
    settings = hunter_world.settings(data_dir, hunter_api_key="sekret-hunter-0123")
    guard = RowGuard.for_settings("enrich", settings)
    leak = RuntimeError(
        "GET https://api.hunter.io/v2/domain-search?domain=x.test&api_key=sekret-hunter-0123 "
        "failed; Authorization: Bearer ya29.tokentokentoken"
    )
    with caplog.at_level(logging.ERROR, logger="hub.stages.row_errors"):
        changes = guard.failed({"hub_id": "h_leak", "domain": "x.test"}, leak)
    for text in (changes["last_error"], changes["hold_reason"], caplog.text):
        assert "sekret" not in text and "ya29" not in text
    assert "api_key=**********" in changes["last_error"] and "h_leak" in caplog.text


def test_the_fingerprint_ignores_the_hubs_bookkeeping_only():
    row = {"hub_id": "h_1", "domain": "a.test", "notes": "x"}
    same = {**row, "hold_reason": "ERROR:enrich X", "last_error": "boom", "updated_at": "now"}
    assert fingerprint(row) == fingerprint(same)
    assert fingerprint(row) != fingerprint({**row, "notes": "y"})
    assert fingerprint(row) != fingerprint({**row, "approved": "TRUE"})


async def test_rows_in_trouble_are_listed_by_the_cli_and_the_status_page(
    data_dir, hunter_world, rows_by_name, monkeypatch
):
    hunter_world.hunter.set_emails("odd.test", ODD_ANSWER)
    settings = hunter_world.settings(data_dir, api_keys=["trouble-key-0123456789"])
    await _enrich(settings)
    _edit(settings, rows_by_name["fine1"], "contact_email", "[red]x@y")
    _edit(
        settings, rows_by_name["fine1"], "hold_reason", "REVIEW:bad_email contact_email: '[red]x@y'"
    )
    _edit(settings, rows_by_name["fine1"], "last_error", "contact_email: not one e-mail address")

    monkeypatch.setattr(cli_console, "width", 300)  # one line per row: the text is whole
    result = CliRunner().invoke(
        cli_app,
        ["sheet", "status"],
        env={"HUB_DATA_DIR": str(data_dir)},
        catch_exceptions=False,
    )
    out = " ".join(result.output.split())
    assert result.exit_code == 0 and "2 rows in trouble" in out
    assert rows_by_name["odd"] in out and "TypeError: sequence item 0" in out
    assert "'[red]x@y'" in out  # shown as typed, not read as markup

    settings.tick_minutes = 0
    with TestClient(create_app(settings), follow_redirects=False) as client:
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)
        client.post("/signin", data={"key": "trouble-key-0123456789", "csrf": csrf})
        page = client.get("/").text
    section = page[page.index('id="trouble"') :]
    assert "Rows in trouble (2)" in section
    assert f'href="/rows/{rows_by_name["odd"]}"' in section and "ERROR:enrich TypeError" in section
    assert "REVIEW:bad_email contact_email: &#39;[red]x@y&#39;" in section


async def test_an_unreachable_sheet_fails_the_job_and_holds_no_row(
    data_dir,
    hunter_world,
    emulator_servers,  # noqa: F811
):
    grid = [["domain", "contact_email", "outreach_status"]] + [
        [f"s{i}.test", f"editor@s{i}.test", "enriched"] for i in range(3)
    ]
    with google_sheet_env(data_dir, grid, servers=emulator_servers) as env:
        store = GoogleHarness(env).store
        store.ensure_schema()
        env.sheets.fail_next(503, match="write", times=50)  # every write, through the retries
        services = build_services(env.settings(**hunter_world.values(data_dir)), store=store)
        try:
            job = await JobRunner(services, poll_interval=0.01).run_inline("score", {})
        finally:
            services.close()
        assert job["status"] == "failed" and "503" in job["error"]
        after = store.rows()
    assert len(after) == 3
    assert all(not row.get("hold_reason") and not row.get("score") for row in after)


def test_a_row_that_succeeds_again_loses_only_its_own_stages_error_hold():
    guard = RowGuard("score")
    assert guard.recovered(
        {"hold_reason": "ERROR:score ValueError (try 1 of 3; row 0a1b2c3d)"}
    ) == {
        "hold_reason": "",
        "last_error": "",
    }
    assert guard.recovered({"hold_reason": "ERROR:scoreboard X"}) == {}
    assert guard.recovered({"hold_reason": "REVIEW:bad_email contact_email: x"}) == {}
