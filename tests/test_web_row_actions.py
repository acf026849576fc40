"""The status page's row forms over TestClient: CSRF, flash messages, the preview, bulk approve,
and the row approved on its page then sent by the next send job (outbox: the make-run default).
"""

from __future__ import annotations

import html as html_lib
import re
from email import policy
from email.parser import BytesParser

import pytest
from starlette.testclient import TestClient

from hub.app import create_app
from hub.rows.history import RowHistory
from hub.stages.send import run_send
from tests.helpers_send_crash import add_rows, real_send_settings

KEY = "row-actions-key-0123456789"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
UPDATED_AT = re.compile(r'name="updated_at" value="([^"]*)"')


@pytest.fixture
def app(settings):
    settings.api_keys = [KEY]
    settings.tick_minutes = 0
    for name, value in real_send_settings().items():
        setattr(settings, name, value)
    return create_app(settings)


@pytest.fixture
def signed_in(app):
    # HUB_PUBLIC_URL is https, so the session cookie is Secure: talk https to the app.
    with TestClient(app, follow_redirects=False, base_url="https://testserver") as signed_in:
        csrf = CSRF.search(signed_in.get("/").text).group(1)
        assert signed_in.post("/signin", data={"key": KEY, "csrf": csrf}).status_code == 303
        yield signed_in


@pytest.fixture
def services(app, signed_in):
    return app.state.services


def page_form(signed_in, path):
    html = signed_in.get(path).text
    return CSRF.search(html).group(1), UPDATED_AT.search(html).group(1), html


