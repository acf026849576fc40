"""The send stage against the Gmail v1 emulator (real google-api-python-client) and the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

import pytest

from hub.app import build_services
from hub.config import Settings
from hub.errors import Conflict, NotFound
from hub.sending.ledger import Ledger
from hub.sending.suppression import Suppression
from hub.stages.send import run_send
from hub.stages.send_one import send_one
from tests.helpers_send_crash import add_rows, gmail_world, real_send_settings, sent_recipients


@pytest.fixture
def bare_mail_world():
    with gmail_world() as running:
        yield running


def _services(data_dir, **values):
    services = build_services(Settings(_env_file=None, data_dir=data_dir, **values))
    services.store.ensure_schema()
    return services


@pytest.fixture
def gmail_hub(bare_mail_world, data_dir):
    services = _services(data_dir, **bare_mail_world.settings)
    yield bare_mail_world, services
    services.close()


def _row(services, hub_id):
    return services.store.get(hub_id)


# --- dry run ------------------------------------------------------------------------------------
async def test_without_hub_mailer_gmail_nothing_reaches_gmail(bare_mail_world, data_dir):
    # Gmail settings are all there and point at the emulator -- only HUB_MAILER is missing.
    values = {k: v for k, v in bare_mail_world.settings.items() if k != "mailer"}
    services = _services(data_dir, **values)
    ids = add_rows(services.store, 3)

    for _ in range(2):  # previews are idempotent: one file per row and step
        summary = await run_send(services)
        assert summary["dry_run"] == 3
    assert bare_mail_world.gmail.count() == 0 and bare_mail_world.oauth.requests["total"] == 0

    files = sorted(p.name for p in services.settings.outbox_dir.glob("*.eml"))
    assert files == sorted(f"{hub_id}-0.eml" for hub_id in ids)
    for hub_id in ids:
        row = _row(services, hub_id)
        assert row["outreach_status"] == "drafted"  # a dry run changes no status
        assert row["hold_reason"] == f"DRY_RUN {hub_id}-0.eml"
        raw = (services.settings.outbox_dir / f"{hub_id}-0.eml").read_bytes()
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        link = parsed["List-Unsubscribe"]
        assert link.startswith("<https://hub.artist.example/u/") and link.endswith(">")
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"Unsubscribe: {link[1:-1]}" in parsed.get_content()
    assert Ledger.from_settings(services.settings).count() == 0  # caps are not spent
    services.close()


async def test_dry_run_previews_without_a_postal_address_but_warns(data_dir):
    values = real_send_settings() | {"sender_address": ""}
    services = _services(data_dir, **values)
    [hub_id] = add_rows(services.store, 1)
    await run_send(services)
    row = _row(services, hub_id)
    assert row["hold_reason"] == f"DRY_RUN {hub_id}-0.eml"
    assert "HUB_SENDER_ADDRESS" in row["last_error"]
    preview = (services.settings.outbox_dir / f"{hub_id}-0.eml").read_text()
    assert "HUB_SENDER_ADDRESS is not set" in preview
    services.close()


# --- real sends -----------------------------------------------------------------------------------
async def test_approved_rows_are_sent_once_with_their_state_in_the_row(gmail_hub):
    bare_mail_world, services = gmail_hub
    ids = add_rows(services.store, 4)
    summary = await run_send(services)
    assert summary["sent"] == 4
    again = await run_send(services)
    assert again["rows"] == 0

    assert sorted(sent_recipients(bare_mail_world.gmail)) == [
        f"editor{i}@gallery{i}.example" for i in range(4)
    ]
    by_to = {m.parsed["To"].addresses[0].addr_spec: m for m in bare_mail_world.gmail.sent()}
    for i, hub_id in enumerate(ids):
        row = _row(services, hub_id)
        stored = by_to[f"editor{i}@gallery{i}.example"]
        assert row["outreach_status"] == "sent"
        assert row["message_id"] == stored.parsed["Message-ID"]
        assert row["gmail_thread_id"] == stored.thread_id
        assert row["followups_sent"] == "0"
        sent_at = datetime.fromisoformat(row["last_sent"].replace("Z", "+00:00"))
        follow = datetime.fromisoformat(row["next_followup_at"].replace("Z", "+00:00"))
        assert (follow - sent_at).days == 3  # HUB_FOLLOWUP_DAYS=3,7
        assert stored.parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_rows_that_must_not_be_sent_are_not(gmail_hub):
    bare_mail_world, services = gmail_hub
    # Each row as a person left it (approved, status and the draft are theirs to set).
    unapproved = add_rows(services.store, 1, start=0, approved="")[0]
    skipped = add_rows(services.store, 1, start=1, outreach_status="skip")[0]
    no_address = add_rows(services.store, 1, start=2, contact_email="")[0]
    replied = add_rows(services.store, 1, start=3, outreach_status="replied")[0]
    suppressed = add_rows(services.store, 1, start=4)[0]
    add_rows(services.store, 1, start=5)
    Suppression(services.settings).add("EDITOR4@gallery4.example", "unsubscribed")
    await run_send(services)

    assert sent_recipients(bare_mail_world.gmail) == ["editor5@gallery5.example"]
    assert _row(services, unapproved)["outreach_status"] == "drafted"
    assert _row(services, skipped)["outreach_status"] == "skip"
    assert _row(services, no_address)["outreach_status"] == "drafted"
    assert _row(services, replied)["outreach_status"] == "replied"
    assert _row(services, suppressed)["hold_reason"] == "SKIP:unsubscribed"
    assert _row(services, suppressed)["outreach_status"] == "drafted"


async def test_unapproved_rows_are_sent_when_approval_is_not_required(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"require_approval": False}))
    add_rows(services.store, 1, approved="")
    await run_send(services)
    assert sent_recipients(bare_mail_world.gmail) == ["editor0@gallery0.example"]
    services.close()


async def test_blank_draft_and_header_injection_are_held_for_review(gmail_hub):
    bare_mail_world, services = gmail_hub
    [blank] = add_rows(services.store, 1, draft_subject="")
    [injected] = add_rows(
        services.store, 1, start=1, draft_subject="Hi\r\nBcc: everyone@example.com"
    )
    await run_send(services)
    assert bare_mail_world.gmail.count("users.messages.send") == 0
    assert _row(services, blank)["hold_reason"] == "REVIEW:blank_field draft_subject"
    assert _row(services, injected)["hold_reason"] == "REVIEW:unsafe_header subject"


async def test_real_send_needs_a_postal_address(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"sender_address": ""}))
    [hub_id] = add_rows(services.store, 1)
    await run_send(services)
    assert bare_mail_world.gmail.count("users.messages.send") == 0
    assert _row(services, hub_id)["hold_reason"] == "REVIEW:sender_address"
    services.close()


async def test_real_send_needs_a_public_url_for_the_unsubscribe_link(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"public_url": ""}))
    [hub_id] = add_rows(services.store, 1)
    await run_send(services)
    assert bare_mail_world.gmail.count("users.messages.send") == 0
    assert _row(services, hub_id)["hold_reason"] == "REVIEW:public_url"
    services.close()


async def test_daily_cap_holds_the_rest_and_survives_a_restart(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"daily_cap": 3}))
    ids = add_rows(services.store, 5)
    summary = await run_send(services)
    assert summary["sent"] == 3 and summary["stopped"].startswith("HELD:daily_cap until ")
    services.close()

    restarted = _services(data_dir, **(bare_mail_world.settings | {"daily_cap": 3}))
    await run_send(restarted)
    assert len(bare_mail_world.gmail.sent()) == 3
    held = [_row(restarted, h) for h in ids if _row(restarted, h)["outreach_status"] == "drafted"]
    assert len(held) == 2
    assert all(r["hold_reason"].startswith("HELD:daily_cap until 20") for r in held)
    restarted.close()


async def test_per_domain_cap(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"per_domain_daily_cap": 2}))
    shared = [
        add_rows(services.store, 1, start=20 + i, contact_email=f"e{i}@chain.example")[0]
        for i in range(3)
    ]
    await run_send(services)
    chain = [to for to in sent_recipients(bare_mail_world.gmail) if to.endswith("@chain.example")]
    assert len(chain) == 2
    held = [
        h for h in shared if _row(services, h).get("hold_reason", "").startswith("HELD:domain_cap")
    ]
    assert len(held) == 1
    services.close()


async def test_closed_send_window_holds_rows_until_it_opens(bare_mail_world, data_dir):
    values = bare_mail_world.settings | {"send_window": "mon-fri 09:00-17:00 Europe/London"}
    services = _services(data_dir, **values)
    [hub_id] = add_rows(services.store, 1)
    saturday_noon = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
    await run_send(services, clock=lambda: saturday_noon)
    assert bare_mail_world.gmail.count("users.messages.send") == 0
    assert _row(services, hub_id)["hold_reason"] == "HELD:send_window until 2026-11-30T09:00Z"
    services.close()


# --- unknown outcomes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["500_after_store", "drop_after_store"])
async def test_error_after_gmail_stored_the_message_still_sends_once(gmail_hub, fault):
    bare_mail_world, services = gmail_hub
    [hub_id] = add_rows(services.store, 1)
    bare_mail_world.gmail.inject(fault, api_method="users.messages.send")
    await run_send(services)
    await run_send(services)
    assert len(bare_mail_world.gmail.sent()) == 1
    row = _row(services, hub_id)
    assert row["outreach_status"] == "sent"
    assert row["gmail_thread_id"] == bare_mail_world.gmail.sent()[0].thread_id


async def test_error_before_gmail_stored_anything_is_retried_after_a_search(gmail_hub):
    bare_mail_world, services = gmail_hub
    [hub_id] = add_rows(services.store, 1)
    bare_mail_world.gmail.inject("500", api_method="users.messages.send")
    await run_send(services)
    row = _row(services, hub_id)
    assert row["outreach_status"] == "sending" and "unknown outcome" in row["last_error"]
    assert bare_mail_world.gmail.sent() == []

    searches = bare_mail_world.gmail.count("users.messages.list")
    await run_send(services)
    assert (
        bare_mail_world.gmail.count("users.messages.list") > searches
    )  # searched before re-sending
    assert len(bare_mail_world.gmail.sent()) == 1
    assert _row(services, hub_id)["outreach_status"] == "sent"


async def test_reconciles_by_recipient_and_subject_when_gmail_replaces_the_message_id(data_dir):
    with gmail_world(keep_message_id=False) as bare_mail_world:
        services = _services(data_dir, **bare_mail_world.settings)
        [hub_id] = add_rows(services.store, 1)
        bare_mail_world.gmail.inject("500_after_store", api_method="users.messages.send")
        await run_send(services)
        await run_send(services)
        assert len(bare_mail_world.gmail.sent()) == 1
        assert _row(services, hub_id)["outreach_status"] == "sent"
        services.close()


async def test_ledger_repairs_a_row_whose_sheet_write_was_lost(gmail_hub):
    bare_mail_world, services = gmail_hub
    [hub_id] = add_rows(services.store, 1)
    await run_send(services)
    # The last sheet write never happened (Sheets down, process killed): the row looks unsent.
    services.store.update({hub_id: {"outreach_status": "drafted", "message_id": ""}})
    await run_send(services)
    assert len(bare_mail_world.gmail.sent()) == 1
    assert _row(services, hub_id)["outreach_status"] == "sent"
    assert (
        _row(services, hub_id)["message_id"] == bare_mail_world.gmail.sent()[0].parsed["Message-ID"]
    )


async def test_two_jobs_at_once_send_each_row_once(gmail_hub):
    bare_mail_world, services = gmail_hub
    add_rows(services.store, 8)
    other = build_services(services.settings)
    await asyncio.gather(run_send(services), run_send(other))
    await run_send(services)
    recipients = sent_recipients(bare_mail_world.gmail)
    assert len(recipients) == len(set(recipients)) == 8
    other.close()


async def test_auto_send_drafts_rows_without_a_draft_then_sends(gmail_hub):
    bare_mail_world, services = gmail_hub
    [hub_id] = add_rows(
        services.store, 1, outreach_status="enriched", draft_subject="", draft_body=""
    )
    await run_send(services, {"auto_send": True})
    row = _row(services, hub_id)
    assert row["outreach_status"] == "sent"
    assert row["draft_subject"] == "A note about Gallery 0 spring show"
    [stored] = bare_mail_world.gmail.sent()
    assert stored.parsed["Subject"] == row["draft_subject"]


async def test_send_one_sends_and_answers_with_the_row(gmail_hub):
    bare_mail_world, services = gmail_hub
    first, second = add_rows(services.store, 2)
    answer = await send_one(services, first)
    assert answer["result"] == "sent" and answer["outreach_status"] == "sent"
    assert sent_recipients(bare_mail_world.gmail) == ["editor0@gallery0.example"]
    again = await send_one(services, first)
    assert again["result"] == "already_sent" and len(bare_mail_world.gmail.sent()) == 1
    with pytest.raises(NotFound):
        await send_one(services, "h_nope")
    services.store.update({second: {"outreach_status": "replied"}})
    with pytest.raises(Conflict, match="only drafted rows are sent"):
        await send_one(services, second)


async def test_rows_after_the_cap_are_all_told_why_without_more_work(bare_mail_world, data_dir):
    services = _services(data_dir, **(bare_mail_world.settings | {"daily_cap": 2}))
    ids = add_rows(services.store, 9)
    summary = await run_send(services, {"chunk_size": 2})
    assert summary["sent"] == 2 and summary["held"] == 7 and summary["rows"] == 9
    held = [_row(services, h) for h in ids[2:]]
    assert all(r["hold_reason"].startswith("HELD:daily_cap until ") for r in held)
    assert all(r["outreach_status"] == "drafted" for r in held)
    services.close()


async def test_gmail_daily_limit_holds_the_rest_of_the_run(gmail_hub):
    bare_mail_world, services = gmail_hub
    ids = add_rows(services.store, 3)
    bare_mail_world.gmail.inject("403_daily", api_method="users.messages.send")
    summary = await run_send(services)
    assert summary["quota"] == 1 and bare_mail_world.gmail.sent() == []
    for hub_id in ids:
        row = _row(services, hub_id)
        assert row["outreach_status"] == "drafted"
        assert row["hold_reason"] == "HELD:gmail_quota"
    # Nothing was sent, so nothing counts against the cap; the next run sends all three.
    await run_send(services)
    assert len(bare_mail_world.gmail.sent()) == 3


async def test_gmail_user_rate_limit_for_an_hour_holds_the_run_with_gmails_words(gmail_hub):
    # Gmail's documented per-user answer: 403 userRateLimitExceeded, the wait only in the
    # message. An hour is past the mailer's longest wait, so the run stops and says why.
    world, services = gmail_hub
    ids = add_rows(services.store, 2)
    world.gmail.inject("403_user_rate", api_method="users.messages.send", seconds=3_600)
    summary = await run_send(services)
    assert summary["quota"] == 1 and world.gmail.sent() == []
    assert world.gmail.count("users.messages.send") == 1  # not hammered, not retried at once
    for hub_id in ids:
        row = _row(services, hub_id)
        assert row["outreach_status"] == "drafted" and row["hold_reason"] == "HELD:gmail_quota"
    assert "userRateLimitExceeded" in _row(services, ids[0])["last_error"]
    await run_send(services)
    assert len(world.gmail.sent()) == 2


async def test_send_stage_is_registered_and_its_gap_wait_stops_on_cancel(bare_mail_world, data_dir):
    from hub.stages.base import JobCancelled, StageContext
    from hub.stages.registry import STAGES

    services = _services(data_dir, **(bare_mail_world.settings | {"send_gap_seconds": "3600"}))
    ids = add_rows(services.store, 3)
    cancel = {"now": False}

    def progress_or_cancel() -> bool:
        # Cancel as soon as the first message is out (the job then waits out a 1 h gap).
        cancel["now"] = cancel["now"] or len(bare_mail_world.gmail.sent()) >= 1
        return cancel["now"]

    ctx = StageContext("job-1", "send", {}, services, is_cancelled=progress_or_cancel)
    with pytest.raises(JobCancelled):
        await STAGES["send"](ctx)
    assert len(bare_mail_world.gmail.sent()) == 1
    statuses = sorted(_row(services, h)["outreach_status"] for h in ids)
    assert statuses == ["drafted", "drafted", "sent"]  # the planned rows were put back
    assert Ledger.from_settings(services.settings).intent(ids[1], 0) is None
    services.close()
