"""Any SMTP server for sending (stdlib ``smtplib``), its IMAP mailbox for Sent and replies.

Exactly once (DESIGN.md §5) on SMTP: SMTP itself cannot be asked afterwards whether it took a
message, so the Sent folder is the record.

- ``imap_append_sent = true`` (most hosts): the copy is APPENDed to Sent *before* the SMTP
  transaction, marked ``\\Draft`` (pending). The server's 250 clears the mark; a definite
  refusal (4xx/5xx, or a failure before DATA) deletes the copy. A failure after the message
  data went out (a dropped connection, a timeout) leaves the copy: the outcome is unknown, and
  reconciliation finds it and counts the step as sent -- the hub never sends twice. The price:
  a crash in the moment between filing the copy and the server's answer counts the message as
  sent even if the server never completed it (at most once, never twice).
- ``imap_append_sent = false``: the server files sent mail itself (Gmail, Microsoft 365), and
  reconciliation searches what it filed.

SMTP has no thread ids; a thread is named by its first message's Message-ID, which is what
``thread_messages`` searches for (``References``/``In-Reply-To``) in the inbox and Sent.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses

from hub.mail.base import InboundBatch, MailboxMessage, Mailer, MailerError, SentMessage
from hub.mail.imap import ImapMailbox
from hub.mail.outbox import message_bytes

_LEADING_DOT = re.compile(rb"(?m)^\.")
TRANSPORT_FAILURES = (smtplib.SMTPException, OSError, ssl.SSLError, socket.timeout)


class _Refused(Exception):
    """The server answered no: nothing was sent. ``account``: it refused our login."""

    def __init__(self, message: str, *, account: bool = False):
        super().__init__(message)
        self.account = account


def _refuses_login(exc: BaseException) -> bool:
    """535/534 to AUTH, or 530 "authentication required" to MAIL FROM."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 530


class _Unknown(Exception):
    """The connection failed after the message data went out: it may have been taken."""


class SmtpMailer(Mailer):
    provider_name = "smtp"
    dry_run = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        sender: str,
        mailbox: ImapMailbox,
        append_sent: bool = True,
        timeout: float = 30.0,
    ):
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.sender = sender
        self.mailbox = mailbox
        self.append_sent = append_sent
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_identity(cls, identity, settings) -> SmtpMailer:
        mailbox = ImapMailbox.for_identity(identity, settings.smtp_timeout)
        return cls(
            host=identity.smtp_host,
            port=identity.smtp_port,
            security=identity.smtp_security,
            username=identity.smtp_username,
            password=identity.smtp_password.get_secret_value(),
            sender=identity.address,
            mailbox=mailbox,
            append_sent=identity.imap_append_sent,
            timeout=settings.smtp_timeout,
        )

    # --- the SMTP connection ---------------------------------------------------------------
    def connect(self) -> smtplib.SMTP:
        """Connect, EHLO, STARTTLS when asked, AUTH when a username is set."""
        context = ssl.create_default_context()
        if self.security == "tls":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self._password)
        except BaseException:
            conn.close()
            raise
        return conn

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (
                f"SMTP {self.host}:{self.port} refused the login ({exc.smtp_code}): check the "
                "SMTP username and password"
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            said = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return f"SMTP {self.host}:{self.port} answered {exc.smtp_code} {said[:200]}"
        return f"SMTP {self.host}:{self.port}: {str(exc) or type(exc).__name__}"[:300]

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a dead socket needs no more closing
                conn.close()

    def _transmit(
        self, raw: bytes, recipients: list[str], answer_awaited: Callable[[], None] | None
    ) -> None:
        """One SMTP transaction on the kept-open connection (reopened once if stale)."""
        options = [] if raw.isascii() else ["BODY=8BITMIME"]
        for attempt in (1, 2):
            fresh = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self.connect()
                conn = self._conn
                if options and not conn.has_extn("8bitmime"):
                    options = []
                code, said = conn.mail(self.sender, options)
                break
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                self._drop()
                if fresh or attempt == 2:  # nothing was sent: the transaction never began
                    raise _Refused(self.describe(exc)) from exc
            except TRANSPORT_FAILURES as exc:
                self._drop()
                raise _Refused(self.describe(exc), account=_refuses_login(exc)) from exc
        try:
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, said, self.sender)
            for recipient in recipients:
                code, said = conn.rcpt(recipient)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({recipient: (code, said)})
            code, said = conn.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, said)
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset(conn)
            ((code, said),) = exc.recipients.values()
            raise _Refused(self.describe(smtplib.SMTPResponseException(code, said))) from exc
        except TRANSPORT_FAILURES as exc:
            self._reset(conn)
            raise _Refused(self.describe(exc), account=_refuses_login(exc)) from exc
        body = _LEADING_DOT.sub(b"..", raw)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        try:
            conn.send(body + b".\r\n")
            if answer_awaited is not None:
                answer_awaited()
            code, said = conn.getreply()
        except TRANSPORT_FAILURES as exc:  # the data went out; the answer did not come back
            self._drop()
            raise _Unknown(self.describe(exc)) from exc
        if code != 250:
            raise _Refused(self.describe(smtplib.SMTPDataError(code, said)))

    def _reset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except TRANSPORT_FAILURES:
            self._drop()

    # --- the Mailer interface --------------------------------------------------------------
    def send(
        self,
        message: EmailMessage,
        *,
        thread_id: str | None = None,
        preview_name: str | None = None,
        wire: bytes | None = None,
        answer_awaited: Callable[[], None] | None = None,
    ) -> SentMessage:
        raw = wire or message_bytes(message)
        message_id = str(message.get("Message-ID", "") or "").strip()
        recipients = [
            addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        ]
        with self._lock:
            copy = None
            if self.append_sent:
                try:
                    copy = self.mailbox.append_sent(raw, pending=True)
                except MailerError as exc:
                    raise MailerError(
                        f"not sent: its copy could not be filed in Sent ({exc})",
                        account=exc.account,
                    ) from exc
            try:
                self._transmit(raw, recipients, answer_awaited)
            except _Refused as exc:
                if self.append_sent:
                    self._settle_copy(copy, message_id, keep=False)
                raise MailerError(str(exc), account=exc.account) from exc
            except _Unknown as exc:  # the pending copy stays: reconciliation counts it as sent
                raise MailerError(str(exc), ambiguous=True) from exc
            if self.append_sent:
                self._settle_copy(copy, message_id, keep=True)
        return SentMessage(
            provider_id=message_id, thread_id=thread_id or message_id, rfc822_message_id=message_id
        )

    def _settle_copy(self, uid: int | None, message_id: str, *, keep: bool) -> None:
        # The SMTP outcome is already decided; failing to tidy the copy must not change it.
        with contextlib.suppress(MailerError):
            self.mailbox.settle_copy(uid, message_id, keep=keep)

    def find_sent(
        self, *, rfc822_message_id: str, to: str, subject: str, since: datetime
    ) -> SentMessage | None:
        return self.mailbox.find_sent(
            message_id=rfc822_message_id, to=to, subject=subject, since=since
        )

    def thread_messages(self, thread_id: str) -> list[MailboxMessage]:
        return self.mailbox.thread(thread_id)

    def inbound_since(self, cursor: str | None, *, start: datetime | None = None) -> InboundBatch:
        return self.mailbox.inbound_since(cursor, start=start)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(TRANSPORT_FAILURES):
                    self._conn.quit()
                self._drop()
        self.mailbox.close()
