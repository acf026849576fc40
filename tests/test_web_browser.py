"""The status page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against a hub on its embedded defaults served on a free port.

One journey: a wrong key is refused, the right key signs in, the funnel matches the store, a
real ``score`` job over local rows advances live on the page (server-sent events) and finishes,
a refused webhook shows with its reason, a row opens from a funnel link, and the page fits a
phone's width. ``HUB_UPDATE_SCREENSHOT=1`` saves ``docs/status-page.png`` for the README.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest

from hub.app import build_services, create_app
from hub.rows.filter import normal_status
from sheets.local import LocalStore
from tests.emulators.serve import serve_in_thread, wait_until
from webhooks.tokens import make_action_token

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The README's picture is refreshed only on request (HUB_UPDATE_SCREENSHOT=1 make test), so an
# ordinary test run leaves the work tree clean; otherwise the shot goes to pytest's tmp dir.
README_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "status-page.png"
KEY = "browser-test-key"
SCORE_ROWS, CHUNK_ROWS = 36, 3  # 12 chunks: progress has room to be seen half-way

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


class GatedStore(LocalStore):
    """The local store, with each batched write held until the test allows it, then taking
    ``pace`` seconds (standing in for a Sheets write's latency), so the test decides how far a
    job may go and the runner's ~4-a-second progress writes have something to show."""

    pace = 0.1

    def __init__(self, path: Path):
        super().__init__(path)
        self.allowed = 0
        self.calls = 0
        self._cond = threading.Condition()

    def allow(self, writes: int) -> None:
        with self._cond:
            self.allowed = writes
            self._cond.notify_all()

    def update(self, changes):
        with self._cond:
            self.calls += 1
            mine = self.calls
            if not self._cond.wait_for(lambda: mine <= self.allowed, timeout=60):
                raise TimeoutError("the test never allowed this write")
        time.sleep(self.pace)  # in the store's worker thread: the write's latency
        return super().update(changes)


def seed(store: LocalStore) -> None:
    def rows(n: int, status: str, **cells: str) -> list[dict[str, str]]:
        return [
            {"domain": f"{status}-{len(cells)}-{i}.example", "outreach_status": status, **cells}
            for i in range(n)
        ]

    store.append(
        [
            *rows(SCORE_ROWS, "enriched", contact_email="editor@enriched.example"),
            *rows(14, "pending"),
            *rows(5, "no_email"),
            *rows(6, "drafted", hold_reason="HELD:daily_cap until 2030-01-01T09:00Z"),
            *rows(2, "drafted", hold_reason="REVIEW:blank_field name", contact_name=""),
            *rows(9, "sent", message_id="<m@hub>", last_sent="2026-01-05T10:00:00Z"),
            *rows(1, "bounced", message_id="<b@hub>"),
            *rows(2, "skip"),
            *rows(1, "failed", last_error="Gmail answered 500"),
        ]
    )
    store.append(
        [
            {
                "domain": "gallery-replied.example",
                "page_title": "<script>alert('gallery')</script>",
                "contact_email": "curator@gallery-replied.example",
                "outreach_status": "replied",
                "message_id": "<r@hub>",
                "draft_subject": "Limited prints for your readers",
                "draft_body": "Dear curator,\nA short note about our prints.",
                "replied_at": "2026-01-07T09:30:00Z",
                "reply_snippet": "Thank you! Please send the catalogue.",
            }
        ]
    )


@pytest.fixture
def served_hub(settings, data_dir):
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    settings.sheets_chunk_rows = CHUNK_ROWS
    store = GatedStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    seed(store)
    services = build_services(settings, store=store)
    app = create_app(settings, services=services)
    with serve_in_thread(app) as server:
        server.store = store
        server.state = services.state
        yield server
    store.allow(10**9)
    services.close()


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def funnel_counts(page) -> dict[str, int]:
    cells = page.locator("#funnel tr[data-status]")
    return {
        cells.nth(i).get_attribute("data-status"): int(cells.nth(i).locator(".count").inner_text())
        for i in range(cells.count())
    }


def store_counts(store: LocalStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in store.rows():
        status = normal_status(row.get("outreach_status", ""))
        counts[status] = counts.get(status, 0) + 1
    return counts


def progress_of(page) -> tuple[int, int]:
    text = page.locator("#jobs-active .progress-text").first.inner_text()
    done, total = text.split(" (")[0].split(" / ")
    return int(done), int(total)


def test_status_page_journey_in_chromium(served_hub, page, tmp_path):
    expect = sync_api.expect
    # --- sign in (a wrong key first) ---
    page.goto(served_hub.url + "/")
    page.fill("#key", "not-the-key")
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("not one of the hub")
    page.fill("#key", KEY)
    page.click("button[type=submit]")
    expect(page.locator("#funnel")).to_be_visible()

    # --- the funnel matches the store ---
    shown = funnel_counts(page)
    for status, count in store_counts(served_hub.store).items():
        assert shown[status] == count, status
    assert shown["HELD:daily_cap"] == 6 and shown["REVIEW:blank_field"] == 2
    expect(page.locator(".reply-rate")).to_contain_text("1 of 11 contacted rows")

    # --- a refused webhook is listed with its reason ---
    bad = make_action_token("enrich", ["a key this hub never had"])
    refused = httpx.post(f"{served_hub.url}/webhooks/make/{bad}", json={}, timeout=10)
    assert refused.status_code in (401, 403)
    reason = refused.json()["error"]["message"]
    page.reload()
    line = page.locator("#inbound tr.refused").first
    expect(line.locator(".verdict")).to_contain_text("refused")
    expect(line.locator(".reason")).to_contain_text(reason)
    assert bad not in page.content()

    # --- a real score job advances live, then finishes ---
    api = {"authorization": f"Bearer {KEY}"}
    job_id = httpx.post(served_hub.url + "/api/jobs/score", headers=api, timeout=10).json()[
        "job_id"
    ]
    row = page.locator(f'#jobs-active tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("running")
    expect(row.locator(".progress-text")).to_contain_text(f"0 / {SCORE_ROWS}")
    expect(row.locator("button.danger")).to_have_text("Cancel")
    served_hub.store.allow(6)  # half the chunks may go; the job then waits at the seventh write
    # Poll through page.evaluate (CDP): the page's CSP forbids the eval that
    # wait_for_function uses once its first check comes back false.
    wait_until(
        lambda: page.evaluate(
            """() => {
                const t = document.querySelector('#jobs-active .progress-text');
                if (!t) return false;
                const [done, total] = t.textContent.split(' (')[0].split(' / ').map(Number);
                return done > 0 && done < total;
            }"""
        ),
        timeout=30,
        what="live progress half-way",
    )
    done, total = progress_of(page)
    assert 0 < done <= 6 * CHUNK_ROWS and total == SCORE_ROWS
    assert served_hub.state.get_job(job_id)["status"] == "running"  # the page was not guessing
    shot = README_SCREENSHOT if os.environ.get("HUB_UPDATE_SCREENSHOT") else tmp_path / "page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")
    score_writes = SCORE_ROWS // CHUNK_ROWS
    served_hub.store.allow(score_writes)  # the score job may finish; its chained draft job may not
    finished = page.locator(f'#jobs-recent tr[data-job-id="{job_id}"]')
    expect(finished.locator(".status")).to_have_text("completed")
    expect(finished.locator(".outcome")).to_contain_text(f"scored: {SCORE_ROWS}")

    # --- the chained draft job, held at its first write, is cancelled from the page ---
    draft = page.locator("#jobs-active tr", has_text="draft")
    expect(draft.locator(".status")).to_contain_text("running")
    draft_id = draft.get_attribute("data-job-id")
    draft.locator("button.danger").click()  # a real form POST with the session's CSRF token
    expect(page.locator("[role=status]")).to_contain_text(f"job {draft_id}")
    assert served_hub.state.get_job(draft_id)["cancel_requested"]
    served_hub.store.allow(10**9)
    cancelled = page.locator(f'#jobs-recent tr[data-job-id="{draft_id}"]')
    expect(cancelled.locator(".status")).to_have_text("cancelled")

    # --- after the chained jobs settle, the funnel still matches the store ---
    wait_until(
        lambda: (
            not served_hub.state.list_jobs(status="running")
            and not served_hub.state.list_jobs(status="pending")
        ),
        timeout=30,
        what="chained jobs to finish",
    )
    page.reload()
    shown = funnel_counts(page)
    for status, count in store_counts(served_hub.store).items():
        assert shown[status] == count, status

    # --- open a row from a funnel link ---
    page.click('#funnel tr[data-status="replied"] a')
    expect(page.locator("#rows-summary")).to_contain_text("Rows 1–1 of 1")
    expect(page.locator("#rows-table .title")).to_have_text("<script>alert('gallery')</script>")
    page.click("#rows-table a")
    expect(page.locator("#draft .subject")).to_have_text("Limited prints for your readers")
    expect(page.locator("#history .reply")).to_have_text("Thank you! Please send the catalogue.")
    expect(page.locator("#row .status")).to_have_text("replied")

    # --- readable on a phone: nothing wider than the screen ---
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(served_hub.url + "/")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
