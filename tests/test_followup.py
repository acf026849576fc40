"""Follow-ups: replies in the same thread, exactly once, stopped by anything that is not ours."""

from __future__ import annotations

import asyncio
import time

import pytest

from hub.app import build_services
from hub.config import Settings
from hub.sending.ledger import Ledger
from hub.sending.suppression import Suppression
from hub.stages.followup import run_followups
from hub.stages.send import run_send
from tests.emulators import gmail_messages
from tests.helpers_send_crash import add_rows, gmail_world

DAY = 86400


def _later(days: float):
    return lambda: time.time() + days * DAY + 60


@pytest.fixture
def sent_row(data_dir):
    """One prospect whose first message went out through the Gmail emulator."""
    with gmail_world() as world:
        services = build_services(Settings(_env_file=None, data_dir=data_dir, **world.settings))
        services.store.ensure_schema()
        [hub_id] = add_rows(services.store, 1)
        asyncio.run(run_send(services))
        assert services.store.get(hub_id)["outreach_status"] == "sent"
        yield world, services, hub_id
        services.close()


def _thread(world, thread_id):
    return sorted(
        (m for m in world.gmail.messages.values() if m.thread_id == thread_id),
        key=lambda m: m.internal_date_ms,
    )


async def test_follow_ups_are_replies_in_the_thread_on_schedule(sent_row):
    world, services, hub_id = sent_row
    first = services.store.get(hub_id)

    early = await run_followups(services, clock=_later(2))
    assert early["rows"] == 0 and len(world.gmail.sent()) == 1

    await run_followups(services, clock=_later(3))
    await run_followups(services, clock=_later(3))  # a second run changes nothing
    row = services.store.get(hub_id)
    assert row["followups_sent"] == "1"
    thread = _thread(world, first["gmail_thread_id"])
    assert len(thread) == 2
    follow = thread[1].parsed
    assert follow["In-Reply-To"] == first["message_id"]
    assert follow["References"] == first["message_id"]
    assert follow["Subject"] == "Re: " + first["draft_subject"]
    assert follow["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "follow up" in follow.get_content()  # drafted by the template drafter, step 1
    assert services.store.get(hub_id)["draft_body"] == first["draft_body"]  # person's cells kept
    assert row["next_followup_at"] > row["last_sent"]  # the 7-day one is scheduled

    await run_followups(services, clock=_later(7))
    row = services.store.get(hub_id)
    assert row["followups_sent"] == "2" and row.get("next_followup_at", "") == ""
    thread = _thread(world, first["gmail_thread_id"])
    assert len(thread) == 3
    assert (
        thread[2].parsed["References"] == f"{first['message_id']} {thread[1].parsed['Message-ID']}"
    )

    await run_followups(services, clock=_later(30))
    assert len(world.gmail.sent()) == 3


async def test_reply_landing_between_scheduling_and_sending_stops_the_follow_up(sent_row):
    world, services, hub_id = sent_row
    [first_message] = world.gmail.sent()

    def reply_arrives(row):
        # The follow-up is planned (drafted, intent in the ledger); now the prospect answers.
        assert Ledger.from_settings(services.settings).intent(hub_id, 1) is not None
        world.gmail.deliver(
            gmail_messages.reply(first_message.parsed, from_addr="editor0@gallery0.example")
        )

    summary = await run_followups(services, clock=_later(3), before_thread_check=reply_arrives)
    assert summary.get("replied") == 1
    assert len(world.gmail.sent()) == 1  # no follow-up went out
    row = services.store.get(hub_id)
    assert row["outreach_status"] == "replied"
    assert row.get("next_followup_at", "") == ""
    assert row["replied_at"]
    assert Ledger.from_settings(services.settings).intent(hub_id, 1) is None
    assert (
        Suppression(services.settings, services.store).reason_for("editor0@gallery0.example")
        == "replied"
    )

    await run_followups(services, clock=_later(7))
    assert len(world.gmail.sent()) == 1


async def test_out_of_office_answer_postpones_the_follow_up_instead_of_stopping_it(sent_row):
    from datetime import UTC, datetime, timedelta

    world, services, hub_id = sent_row
    [first_message] = world.gmail.sent()
    back = (datetime.now(UTC) + timedelta(days=10)).strftime("%d %B %Y")
    world.gmail.deliver(
        gmail_messages.auto_reply(
            first_message.parsed,
            from_addr="editor0@gallery0.example",
            body=f"I am out of the office until {back} with limited access to email.",
        )
    )

    summary = await run_followups(services, clock=_later(3))
    assert summary.get("postponed") == 1
    assert len(world.gmail.sent()) == 1  # nothing went out while they are away
    row = services.store.get(hub_id)
    assert row["outreach_status"] == "sent"  # an auto-reply is not a reply
    assert row["hold_reason"].startswith("HELD:out_of_office until")
    assert row["next_followup_at"] > (datetime.now(UTC) + timedelta(days=9)).isoformat()
    assert (
        Suppression(services.settings, services.store).reason_for("editor0@gallery0.example")
        is None
    )

    await run_followups(services, clock=_later(12))  # they are back: the follow-up goes
    assert len(world.gmail.sent()) == 2
    assert services.store.get(hub_id)["followups_sent"] == "1"


async def test_bounce_in_the_thread_marks_the_row_bounced(sent_row):
    world, services, hub_id = sent_row
    [first_message] = world.gmail.sent()
    world.gmail.deliver(gmail_messages.bounce(first_message.parsed))
    await run_followups(services, clock=_later(3))
    assert len(world.gmail.sent()) == 1
    assert services.store.get(hub_id)["outreach_status"] == "bounced"


async def test_unsubscribe_or_skip_cancels_pending_follow_ups(sent_row):
    world, services, hub_id = sent_row
    Suppression(services.settings, services.store).add("editor0@gallery0.example", "unsubscribed")
    await run_followups(services, clock=_later(3))
    assert len(world.gmail.sent()) == 1
    row = services.store.get(hub_id)
    assert row["hold_reason"] == "SKIP:unsubscribed" and row.get("next_followup_at", "") == ""

    [other] = add_rows(services.store, 1, start=1)
    await run_send(services)
    services.store.update({other: {"outreach_status": "skip"}})  # a person stops it
    await run_followups(services, clock=_later(8))
    assert len(world.gmail.sent()) == 2  # the two first messages only


async def test_follow_up_after_an_error_once_gmail_stored_it_is_not_repeated(sent_row):
    world, services, hub_id = sent_row
    world.gmail.inject("500_after_store", api_method="users.messages.send")
    await run_followups(services, clock=_later(3))
    await run_followups(services, clock=_later(3))
    assert len(world.gmail.sent()) == 2
    assert services.store.get(hub_id)["followups_sent"] == "1"


def test_follow_up_dates_count_from_the_first_message_in_calendar_or_business_days(settings):
    from datetime import UTC, datetime

    from hub.sending.reconcile import next_followup_at

    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).timestamp()
    assert next_followup_at(settings, friday, 0) == "2026-11-30T10:00:00Z"  # +3 days
    assert next_followup_at(settings, friday, 1) == "2026-12-04T10:00:00Z"  # +7 days
    assert next_followup_at(settings, friday, 2) == ""  # HUB_FOLLOWUP_DAYS=3,7: no third
    business = settings.model_copy(update={"followup_business_days": True})
    assert next_followup_at(business, friday, 0) == "2026-12-02T10:00:00Z"  # Mon, Tue, Wed
