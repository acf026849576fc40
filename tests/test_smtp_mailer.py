"""The SMTP/IMAP mailer against real servers: smtplib against the aiosmtpd stand-in (AUTH,
STARTTLS, implicit TLS, faults) and imapclient against dovecot (Sent copies, new mail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from hub.mail.base import MailerError
from hub.mail.imap import ImapMailbox
from hub.mail.smtp import SmtpMailer
from tests.emulators.dovecot import available, running_dovecot
from tests.emulators.smtp import running_smtp, self_signed, server_context

pytestmark = [
    pytest.mark.skipif(not available(), reason="needs dovecot (scripts/system-deps test)"),
    pytest.mark.timeout(60),
]

ME = "ada@artist.example"
IMAP_PASSWORD = "imap-secret"
SMTP_PASSWORD = "smtp-secret"


def message(n: int, to: str = "editor@gallery.example") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Ada <{ME}>"
    msg["To"] = to
    msg["Subject"] = f"Paintings {n} – spring"
    msg["Message-ID"] = f"<m{n}@artist.example>"
    msg.set_content(f"Hello {n},\n.a line starting with a dot\nAda — Manchester\n")
    return msg


@pytest.fixture
def imap():
    with running_dovecot({ME: IMAP_PASSWORD}) as server:
        yield server


def mailer_for(imap, port: int, **options) -> SmtpMailer:
    box = ImapMailbox(
        host=imap.host, port=imap.port, security="none", username=ME, password=IMAP_PASSWORD
    )
    values = dict(host="127.0.0.1", port=port, security="none", username="ada")
    values |= dict(password=SMTP_PASSWORD, sender=ME, mailbox=box, timeout=10.0)
    return SmtpMailer(**(values | options))


def sent_folder(imap) -> list[bytes]:
    return imap.messages(ME, "Sent")


def flags_in_sent(imap) -> list[tuple]:
    client = imap.client(ME)
    try:
        client.select_folder("Sent", readonly=True)
        return [v[b"FLAGS"] for v in client.fetch(client.search(["ALL"]), ["FLAGS"]).values()]
    finally:
        client.logout()


def test_send_authenticates_delivers_exact_bytes_and_files_a_confirmed_copy(imap):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port)
        sent = mailer.send(message(1))
        mailer.send(message(2))  # the same connection, kept open
        mailer.close()
    assert sent.rfc822_message_id == "<m1@artist.example>" == sent.thread_id
    assert [d.user for d in smtp.delivered()] == ["ada", "ada"] and smtp.sessions == 1
    first = smtp.delivered()[0].parsed
    assert first["Subject"] == "Paintings 1 – spring"
    assert ".a line starting with a dot" in first.get_content()  # dot-stuffing undone
    assert len(sent_folder(imap)) == 2
    assert all(b"\\Draft" not in flags for flags in flags_in_sent(imap))


def test_wrong_password_is_a_clear_error_and_nothing_is_sent(imap):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port, password="wrong")
        with pytest.raises(MailerError) as failed:
            mailer.send(message(1))
        mailer.close()
    assert not failed.value.ambiguous
    assert "refused the login" in str(failed.value) and "wrong" not in str(failed.value)
    assert smtp.delivered() == [] and sent_folder(imap) == []  # the pending copy was removed


def test_without_username_the_hub_sends_without_auth(imap):
    with running_smtp() as smtp:
        mailer = mailer_for(imap, smtp.port, username="")
        mailer.send(message(1))
        mailer.close()
    assert [d.user for d in smtp.delivered()] == [""]


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_tls_modes_verify_the_server_certificate(imap, tmp_path, monkeypatch, mode):
    cert, key = self_signed(tmp_path)
    context = server_context(cert, key)
    options = {"tls_context": context} if mode == "starttls" else {"implicit_tls": context}
    with running_smtp(users={"ada": SMTP_PASSWORD}, **options) as smtp:
        mailer = mailer_for(imap, smtp.port, security=mode)
        with pytest.raises(MailerError):  # an unknown certificate is refused
            mailer.send(message(1))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now the client trusts it
        mailer.send(message(2))
        mailer.close()
    assert [d.parsed["Message-ID"] for d in smtp.delivered()] == ["<m2@artist.example>"]


def test_drop_after_data_is_ambiguous_and_reconciliation_finds_the_copy(imap):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port)
        smtp.inject("drop_after_data")
        with pytest.raises(MailerError) as failed:
            mailer.send(message(1))
        since = datetime.now(UTC) - timedelta(minutes=5)
        found = mailer.find_sent(
            rfc822_message_id="<m1@artist.example>", to="x@y.example", subject="", since=since
        )
        mailer.send(message(2))  # the next send reconnects by itself

        def by_subject(n: int):
            return mailer.find_sent(
                rfc822_message_id="",
                to="editor@gallery.example",
                subject=f"Paintings {n} – spring",
                since=since,
            )

        # Without the Message-ID, only a confirmed copy counts: a pending one could be an
        # earlier refused attempt whose copy was not deleted.
        pending, confirmed = by_subject(1), by_subject(2)
        mailer.close()
    assert failed.value.ambiguous
    assert found is not None and found.rfc822_message_id == "<m1@artist.example>"
    assert pending is None
    assert confirmed is not None and confirmed.rfc822_message_id == "<m2@artist.example>"
    assert len(smtp.delivered()) == 2


@pytest.mark.parametrize("fault", ["data_4xx", "data_5xx", "rcpt_5xx"])
def test_refusals_are_definite_and_leave_no_copy(imap, fault):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port)
        smtp.inject(fault)
        with pytest.raises(MailerError) as failed:
            mailer.send(message(1))
        found = mailer.find_sent(
            rfc822_message_id="<m1@artist.example>",
            to="",
            subject="",
            since=datetime.now(UTC) - timedelta(minutes=5),
        )
        mailer.send(message(2))  # the connection is still usable after RSET
        mailer.close()
    code = {"data_4xx": "451", "data_5xx": "554", "rcpt_5xx": "550"}[fault]
    assert not failed.value.ambiguous and code in str(failed.value)
    assert found is None
    assert [d.parsed["Message-ID"] for d in smtp.delivered()] == ["<m2@artist.example>"]
    assert len(sent_folder(imap)) == 1


def test_server_that_files_sent_mail_itself_gets_no_append(imap):
    def file_in_sent(user: str, raw: bytes) -> None:
        imap.append(ME, "Sent", raw)

    with running_smtp(users={"ada": SMTP_PASSWORD}, on_accept=file_in_sent) as smtp:
        mailer = mailer_for(imap, smtp.port, append_sent=False)
        mailer.send(message(1))
        mailer.close()
    assert len(sent_folder(imap)) == 1  # the server's copy only


def test_new_mail_is_read_once_by_uid_cursor(imap):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port)
        first = mailer.inbound_since(None)  # the first check ever: start watching from now
        reply = EmailMessage()
        reply["From"] = "editor@gallery.example"
        reply["To"] = ME
        reply["Subject"] = "Re: Paintings"
        reply["Message-ID"] = "<r1@gallery.example>"
        reply["In-Reply-To"] = reply["References"] = "<m1@artist.example>"
        reply.set_content("Yes please, send the catalogue.")
        imap.append(ME, "INBOX", bytes(reply))
        second = mailer.inbound_since(first.cursor)
        third = mailer.inbound_since(second.cursor)
        mailer.close()
    assert first.messages == []
    assert [m.headers["message-id"] for m in second.messages] == ["<r1@gallery.example>"]
    assert second.messages[0].thread_id == "<m1@artist.example>"
    assert "send the catalogue" in second.messages[0].body_text
    assert third.messages == []  # no re-scan


def test_sent_folder_by_special_use_or_a_clear_error(imap):
    box = ImapMailbox(
        host=imap.host, port=imap.port, security="none", username=ME, password=IMAP_PASSWORD
    )
    assert box.check() == "Sent"
    box.close()
    wrong = ImapMailbox(
        host=imap.host, port=imap.port, security="none", username=ME, password="nope"
    )
    with pytest.raises(MailerError) as failed:
        wrong.check()
    assert "nope" not in str(failed.value)


def test_a_changed_uidvalidity_reads_by_date_instead_of_trusting_old_uids(imap):
    import json

    box = ImapMailbox(
        host=imap.host, port=imap.port, security="none", username=ME, password=IMAP_PASSWORD
    )
    first = box.inbound_since(None, start=None)
    reply = EmailMessage()
    reply["From"] = "editor@gallery.example"
    reply["To"] = ME
    reply["Subject"] = "Re: Paintings"
    reply["Message-ID"] = "<r2@gallery.example>"
    reply.set_content("Hello")
    imap.append(ME, "INBOX", bytes(reply))
    # The server rebuilt INBOX since (UIDVALIDITY differs) and our UID is past its end: a UID
    # cursor alone would miss the message. The check reads by date from the cursor's time.
    state = json.loads(first.cursor)
    stale = {"INBOX": {"v": state["INBOX"]["v"] + 1, "u": 10_000, "t": state["INBOX"]["t"]}}
    found = box.inbound_since(json.dumps(stale), start=None)
    box.close()
    assert [m.headers["message-id"] for m in found.messages] == ["<r2@gallery.example>"]
    assert json.loads(found.cursor)["INBOX"]["v"] == state["INBOX"]["v"]


def test_a_connection_the_servers_dropped_while_idle_is_reopened(imap):
    with running_smtp(users={"ada": SMTP_PASSWORD}) as smtp:
        mailer = mailer_for(imap, smtp.port)
        mailer.send(message(1))
        # Both servers forget the idle connections (an idle timeout, a restart).
        mailer._conn.sock.shutdown(2)
        mailer.mailbox._client._imap.sock.shutdown(2)
        mailer.send(message(2))
        mailer.close()
    assert [d.parsed["Message-ID"] for d in smtp.delivered()] == [
        "<m1@artist.example>",
        "<m2@artist.example>",
    ]
    assert smtp.sessions == 2 and len(sent_folder(imap)) == 2