def test_approve_form_without_csrf_is_403_and_with_it_the_row_is_approved_then_sent(
    signed_in, services
):
    [hub_id, other] = add_rows(services.store, 2, approved="")
    csrf, updated_at, _ = page_form(signed_in, f"/rows/{hub_id}")

    for token in (None, "not-the-token"):
        data = {"approved": "TRUE", "updated_at": updated_at}
        if token:
            data["csrf"] = token
        refused = signed_in.post(f"/rows/{hub_id}/approve", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert services.store.get(hub_id).get("approved", "") == ""

    done = signed_in.post(
        f"/rows/{hub_id}/approve",
        data={"approved": "TRUE", "csrf": csrf, "updated_at": updated_at},
    )
    assert done.status_code == 303 and done.headers["location"] == f"/rows/{hub_id}#actions"
    assert services.store.get(hub_id)["approved"] == "TRUE"
    page = signed_in.get(f"/rows/{hub_id}").text
    assert "approved (empty) → &#39;TRUE&#39;" in page  # the flash, once
    assert "status page" in page and 'id="changes"' in page
    assert "approved (empty)" not in signed_in.get(f"/rows/{hub_id}").text.split('id="history"')[0]

    summary = run_send_now(services)
    assert summary["dry_run"] == 1  # the outbox is the embedded mailer: the message "goes out"
    assert sorted(p.name for p in services.settings.outbox_dir.glob("*.eml")) == [f"{hub_id}-0.eml"]
    assert services.store.get(other)["outreach_status"] == "drafted"  # waits for approval


def run_send_now(services):
    import asyncio

    return asyncio.run(run_send(services))


def test_preview_is_the_message_the_sender_builds(signed_in, services):
    [hub_id] = add_rows(services.store, 1)
    html = signed_in.get(f"/rows/{hub_id}").text
    assert 'id="preview"' in html
    assert "List-Unsubscribe-Post" in html and "List-Unsubscribe=One-Click" in html
    assert services.settings.sender_address in html  # the footer's postal address
    assert "https://hub.artist.example/u/" in html

    run_send_now(services)
    sent = (services.settings.outbox_dir / f"{hub_id}-0.eml").read_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(sent)
    body = re.search(r'<pre class="body" id="preview-body">(.*?)</pre>', html, re.S).group(1)

    # The unsubscribe token is signed with a timestamp, so compare the text around it.
    def same(text: str) -> str:
        return re.sub(r"/u/\S+", "/u/T", html_lib.unescape(text).replace("\r\n", "\n")).strip()

    assert same(body) == same(parsed.get_content())
    shown = html_lib.unescape(html)
    for header in ("From", "To", "Subject", "List-Unsubscribe-Post"):
        assert f"<dt>{header}</dt><dd>{parsed[header]}</dd>" in shown


def test_do_not_contact_and_back_and_edits_with_flash(signed_in, services):
    [hub_id] = add_rows(services.store, 1)
    csrf, updated_at, _ = page_form(signed_in, f"/rows/{hub_id}")
    signed_in.post(
        f"/rows/{hub_id}/status",
        data={"outreach_status": "do_not_contact", "csrf": csrf, "updated_at": updated_at},
    )
    assert services.store.get(hub_id)["outreach_status"] == "do_not_contact"
    assert run_send_now(services).get("rows") == 0

    csrf, updated_at, html = page_form(signed_in, f"/rows/{hub_id}")
    assert "Put back in the pipeline" in html
    signed_in.post(
        f"/rows/{hub_id}/status",
        data={"outreach_status": "resume", "csrf": csrf, "updated_at": updated_at},
    )
    assert services.store.get(hub_id)["outreach_status"] == "drafted"

    csrf, updated_at, _ = page_form(signed_in, f"/rows/{hub_id}")
    bad = signed_in.post(
        f"/rows/{hub_id}/contact",
        data={"contact_email": "not an address", "contact_name": "Ann", "csrf": csrf},
    )
    assert bad.status_code == 303
    page = signed_in.get(f"/rows/{hub_id}").text
    assert 'class="notice bad"' in page and "contact_email" in page
    assert services.store.get(hub_id)["contact_email"] == "editor0@gallery0.example"

    signed_in.post(
        f"/rows/{hub_id}/draft",
        data={
            "draft_subject": "New subject",
            "draft_body": "Line one\r\nLine two",
            "csrf": csrf,
            "updated_at": updated_at,
        },
    )
    row = services.store.get(hub_id)
    assert row["draft_subject"] == "New subject" and row["draft_body"] == "Line one\nLine two"
    changes = RowHistory.from_settings(services.settings).for_row(hub_id)
    assert {c.column for c in changes} >= {"outreach_status", "draft_subject", "draft_body"}
    assert {c.actor for c in changes} == {"status page"}


def test_an_edit_made_after_the_page_was_read_is_not_overwritten(signed_in, services):
    [hub_id] = add_rows(services.store, 1)
    services.store.human_edit(hub_id, "updated_at", "2026-01-01T00:00:00Z")
    csrf, updated_at, _ = page_form(signed_in, f"/rows/{hub_id}")
    services.store.human_edit(hub_id, "draft_subject", "Typed in the sheet")
    services.store.human_edit(hub_id, "updated_at", "2026-01-01T00:05:00Z")
    signed_in.post(
        f"/rows/{hub_id}/draft",
        data={"draft_subject": "Mine", "draft_body": "x", "csrf": csrf, "updated_at": updated_at},
    )
    assert services.store.get(hub_id)["draft_subject"] == "Typed in the sheet"
    assert "was changed at 2026-01-01T00:05:00Z" in signed_in.get(f"/rows/{hub_id}").text


def test_rows_page_approves_selected_and_all_drafted_after_confirmation(signed_in, services):
    ids = add_rows(services.store, 4, approved="")
    pending = services.store.append([{"domain": "pending.example"}]).added[0]
    html = signed_in.get("/rows").text
    csrf = CSRF.search(html).group(1)
    assert "Approve all 4 drafted rows matching this filter" in html

    refused = signed_in.post("/rows/approve", data={"mode": "selected", "hub_id": ids[0]})
    assert refused.status_code == 403
    done = signed_in.post(
        "/rows/approve", data={"mode": "selected", "hub_id": ids[:2], "csrf": csrf}
    )
    assert done.status_code == 303
    assert [services.store.get(h).get("approved", "") for h in ids] == ["TRUE", "TRUE", "", ""]
    assert "Approved 2 of 2 rows." in signed_in.get("/rows").text

    confirm = signed_in.post("/rows/approve", data={"mode": "all", "csrf": csrf})
    assert confirm.status_code == 200 and "Approve 4 drafted rows?" in confirm.text
    assert services.store.get(ids[2]).get("approved", "") == ""  # nothing before confirming
    signed_in.post("/rows/approve", data={"mode": "all", "csrf": csrf, "confirm": "yes"})
    assert all(services.store.get(h)["approved"] == "TRUE" for h in ids)
    assert services.store.get(pending).get("approved", "") == ""
    assert "Approved 2 of 4 rows; 2 already approved." in signed_in.get("/rows").text

    signed_in.post(
        "/rows/approve", data={"mode": "all", "status": "pending", "csrf": csrf, "confirm": "yes"}
    )
    assert "this filter lists pending rows" in signed_in.get("/rows").text
    assert services.store.get(pending).get("approved", "") == ""


def test_approved_on_its_page_the_row_is_really_sent_through_gmail(data_dir, monkeypatch):
    from hub.config import Settings
    from tests.helpers_send_crash import gmail_world, sent_recipients

    monkeypatch.chdir(data_dir.parent)
    with gmail_world() as world:
        settings = Settings(
            _env_file=None, data_dir=data_dir, api_keys=[KEY], tick_minutes=0, **world.settings
        )
        app = create_app(settings)
        with TestClient(app, follow_redirects=False, base_url="https://testserver") as signed_in:
            csrf = CSRF.search(signed_in.get("/").text).group(1)
            signed_in.post("/signin", data={"key": KEY, "csrf": csrf})
            services = app.state.services
            [hub_id, other] = add_rows(services.store, 2, approved="")
            assert run_send_now(services).get("sent") is None  # nothing approved yet
            csrf, updated_at, _ = page_form(signed_in, f"/rows/{hub_id}")
            assert (
                signed_in.post(f"/rows/{hub_id}/approve", data={"approved": "TRUE"}).status_code
                == 403
            )
            signed_in.post(
                f"/rows/{hub_id}/approve",
                data={"approved": "TRUE", "csrf": csrf, "updated_at": updated_at},
            )
            assert run_send_now(services)["sent"] == 1
            assert sent_recipients(world.gmail) == ["editor0@gallery0.example"]
            assert services.store.get(hub_id)["outreach_status"] == "sent"
            assert services.store.get(other)["outreach_status"] == "drafted"


@pytest.mark.parametrize(
    "action, data",
    [
        ("approve", {"approved": "TRUE"}),
        ("status", {"outreach_status": "do_not_contact"}),
        ("contact", {"contact_email": "new@gallery0.example", "contact_name": "New"}),
        ("draft", {"draft_subject": "Changed", "draft_body": "Changed"}),
    ],
)
def test_every_row_form_needs_the_session_and_its_csrf_token(
    app, signed_in, services, action, data
):
    [hub_id] = add_rows(services.store, 1, approved="")
    before = services.store.get(hub_id)
    csrf = CSRF.search(signed_in.get("/rows").text).group(1)
    for token in (None, "", csrf[:-1] + "x"):
        sent = data if token is None else {**data, "csrf": token}
        refused = signed_in.post(f"/rows/{hub_id}/{action}", data=sent)
        assert refused.status_code == 403 and "Nothing was changed" in refused.text
    # Another browser (no session cookie), even with a token: not signed in, sent to sign in.
    stranger = TestClient(app, follow_redirects=False, base_url="https://testserver")
    response = stranger.post(f"/rows/{hub_id}/{action}", data={**data, "csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert services.store.get(hub_id) == before
    assert (
        signed_in.post(f"/rows/{hub_id}/{action}", data={**data, "csrf": csrf}).status_code == 303
    )
    assert services.store.get(hub_id) != before


def test_a_row_deleted_meanwhile_is_said_so(signed_in, services):
    [hub_id] = add_rows(services.store, 1, approved="")
    csrf, _, _ = page_form(signed_in, f"/rows/{hub_id}")
    services.store.delete(hub_id)
    for action, data in (
        ("approve", {"approved": "TRUE"}),
        ("status", {"outreach_status": "skip"}),
    ):
        signed_in.post(f"/rows/{hub_id}/{action}", data={**data, "csrf": csrf})
        page = signed_in.get(f"/rows/{hub_id}")
        assert page.status_code == 404
        assert f"no prospect with id &#39;{hub_id}&#39;" in page.text  # the form's flash
