"""Real bounces and complaints reach their rows through the check_replies stage and the Gmail
emulator: by our Message-ID quoted in the report (they arrive in threads of their own), else by
the failed recipient; a spam complaint moves the row to do_not_contact and suppresses the
address at once, even when no row is found."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.mail.base import MailboxMessage
from hub.mail.classify import Classification
from hub.replies.inbound import _complaint_suppressions, _transition, plan_replies
from hub.sending.suppression import Suppression
from tests.emulators import gmail_messages as inbound
from tests.mail_corpus import CORPUS_DIR, as_gmail
from tests.test_check_replies import Mailbox, Recorder, check_replies, context

ME = "me@artist.example"
NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
# The Message-IDs these real reports quote, replaced by the ones of our sent rows.
SES_ORIGINAL = (
    "<01010157b3c0c026-110cf920-4be1-4c36-87c0-1f48d0cc6639-000000@us-west-2.amazonses.com>"
)
ARF_ORIGINAL = "<f6fbba8a761ce682e1b00a323a21b372@example.net>"


def corpus(path: str, **replace: str) -> bytes:
    raw = (CORPUS_DIR / path).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


async def test_a_bounce_in_a_new_thread_finds_its_row_by_the_quoted_message_id(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    # Amazon SES's DSN quotes our message; its failed recipient is an alias of nobody's row.
    raw = corpus(
        "sisimai/email-amazonses-05.eml",
        **{SES_ORIGINAL: str(box.originals[1]["Message-ID"])},
    )
    stored = mail_world.gmail.deliver(raw)
    assert stored.thread_id != box.row(1)["gmail_thread_id"]

    events = Recorder()
    result = await check_replies(context(mail_services, events))

    row = box.row(1)
    assert row["outreach_status"] == "bounced"
    assert "5.1.1" in row["last_error"]
    assert box.row(0)["outreach_status"] == "sent" and box.row(2)["outreach_status"] == "sent"
    assert [e for e, _ in events.events] == ["prospect.bounced"]
    assert result.summary["kinds"] == {"bounce_hard": 1}
    suppression = Suppression(mail_world.settings, local_store)
    try:
        assert suppression.reason_for("editor@site1.example") == "bounced"
    finally:
        suppression.close()


async def test_without_a_quoted_message_id_the_failed_recipient_finds_the_row(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    # A Japanese carrier's bounce: multipart/mixed, no report type, no copy of our message.
    mail_world.gmail.deliver(corpus("sisimai/email-ezweb-06.eml", foobarbaz="editor", **{
        "ezweb.ne.jp>": "site2.example>", "ezweb.ne.jp:": "site2.example:"
    }))  # fmt: skip

    await check_replies(context(mail_services))

    assert box.row(2)["outreach_status"] == "bounced"
    assert box.row(1)["outreach_status"] == "sent"


async def test_a_spam_complaint_stops_the_row_and_suppresses_the_address_at_once(
    mail_world, mail_services, local_store
):
    box = Mailbox(mail_world, local_store, 3)
    mail_world.gmail.deliver(inbound.reply(box.originals[0], from_addr="editor@site0.example"))
    # A real ARF report (Return Path's FBL for Terra) about our message to row 0 — who had
    # already answered: a complaint outranks the reply.
    mail_world.gmail.deliver(
        corpus("sisimai/arf-03.eml", **{ARF_ORIGINAL: str(box.originals[0]["Message-ID"])})
    )
    events = Recorder()

    result = await check_replies(context(mail_services, events))

    row = box.row(0)
    assert row["outreach_status"] == "do_not_contact"
    assert row["hold_reason"] == "COMPLAINT:abuse"
    assert row.get("next_followup_at", "") == ""
    assert result.summary["kinds"]["complaint"] == 1
    assert ("prospect.complained", "abuse") in [
        (e, p.get("feedback_type")) for e, p in events.events
    ]
    # The suppression list is one for every sender identity: the next send checks it first.
    suppression = Suppression(mail_world.settings, local_store)
    try:
        assert suppression.reason_for("editor@site0.example") == "complaint:abuse"
        assert suppression.reason_for("EDITOR@site0.example") == "complaint:abuse"
    finally:
        suppression.close()


def test_a_complaint_about_no_known_row_still_suppresses_the_complainant():
    # Hotmail's JMRP notice names the person who clicked "junk" (X-HmXmrOriginalRecipient).
    message = as_gmail(corpus("sisimai/arf-13.eml"), thread_id="elsewhere")
    plan = plan_replies([], [message], own_addresses=[ME], now=NOW)
    assert plan.counts["complaint"] == 1
    assert plan.unmatched == 1
    assert plan.suppress == [("", "recipient@hotmail.com", "complaint:abuse")]


def test_a_dmarc_failure_report_changes_no_row():
    rows = [
        {
            "hub_id": "h1",
            "contact_email": "fake.rcpt@example.com",
            "outreach_status": "sent",
            "message_id": "<105855309.1523556.1415796020873@example.net>",
        }
    ]
    message = as_gmail(corpus("sisimai/arf-07.eml"))
    plan = plan_replies(rows, [message], own_addresses=[ME], now=NOW)
    assert plan.counts["report"] == 1
    assert plan.changes == {} and plan.suppress == [] and plan.events == []


def test_a_terminal_row_stays_but_its_complaint_is_still_suppressed():
    rows = [{"hub_id": "h1", "contact_email": "a@b.example", "outreach_status": "bounced"}]
    found = Classification(kind="complaint", feedback_type="fraud", recipient="a@b.example")
    assert _transition(rows[0], found, NOW) == {}
    assert _complaint_suppressions(rows[0], found) == [("h1", "a@b.example", "complaint:fraud")]


def test_a_message_our_code_cannot_read_is_skipped_and_the_others_still_count(caplog):
    # A header value that is not text (a reader's bug, or a mailbox quirk) makes classify
    # raise; that message alone is skipped, logged with its traceback, and named in the plan.
    rows = [
        {
            "hub_id": "h1",
            "contact_email": "editor@gallery.example",
            "outreach_status": "sent",
            "gmail_thread_id": "t1",
        }
    ]
    odd = MailboxMessage("odd-1", "t1", {"from": None, "subject": "Re: hello"}, internal_date=NOW)
    reply = MailboxMessage(
        "good-1",
        "t1",
        {"from": "Editor <editor@gallery.example>", "subject": "Re: hello"},
        body_text="Thanks, tell me more.",
        internal_date=NOW,
    )
    plan = plan_replies(rows, [odd, reply], own_addresses=[ME], now=NOW)
    assert plan.unreadable == ["odd-1"]
    assert plan.changes["h1"]["outreach_status"] == "replied"
    assert "could not read message odd-1" in caplog.text
