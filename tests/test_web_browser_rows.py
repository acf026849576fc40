"""Acting on rows in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against
a hub on its embedded defaults (local store, outbox mailer) served on a free port.

One journey: sign in, open a row, read the preview of its e-mail, approve it with the row
page's form, see it go out at the next send job; then on ``/rows`` approve a ticked row, and
approve every drafted row matching the filter after the confirmation page.
"""

from __future__ import annotations

import httpx
import pytest

from hub.app import build_services, create_app
from tests.emulators.serve import serve_in_thread, wait_until
from tests.helpers_send_crash import add_rows
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS

KEY = "browser-rows-key"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def served_hub(settings):
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    settings.sender_address = "Studio 4, 1 Canal Street, Manchester M1 3HE, UK"
    services = build_services(settings)
    services.store.ensure_schema()
    app = create_app(settings, services=services)
    with serve_in_thread(app) as server:
        server.services = services
        yield server
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


def send_job(served_hub) -> dict:
    api = {"authorization": f"Bearer {KEY}"}
    job_id = httpx.post(served_hub.url + "/api/jobs/send", headers=api, timeout=10).json()["job_id"]

    def finished():
        status = httpx.get(
            f"{served_hub.url}/api/jobs/{job_id}/status", headers=api, timeout=10
        ).json()
        return status if status["status"] in ("completed", "failed", "cancelled") else None

    status = wait_until(finished, what="send job")
    assert status["status"] == "completed", status
    return status


def outbox(served_hub) -> list[str]:
    return sorted(p.name for p in served_hub.services.settings.outbox_dir.glob("*.eml"))


def test_approve_on_the_row_page_then_in_bulk_on_rows(served_hub, page):
    expect = sync_api.expect
    store = served_hub.services.store
    ids = add_rows(store, 4, approved="")
    store.append([{"domain": "pending.example"}])

    page.goto(served_hub.url + "/")
    page.fill("#key", KEY)
    page.click("button[type=submit]")
    expect(page.locator("#funnel")).to_be_visible()

    # --- the row page: preview, then approve ---
    page.goto(f"{served_hub.url}/rows/{ids[0]}")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("List-Unsubscribe=One-Click")
    expect(preview).to_contain_text("editor0@gallery0.example")
    expect(page.locator("#preview-body")).to_contain_text("I loved the show.")
    expect(page.locator("#preview-body")).to_contain_text("Unsubscribe: http")
    expect(page.locator("#approved-state")).to_have_text("no")
    page.click("#approve-form button")
    expect(page.locator("#flash")).to_contain_text("approved (empty) → 'TRUE'")
    expect(page.locator("#approved-state")).to_have_text("yes")
    expect(page.locator("#changes")).to_contain_text("status page")
    assert store.get(ids[0])["approved"] == "TRUE"

    send_job(served_hub)
    assert outbox(served_hub) == [f"{ids[0]}-0.eml"]

    # --- /rows: approve the ticked row ---
    page.goto(served_hub.url + "/rows?status=drafted")
    page.check(f'input[name=hub_id][value="{ids[1]}"]')
    page.click("#approve-selected-button")
    expect(page.locator("#flash")).to_contain_text("Approved 1 of 1 rows.")
    assert store.get(ids[1])["approved"] == "TRUE"
    assert store.get(ids[2]).get("approved", "") == ""

    # --- approve all drafted rows matching the filter, after confirming ---
    expect(page.locator("#approve-all-button")).to_contain_text("Approve all 4 drafted rows")
    page.click("#approve-all-button")
    expect(page.locator("#confirm h2")).to_have_text("Approve 4 drafted rows?")
    assert store.get(ids[2]).get("approved", "") == ""  # nothing before the confirmation
    page.click("#confirm-approve")
    expect(page.locator("#flash")).to_contain_text("Approved 2 of 4 rows; 2 already approved.")
    assert [store.get(h)["approved"] for h in ids] == ["TRUE"] * 4
    pending = next(r for r in store.rows() if r["domain"] == "pending.example")
    assert pending.get("approved", "") == ""

    send_job(served_hub)
    assert outbox(served_hub) == sorted(f"{h}-0.eml" for h in ids)
