"""The two mailers: the outbox folder (dry run) and Gmail through the real client library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from hub.mail.factory import build_mailer
from hub.mail.outbox import OutboxMailer


def make_message(to="ed@gallery.example", subject="Hello", msgid="<abc.1@hub.example>"):
    msg = EmailMessage()
    msg["From"] = "Artist <me@artist.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg["Date"] = "Mon, 02 Jun 2025 10:00:00 +0000"
    msg.set_content("Hi there,\nwould you like to see my work?\n")
    return msg


def test_default_mailer_is_the_outbox(settings):
    mailer = build_mailer(settings)
    assert isinstance(mailer, OutboxMailer)
    assert mailer.dry_run is True
    assert mailer.folder == settings.outbox_dir


def test_outbox_writes_the_message_bytes_under_a_deterministic_name(settings):
    mailer = build_mailer(settings)
    sent = mailer.send(make_message(), preview_name="h_0001-initial")
    path = settings.outbox_dir / "h_0001-initial.eml"
    assert sent.provider_id == "h_0001-initial.eml"
    assert sent.rfc822_message_id == "<abc.1@hub.example>"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line ends
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["To"] == "ed@gallery.example"
    assert "would you like to see my work?" in parsed.get_content()


def test_outbox_preview_is_idempotent_per_row_and_step(settings):
    mailer = build_mailer(settings)
    mailer.send(make_message(subject="First"), preview_name="h_0001-initial")
    mailer.send(make_message(subject="Second"), preview_name="h_0001-initial")
    mailer.send(make_message(subject="Later"), preview_name="h_0001-followup1")
    files = sorted(p.name for p in settings.outbox_dir.glob("*.eml"))
    assert files == ["h_0001-followup1.eml", "h_0001-initial.eml"]
    subjects = {e.file: e.subject for e in mailer.entries()}
    assert subjects["h_0001-initial.eml"] == "Second"


def test_outbox_name_cannot_escape_the_folder(settings):
    mailer = build_mailer(settings)
    sent = mailer.send(make_message(), preview_name="../../etc/passwd")
    assert "/" not in sent.provider_id
    assert (settings.outbox_dir / sent.provider_id).exists()


def test_outbox_find_sent_by_message_id_then_by_recipient_and_subject(settings):
    mailer = build_mailer(settings)
    mailer.send(make_message(msgid="<x.1@hub.example>"), preview_name="h_1-initial")
    by_id = mailer.find_sent(
        rfc822_message_id="<x.1@hub.example>", to="", subject="", since=datetime.now(UTC)
    )
    assert by_id is not None and by_id.provider_id == "h_1-initial.eml"
    since = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    by_recipient = mailer.find_sent(
        rfc822_message_id="<other@x>", to="ed@gallery.example", subject="Hello", since=since
    )
    assert by_recipient is not None
    too_late = mailer.find_sent(
        rfc822_message_id="<other@x>",
        to="ed@gallery.example",
        subject="Hello",
        since=since + timedelta(hours=2),
    )
    assert too_late is None
    assert mailer.thread_messages("t1") == []
    assert mailer.inbound_since(None).messages == []
