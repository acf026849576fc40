"""The check_replies stage against the Gmail emulator, through the real client library:
replies, auto-replies, hard/soft bounces and unsubscribes land on the right rows, in one write,
with events and suppression; the number of Gmail calls grows with new mail, not with rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from hub.app import build_services
from hub.replies.inbound import MailboxCursor
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.check_replies import run as check_replies
from tests.emulators import gmail_messages as inbound

ME = "me@artist.example"


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def __call__(self, event_type: str, payload: dict) -> None:
        self.events.append((event_type, payload))


def context(mail_services: Services, emit=None) -> StageContext:
    return StageContext(
        job_id="j1",
        job_type="check_replies",
        params={},
        services=mail_services,
        emit=emit or Recorder(),
    )


class Mailbox:
    """N sent threads in Gmail, and their rows in the local store."""

    def __init__(self, mail_world, store, n: int):
        self.world, self.store = mail_world, store
        self.originals, rows = inbound.sent_threads(mail_world.gmail, n, sender=ME)
        store.append(rows)
        self.hub_ids = {int(r["domain"][4:].split(".")[0]): r["hub_id"] for r in store.rows()}

    def row(self, i: int) -> dict:
        return self.store.get(self.hub_ids[i])


async def test_first_check_reads_the_mailbox_since_the_first_send(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    # The reply came before any check ever ran: it must not be missed.
    mail_world.gmail.deliver(inbound.reply(box.originals[1], from_addr="editor@site1.example"))
    mail_world.gmail.reset_log()

    result = await check_replies(context(mail_services))

    assert result.summary["new_messages"] == 1
    assert box.row(1)["outreach_status"] == "replied"
    calls = [r.api_method for r in mail_world.gmail.requests]
    assert calls == ["users.getProfile", "users.messages.list", "users.messages.get"]
    assert MailboxCursor(mail_world.settings.state_db_path).get(f"gmail:{ME}")
    # From then on the history API: a check with no new mail is one call.
    mail_world.gmail.reset_log()
    again = await check_replies(context(mail_services))
    assert again.summary["new_messages"] == 0
    assert [r.api_method for r in mail_world.gmail.requests] == ["users.history.list"]


async def test_first_check_with_nothing_sent_starts_watching_from_now(mail_world, mail_services):
    mail_world.gmail.reset_log()
    result = await check_replies(context(mail_services))
    assert result.summary["new_messages"] == 0
    assert [r.api_method for r in mail_world.gmail.requests] == ["users.getProfile"]


async def test_replies_bounces_and_unsubscribes_land_on_their_rows(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 500)
    await check_replies(context(mail_services))  # start watching
    mail_world.gmail.reset_log()
    o = box.originals
    mail_world.gmail.deliver(inbound.reply(o[7], from_addr="editor@site7.example"))
    mail_world.gmail.deliver(inbound.bounce(o[42], hard=True))
    mail_world.gmail.deliver(inbound.bounce(o[43], hard=False))
    mail_world.gmail.deliver(
        inbound.auto_reply(
            o[99],
            from_addr="editor@site99.example",
            body=f"Out of the office until {(datetime.now(UTC) + timedelta(days=20)):%d %B %Y}.",
        )
    )
    mail_world.gmail.deliver(
        inbound.unsubscribe_request(o[250], from_addr="editor@site250.example")
    )
    events = Recorder()
    writes = []
    original_update = local_store.update
    local_store.update = lambda changes: writes.append(changes) or original_update(changes)

    result = await check_replies(context(mail_services, events))

    # Cost: one history page + one get per new message, whatever the 500 sent threads.
    calls = [r.api_method for r in mail_world.gmail.requests]
    assert calls.count("users.history.list") == 1
    assert calls.count("users.messages.get") == 5
    assert len(calls) == 6
    assert len(writes) == 1  # one batched store write
    assert result.summary["new_messages"] == 5 and result.summary["rows_changed"] == 5

    assert box.row(7)["outreach_status"] == "replied"
    assert box.row(7)["reply_snippet"].startswith("Thanks for reaching out")
    assert box.row(7)["replied_at"].endswith("Z")
    assert box.row(7).get("next_followup_at", "") == ""
    assert box.row(42)["outreach_status"] == "bounced"
    assert "5.1.1" in box.row(42)["last_error"]
    assert box.row(43)["outreach_status"] == "sent"  # soft: only noted
    assert "4.2.2" in box.row(43)["last_error"]
    assert box.row(99)["outreach_status"] == "sent"
    resume = (datetime.now(UTC) + timedelta(days=21)).date().isoformat()
    assert box.row(99)["next_followup_at"].startswith(resume)
    assert box.row(99)["hold_reason"].startswith("HELD:out_of_office")
    assert box.row(250)["outreach_status"] == "unsubscribed"
    assert box.row(0)["outreach_status"] == "sent" and box.row(0).get("last_error", "") == ""

    assert sorted((t, p["hub_id"]) for t, p in events.events) == sorted(
        [
            ("prospect.replied", box.hub_ids[7]),
            ("prospect.bounced", box.hub_ids[42]),
            ("prospect.unsubscribed", box.hub_ids[250]),
        ]
    )
    from hub.sending.suppression import Suppression

    suppression = Suppression(mail_world.settings)
    assert suppression.reason_for("editor@site42.example") == "bounced"
    assert suppression.reason_for("editor@site250.example") == "unsubscribed"
    assert suppression.reason_for("editor@site43.example") is None
    suppression.close()


async def test_a_second_check_without_new_mail_changes_nothing(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 20)
    await check_replies(context(mail_services))
    mail_world.gmail.deliver(inbound.reply(box.originals[3], from_addr="editor@site3.example"))
    await check_replies(context(mail_services))
    before = box.row(3)
    mail_world.gmail.reset_log()
    events = Recorder()
    result = await check_replies(context(mail_services, events))
    assert result.summary["new_messages"] == 0
    assert [r.api_method for r in mail_world.gmail.requests] == ["users.history.list"]
    assert box.row(3) == before and events.events == []


async def test_reading_the_same_mail_twice_is_harmless(mail_world, mail_services, local_store):
    """A crash after the write but before the cursor moved re-reads the same mail."""
    box = Mailbox(mail_world, local_store, 5)
    await check_replies(context(mail_services))
    cursors = MailboxCursor(mail_world.settings.state_db_path)
    start = cursors.get(f"gmail:{ME}")
    mail_world.gmail.deliver(inbound.reply(box.originals[1], from_addr="editor@site1.example"))
    await check_replies(context(mail_services))
    first = box.row(1)
    cursors.set(f"gmail:{ME}", start)
    events = Recorder()
    result = await check_replies(context(mail_services, events))
    assert result.summary["new_messages"] == 1 and result.summary["rows_changed"] == 0
    assert box.row(1)["replied_at"] == first["replied_at"] and events.events == []


async def test_replies_from_other_threads_and_our_own_sends_are_not_misapplied(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    await check_replies(context(mail_services))
    stranger = EmailMessage()
    stranger["From"] = "someone@else.example"
    stranger["To"] = ME
    stranger["Subject"] = "Unrelated"
    stranger.set_content("Hi!")
    mail_world.gmail.deliver(stranger)
    # Our own new send shows up in history too.
    mail_world.gmail.place_sent(inbound.outgoing(77, sender=ME))
    result = await check_replies(context(mail_services))
    assert result.summary["rows_changed"] == 0
    assert result.summary["unmatched"] == 1
    assert all(box.row(i)["outreach_status"] == "sent" for i in range(3))


async def test_a_gmail_failure_changes_nothing_and_keeps_the_cursor(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    await check_replies(context(mail_services))
    cursors = MailboxCursor(mail_world.settings.state_db_path)
    start = cursors.get(f"gmail:{ME}")
    mail_world.gmail.deliver(inbound.reply(box.originals[0], from_addr="editor@site0.example"))
    mail_world.gmail.inject("403_daily")
    result = await check_replies(context(mail_services))
    assert result.summary["quota"] is True
    assert cursors.get(f"gmail:{ME}") == start
    assert box.row(0)["outreach_status"] == "sent"
    await check_replies(context(mail_services))  # quota back: the same reply is found
    assert box.row(0)["outreach_status"] == "replied"


async def test_without_hub_mailer_gmail_no_request_reaches_gmail(mail_world, settings):
    # Same emulator URLs and credentials, but HUB_MAILER left at its default.
    configured = mail_world.settings.model_copy(update={"mailer": "outbox"})
    mail_services = build_services(configured)
    try:
        assert mail_services.mailer.provider_name == "outbox"
        result = await check_replies(context(mail_services))
        assert result.summary["new_messages"] == 0
    finally:
        mail_services.close()
    assert mail_world.gmail.count() == 0
    assert mail_world.oauth.requests["total"] == 0
