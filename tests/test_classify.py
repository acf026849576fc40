"""Classification of messages in a prospect's thread (pure), fed with messages shaped like the
ones Gmail receives, converted through the same parsing path the Gmail mailer uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage

import pytest

from hub.mail.base import MailboxMessage
from hub.mail.classify import classify
from hub.mail.gmail_parse import to_mailbox_message
from hub.mail.return_dates import return_date
from tests.emulators import gmail_messages as inbound
from tests.emulators.gmail_payload import StoredMessage

ME = "me@artist.example"
NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)


def original() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Artist <{ME}>"
    msg["To"] = "ed@gallery.example"
    msg["Subject"] = "Paintings for your gallery"
    msg["Message-ID"] = "<o.1@hub.example>"
    msg.set_content(
        "Hello Ed,\nwould you like to see my paintings?\n\n"
        "If you'd rather not hear from me, reply and I will not write again, or unsubscribe "
        "here: https://hub.example/u/abc\n"
    )
    return msg


def as_seen(message: EmailMessage, labels=("INBOX", "UNREAD")) -> MailboxMessage:
    stored = StoredMessage(
        id="m1",
        thread_id="t1",
        label_ids=list(labels),
        raw=message.as_bytes(),
        parsed=message,
        internal_date_ms=int(NOW.timestamp() * 1000),
        history_id=1,
    )
    return to_mailbox_message(stored.resource("full"), with_text=True)


def kind_of(message: EmailMessage, **kwargs) -> str:
    return classify(as_seen(message, **kwargs), own_addresses=[ME], now=NOW).kind


def test_a_reply_is_a_reply_with_the_persons_own_words():
    got = classify(
        as_seen(inbound.reply(original(), from_addr="Ed <ed@gallery.example>")),
        own_addresses=[ME],
        now=NOW,
    )
    assert got.kind == "reply"
    assert got.snippet.startswith("Thanks for reaching out!")
    assert "paintings?" not in got.snippet  # the quoted original is cut off
    assert got.at == NOW


def test_our_own_messages_are_ignored():
    assert kind_of(original(), labels=("SENT",)) == "own"
    assert kind_of(original(), labels=("SENT", "INBOX")) == "own"  # From is ours


def test_quoted_unsubscribe_footer_does_not_make_a_reply_an_unsubscribe():
    reply = inbound.reply(original(), from_addr="ed@gallery.example", body="Sure, send them!")
    assert "unsubscribe" in reply.get_content()  # it is there, quoted
    assert kind_of(reply) == "reply"


def test_gmail_style_quote_header_is_cut_off():
    msg = inbound.reply(original(), from_addr="ed@gallery.example", body="Sounds lovely.")
    text = (
        "Sounds lovely.\n\nOn Fri, Jun 20, 2025 at 9:00 AM Artist <\nme@artist.example> wrote:\n"
        "If you'd rather not hear from me, unsubscribe here\n"
    )
    msg.set_content(text)
    assert kind_of(msg) == "reply"


@pytest.mark.parametrize(
    "words",
    [
        "Please remove me from your list.",
        "unsubscribe",
        "Take me off your mailing list please",
        "Stop emailing me.",
        "Do not contact us again.",
        "I'd like to opt out.",
        "Please don't email me anymore",
    ],
)
def test_unsubscribe_in_words(words):
    msg = inbound.unsubscribe_request(original(), from_addr="ed@gallery.example", body=words)
    assert kind_of(msg) == "unsubscribe"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("I am out of the office until 14 July with no access to email.", "2025-07-15"),
        ("Back on July 3rd, 2025. For urgent matters call the desk.", "2025-07-04"),
        ("Away from 21 June to 2025-07-08.", "2025-07-09"),
        ("Returning 03/07/2025.", "2025-07-04"),  # 3 July or March 7: take the later
        ("I'm travelling and will reply when I can.", None),
        ("I was away until 1 March 2025.", None),  # in the past: ignored
    ],
)
def test_out_of_office_moves_followups_past_the_return_date(body, expected):
    msg = inbound.auto_reply(original(), from_addr="ed@gallery.example", body=body)
    got = classify(as_seen(msg), own_addresses=[ME], now=NOW)
    assert got.kind == "auto_reply"
    if expected is None:
        assert got.resume_at == NOW + timedelta(days=7)
    else:
        assert got.resume_at.date().isoformat() == expected
        assert got.resume_at > NOW


def test_auto_reply_recognised_by_subject_alone_and_auto_submitted_no_is_not():
    msg = inbound.reply(original(), from_addr="ed@gallery.example", body="Away till Monday.")
    del msg["Subject"]
    msg["Subject"] = "Out of Office: Paintings for your gallery"
    assert kind_of(msg) == "auto_reply"
    plain = inbound.reply(original(), from_addr="ed@gallery.example")
    plain["Auto-Submitted"] = "no"
    assert kind_of(plain) == "reply"


def test_year_less_date_in_december_means_next_year():
    december = datetime(2025, 12, 20, tzinfo=UTC)
    assert return_date("back on 5 January", december).isoformat() == "2026-01-05"


def test_hard_bounce_names_the_failed_recipient_and_status():
    got = classify(as_seen(inbound.bounce(original(), hard=True)), own_addresses=[ME], now=NOW)
    assert got.kind == "bounce_hard"
    assert got.status_code == "5.1.1"
    assert got.recipient == "ed@gallery.example"
    assert "does not exist" in got.detail


def test_soft_bounce_is_soft():
    got = classify(as_seen(inbound.bounce(original(), hard=False)), own_addresses=[ME], now=NOW)
    assert got.kind == "bounce_soft"
    assert got.status_code == "4.2.2"


def test_bounce_without_codes_uses_the_words_and_defaults_to_soft():
    def dsn(text: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = "MAILER-DAEMON@mx.gallery.example"
        msg["To"] = ME
        msg["Subject"] = "Undelivered Mail Returned to Sender"
        msg.set_content(text)
        return msg

    assert kind_of(dsn("<ed@gallery.example>: User unknown in virtual mailbox")) == "bounce_hard"
    assert kind_of(dsn("Your message is delayed; we will keep trying.")) == "bounce_soft"


# --- bounce families the issue named, written the way those servers write them ---------------
def _plain(from_addr: str, subject: str, body: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = ME
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def test_a_null_sender_under_a_display_name_is_a_bounce():
    msg = _plain(
        "MAILER-DAEMON <>",
        "failure notice",
        "Hi. This is the qmail-send program at mx.example.\n"
        "<ed@gallery.example>:\nRemote host said: 550 5.1.1 No such user\n",
    )
    got = classify(as_seen(msg), own_addresses=[ME], now=NOW)
    assert got.kind == "bounce_hard"
    assert got.recipient == "ed@gallery.example"
    assert got.status_code == "5.1.1"


def test_a_localised_bounce_subject_with_a_transcript_is_a_bounce():
    msg = _plain(
        "Systemverwaltung <admin@mx.example>",
        "Unzustellbar: Paintings for your gallery",
        "Ihre Nachricht konnte nicht zugestellt werden.\n<<< 452 4.2.2 Mailbox voll\n",
    )
    got = classify(as_seen(msg), own_addresses=[ME], now=NOW)
    assert got.kind == "bounce_soft"
    assert got.status_code == "4.2.2"


def test_a_person_who_writes_about_a_failed_delivery_is_still_a_person():
    msg = _plain(
        "Ed <ed@gallery.example>",
        "Re: Paintings for your gallery",
        "Sorry, my first answer could not be delivered, our server was down. Yes, send them!",
    )
    assert kind_of(msg) == "reply"


ARF = """\
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: me@artist.example
Subject: FW: Paintings for your gallery
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B"

