"""Replies, bounces, auto-replies and unsubscribes read over IMAP (dovecot) are classified like
the same messages read from Gmail (the emulator, through the real client), and the
check_replies stage marks the rows of each identity's mailbox; follow-ups thread over SMTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hub.config import Settings
from hub.drafting.factory import build_drafter
from hub.mail.classify import classify
from hub.mail.factory import build_mailer
from hub.mail.gmail import GmailMailer
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.check_replies import run as check_replies
from hub.stages.followup import run_followups
from hub.stages.send import run_send
from sheets.local import LocalStore
from tests.emulators import gmail_messages as inbound
from tests.emulators.dovecot import available
from tests.emulators.gmail import gmail_world
from tests.helpers_send_crash import add_rows
from tests.smtp_world import smtp_world

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)"),
    pytest.mark.timeout(120),
]


def _answers(original, back_on: datetime):
    prospect = str(original["To"])
    ooo = f"I am away until {back_on:%d %B %Y} with limited access to email."
    return {
        "reply": inbound.reply(original, from_addr=prospect),
        "bounce_hard": inbound.bounce(original, hard=True),
        "bounce_soft": inbound.bounce(original, hard=False),
        "auto_reply": inbound.auto_reply(original, from_addr=prospect, body=ooo),
        "unsubscribe": inbound.unsubscribe_request(original, from_addr=prospect),
    }


def _services(values: dict, data_dir) -> Services:
    settings = Settings(_env_file=None, data_dir=data_dir, **values)
    store = LocalStore(settings.local_store_path)
    store.ensure_schema()
    services = Services(settings, store, mailer=build_mailer(settings))
    services.drafter = build_drafter(settings)  # follow-ups are drafted by the templates
    return services


def test_imap_and_gmail_classify_the_same_messages_alike(settings, tmp_path):
    original = inbound.outgoing(1, sender="ada@artist.example")
    now = datetime.now(UTC)
    answers = _answers(original, now + timedelta(days=20))
    own = ["ada@artist.example"]
    with smtp_world(["ada"], tmp_path) as world:
        services = _services(world.settings, settings.data_dir)
        mailer = services.mailer
        cursor = mailer.inbound_since(None).cursor
        for answer in answers.values():
            world.imap.append(world.address("ada"), "INBOX", bytes(answer))
        over_imap = mailer.inbound_since(cursor).messages
        services.close()
    with gmail_world(settings, address="ada@artist.example") as gworld:
        gmail = GmailMailer.from_settings(gworld.settings)
        gmail_cursor = gmail.inbound_since(None).cursor
        for answer in answers.values():
            gworld.gmail.deliver(answer)
        over_gmail = gmail.inbound_since(gmail_cursor).messages
        gmail.close()

    def verdicts(messages):
        found = {}
        for m in messages:
            c = classify(m, own_addresses=own, now=now)
            found[m.headers["message-id"]] = (c.kind, c.status_code, c.recipient, c.resume_at)
        return found

    imap_verdicts, gmail_verdicts = verdicts(over_imap), verdicts(over_gmail)
    assert imap_verdicts == gmail_verdicts
    assert sorted(kind for kind, *_ in imap_verdicts.values()) == sorted(answers)


def test_check_replies_reads_every_identity_mailbox_and_marks_its_rows(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path) as world:
        services = _services(world.settings, data_dir)
        add_rows(services.store, 4)
        asyncio.run(run_send(services, {}))
        rows = {r["contact_email"]: r for r in services.store.rows()}
        sent = {d.rcpt_tos[0]: d.parsed for d in world.smtp.delivered()}
        # Each answer lands in the mailbox of the identity that wrote to that prospect.
        kinds = ["reply", "bounce_hard", "unsubscribe", "reply"]
        for (email, original), kind in zip(sorted(sent.items()), kinds, strict=True):
            answer = _answers(original, datetime.now(UTC))[kind]
            mailbox = world.address(rows[email]["sender_identity"])
            world.imap.append(mailbox, "INBOX", bytes(answer))
        context = StageContext(
            job_id="j", job_type="check_replies", params={}, services=services, emit=lambda *a: 0
        )
        result = asyncio.run(check_replies(context))
        again = asyncio.run(check_replies(context))  # the UID cursors: nothing is read twice
        after = {r["contact_email"]: r for r in services.store.rows()}
        services.close()

    assert {r["sender_identity"] for r in rows.values()} == {"ada", "bob"}
    assert result.summary["new_messages"] == 4 and result.summary["rows_changed"] == 4
    assert again.summary["new_messages"] == 0
    statuses = [after[email]["outreach_status"] for email in sorted(sent)]
    assert statuses == ["replied", "bounced", "unsubscribed", "replied"]


def test_followup_goes_from_the_same_identity_in_the_same_thread(data_dir, tmp_path):
    with smtp_world(["ada", "bob"], tmp_path) as world:
        values = world.settings | {"followup_days": ["0"]}
        services = _services(values, data_dir)
        add_rows(services.store, 2)
        asyncio.run(run_send(services, {}))
        summary = asyncio.run(run_followups(services, {}))
        rows = {r["contact_email"]: r for r in services.store.rows()}
        services.close()
        delivered = world.smtp.delivered()

    assert summary.get("sent") == 2 and len(delivered) == 4
    firsts = {d.rcpt_tos[0]: d.parsed for d in delivered[:2]}
    for follow in delivered[2:]:
        parsed = follow.parsed
        first = firsts[follow.rcpt_tos[0]]
        assert parsed["From"].addresses[0].addr_spec == first["From"].addresses[0].addr_spec
        assert parsed["In-Reply-To"] == first["Message-ID"]
        assert parsed["Subject"] == "Re: " + first["Subject"]
        row = rows[follow.rcpt_tos[0]]
        assert row["followups_sent"] == "1" and row["gmail_thread_id"] == first["Message-ID"]
        assert follow.user == row["sender_identity"]
