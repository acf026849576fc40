"""Status-page sections fed by the real hub parts: webhooks refused and accepted by the real
routes, outbound events with retries, the send ledger behind the limits, the Google store's
limiters behind the Sheets figure, and the server-sent job stream."""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from hub.app import create_app
from hub.config.pacing import DAY_NAMES
from hub.sending.ledger import Ledger
from hub.state.sqlite import State
from hub.web.jobs_view import job_stream
from hub.web.limits import sheets_usage
from sheets.ratelimit import SlidingWindowLimiter
from webhooks.tokens import make_action_token

KEY = "sections-key"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def app(settings):
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    return create_app(settings)


@pytest.fixture
def signed_in(app):
    with TestClient(app, follow_redirects=False) as signed_in:
        token = CSRF.search(signed_in.get("/").text).group(1)
        assert signed_in.post("/signin", data={"key": KEY, "csrf": token}).status_code == 303
        yield signed_in


def section(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*id="{element_id}".*?</\1>', html, re.S)
    assert found, f"no element #{element_id}"
    return found.group(0)


# --- deliveries ---------------------------------------------------------------------------------
def test_a_refused_webhook_is_listed_with_its_reason_and_no_secret(signed_in, app):
    foreign_token = make_action_token("enrich", ["a key this hub does not have"])
    refused = signed_in.post(f"/webhooks/make/{foreign_token}", json={"max_prospects": 1})
    assert refused.status_code in (401, 403)
    good_token = make_action_token("score", app.state.secret_keys)
    accepted = signed_in.post(f"/webhooks/make/{good_token}", json={})
    assert accepted.status_code == 202
    inbound = section(signed_in.get("/").text, "inbound")
    rows = re.findall(r'<tr class="(\w+)">(.*?)</tr>', inbound, re.S)
    verdicts = [verdict for verdict, _ in rows]
    assert verdicts[:2] == ["accepted", "refused"]  # newest first
    refused_row = rows[1][1]
    reason = refused.json()["error"]["message"]
    assert reason and reason in html.unescape(refused_row)
    assert str(refused.status_code) in refused_row and "make" in refused_row
    assert accepted.json()["job_id"] in rows[0][1]
    page = signed_in.get("/").text
    assert foreign_token not in page and good_token not in page
    assert all(key not in page for key in app.state.secret_keys)


def test_outbound_events_show_attempts_next_try_and_last_status(signed_in, app):
    state = app.state.services.state
    state.deliver_events = True  # as with HUB_EVENTS_URL set: queued for delivery
    retried = state.add_event("prospect.replied", {"hub_id": "h_1"})
    state.record_attempt(
        retried,
        status_code=503,
        error="HTTP 503",
        duration_ms=12,
        outcome="retry",
        next_attempt_at=time.time() + 600,
    )
    dead = state.add_event("job.completed", {"job_id": "j"})
    state.record_attempt(
        dead, status_code=None, error="ConnectTimeout", duration_ms=5000, outcome="dead"
    )
    outbound = section(signed_in.get("/").text, "outbound")
    rows = dict(re.findall(r'<tr class="(\w+)">(.*?)</tr>', outbound, re.S))
    assert "prospect.replied" in rows["pending"] and "HTTP 503" in rows["pending"]
    assert re.search(r'<td class="num">1</td>', rows["pending"])
    assert re.search(r'<td class="when">\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ</td>', rows["pending"])
    assert "ConnectTimeout" in rows["dead"] and "job.completed" in rows["dead"]


def test_the_delivery_list_shows_the_last_200(signed_in, app):
    state = app.state.services.state
    for n in range(230):
        state.record_delivery(
            at="2026-01-01T00:00:00+00:00",
            route="make",
            action="enrich",
            verdict="refused",
            status=401,
            reason=f"reason number {n}",
        )
    inbound = section(signed_in.get("/").text, "inbound")
    assert inbound.count("<tr class=") == 200
    assert "reason number 229" in inbound and "reason number 29<" not in inbound


# --- limits and providers -----------------------------------------------------------------------
def record_sends(settings, count: int, *, at: float) -> None:
    ledger = Ledger.from_settings(settings)
    try:
        for n in range(count):
            intent = ledger.plan(
                hub_id=f"h_{n}",
                step=0,
                message_id=f"<{n}@hub>",
                recipient=f"a{n}@site{n}.example",
                subject="hello",
                owner="test:1",
                now=at,
            )
            ledger.record_sent(intent, provider_id=f"p{n}", thread_id="", now=at)
    finally:
        ledger.close()


def test_limits_come_from_the_ledger_and_settings(signed_in, settings):
    record_sends(settings, 3, at=time.time() - 3600)
    limits = section(signed_in.get("/").text, "limits")
    assert "3 of 50 (HUB_DAILY_CAP" in limits
    assert "always open · open now" in limits
    assert "local store, no quota" in limits
    assert "HUNTER_API_KEY" in limits  # not configured: the site crawler enriches
    providers = dict(re.findall(r"<td>(\w+)</td><td>[^<]*</td><td>([^<]+)</td>", limits))
    assert providers["store"] == "embedded default"
    assert providers["sending"] == "embedded default"
    assert providers["drafting"] == "embedded default"


def test_a_reached_cap_and_a_closed_window_say_until_when(signed_in, settings):
    settings.daily_cap = 2
    tomorrow = DAY_NAMES[(datetime.now(UTC).weekday() + 1) % 7]
    settings.send_window = f"{tomorrow} 03:00-03:01 UTC"  # certainly closed now
    record_sends(settings, 2, at=time.time() - 60)
    limits = section(signed_in.get("/").text, "limits")
    assert "2 of 2" in limits and "cap reached: sending resumes" in limits
    assert re.search(r"closed: opens \d{4}-\d\d-\d\dT03:00Z", limits)


def test_a_bad_send_window_setting_is_explained_not_a_crash(signed_in, settings):
    settings.send_window = "whenever you like"
    page = signed_in.get("/")
    assert page.status_code == 200
    assert "HUB_SEND_WINDOW=" in section(page.text, "limits")


def test_sheets_usage_reads_the_google_stores_own_limiters(settings):
    now = [1000.0]
    reads = SlidingWindowLimiter(60, clock=lambda: now[0], sleep=lambda s: None)
    writes = SlidingWindowLimiter(60, clock=lambda: now[0], sleep=lambda s: None)
    for _ in range(7):
        reads.acquire()
    now[0] += 30
    for _ in range(2):
        reads.acquire()
        writes.acquire()
    # the Google store's shape (sheets.google.GoogleSheetStore._http with its two limiters)
    store = SimpleNamespace(
        backend_name="google", _http=SimpleNamespace(read_limiter=reads, write_limiter=writes)
    )
    assert sheets_usage(store, settings).startswith("9 reads of 60 and 2 writes of 60")
    now[0] += 45  # the first seven reads are now more than a minute old
    assert sheets_usage(store, settings).startswith("2 reads of 60 and 2 writes of 60")
    assert sheets_usage(SimpleNamespace(backend_name="google"), settings) == "not tracked"


# --- the job stream -----------------------------------------------------------------------------
async def test_the_job_stream_sends_a_snapshot_whenever_progress_changes(data_dir):
    state = State(data_dir / "state.sqlite3")
    try:
        job_id = state.insert_job("enrich", {})
        stream = job_stream(state, poll=0.01, lifetime=30)
        assert (await anext(stream)).startswith("retry: ")
        first = await anext(stream)
        assert first.startswith("event: jobs\ndata: ") and first.endswith("\n\n")
        snapshot = json.loads(first.split("data: ", 1)[1])
        assert [j["id"] for j in snapshot["active"]] == [job_id]
        state.set_progress(job_id, 4, 10)
        update = json.loads((await asyncio.wait_for(anext(stream), 5)).split("data: ", 1)[1])
        assert update["active"][0]["processed"] == 4 and update["active"][0]["percent"] == 40.0
        state.finish(job_id, "completed", result={"enriched": 10})
        done = json.loads((await asyncio.wait_for(anext(stream), 5)).split("data: ", 1)[1])
        assert done["active"] == [] and done["recent"][0]["summary"] == "enriched: 10"
        await stream.aclose()
    finally:
        state.close()


async def test_the_job_stream_ends_after_its_lifetime_so_shutdown_is_not_held(data_dir):
    state = State(data_dir / "state.sqlite3")
    try:
        ticks = iter(range(1000))
        messages = [
            m async for m in job_stream(state, poll=0, lifetime=5, clock=lambda: next(ticks))
        ]
        assert messages[0].startswith("retry: ") and len(messages) == 2  # retry + one snapshot
    finally:
        state.close()


# --- a Google Sheet store (real gspread against the Sheets emulator) -----------------------------
def test_on_a_google_sheet_the_page_counts_requests_and_spares_the_quota(data_dir):
    from tests.store_contract import google_sheet_env

    with google_sheet_env(data_dir) as env:
        settings = env.settings(api_keys=[KEY], tick_minutes=0)
        with TestClient(create_app(settings), follow_redirects=False) as signed_in:
            env.store().append([{"domain": f"g{i}.example"} for i in range(5)])
            token = CSRF.search(signed_in.get("/").text).group(1)
            signed_in.post("/signin", data={"key": KEY, "csrf": token})
            first = signed_in.get("/").text
            reads = env.sheets.count("read")
            assert '<strong class="total">5</strong>' in first
            limits = section(first, "limits")
            assert re.search(r"\d+ reads of 60 and \d+ writes of 60 in the last minute", limits)
            providers = dict(re.findall(r"<td>(\w+)</td><td>[^<]*</td><td>([^<]+)</td>", limits))
            assert providers["store"] == "real"
            # a refresh, the rows page and a row's page reuse the snapshot: no new Sheets read
            signed_in.get("/")
            rows = signed_in.get("/rows").text
            hub_id = re.search(r'href="/rows/(h_\w+)"', rows).group(1)
            assert signed_in.get(f"/rows/{hub_id}").status_code == 200
            assert env.sheets.count("read") == reads


def test_the_snapshot_is_read_again_once_it_is_older_than_its_backends_reuse(settings):
    from hub.web.rows import RowsSnapshot

    class CountingStore:  # a boundary stand-in: only what RowsSnapshot calls
        backend_name = "google"

        def __init__(self):
            self.reads = 0

        def header(self):
            return ["hub_id", "domain"]

        def rows(self):
            self.reads += 1
            return [{"hub_id": "h_1", "domain": f"read{self.reads}.example"}]

    now = [0.0]
    store = CountingStore()
    snapshot = RowsSnapshot(store, clock=lambda: now[0])

    async def run():
        assert (await snapshot.rows())[0]["domain"] == "read1.example"
        now[0] += snapshot.ttl - 1
        row, header = await snapshot.row("h_1")
        assert row["domain"] == "read1.example" and header == ["hub_id", "domain"]
        now[0] += 1
        assert (await snapshot.rows())[0]["domain"] == "read2.example"

    asyncio.run(run())
    assert store.reads == 2