--B
Content-Type: text/plain

This is an email abuse report for an email message.
--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 1
Original-Rcpt-To: ed@gallery.example

--B
Content-Type: text/rfc822-headers

From: Artist <me@artist.example>
To: ed@gallery.example
Message-ID: <o.1@hub.example>
Subject: Paintings for your gallery

--B--
"""


def test_an_arf_feedback_report_is_a_complaint_with_its_type():
    msg = message_from_string(ARF, policy=policy.default)
    got = classify(as_seen(msg), own_addresses=[ME], now=NOW)
    assert got.kind == "complaint"
    assert got.feedback_type == "abuse"
    assert got.recipient == "ed@gallery.example"
    assert got.original_message_ids == ("o.1@hub.example",)


def test_exchange_ndrs_are_known_by_their_header_and_their_sender():
    header_only = _plain(
        "Ed <ed@gallery.example>",
        "Paintings for your gallery",
        "Your message to ed@gallery.example couldn't be delivered.",
        X_MS_Exchange_Message_Is_Ndr="",
    )
    assert kind_of(header_only) == "bounce_hard"
    on_premises = _plain(
        "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@gallery.example>",
        "Paintings for your gallery",
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'",
    )
    got = classify(as_seen(on_premises), own_addresses=[ME], now=NOW)
    assert got.kind == "bounce_hard"
    assert got.status_code == "5.1.10"
