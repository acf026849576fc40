"""The mailer contract: Gmail (real) and the outbox folder (embedded default, dry run).

Messages are built as ``email.message.EmailMessage`` with the default policy (which refuses
CR/LF in header values) and carry a pre-made RFC 5322 ``Message-ID`` so a send whose outcome
is unknown can be reconciled against the Sent mailbox before anything is sent again.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage, Message


@dataclass(frozen=True)
class SentMessage:
    """What the provider kept of a message we sent."""

    provider_id: str  # Gmail message id, or the outbox file name
    thread_id: str  # Gmail threadId ("" for the outbox)
    rfc822_message_id: str = ""


@dataclass(frozen=True)
class MailboxMessage:
    """A message seen in the mailbox (metadata only), for reply/bounce detection."""

    provider_id: str
    thread_id: str
    headers: dict[str, str]  # lower-cased header name -> value (From, To, Subject, ...)
    snippet: str = ""
    internal_date: datetime | None = None
    label_ids: tuple[str, ...] = ()
    content_type: str = ""  # top-level MIME type, e.g. multipart/report
    # Plain text of the message (inbound_since fills it: classification reads return dates,
    # "please unsubscribe me" and bounce status codes there); thread_messages may leave it "".
    body_text: str = ""
    # Headers of the message a report hands back (its text/rfc822-headers or message/rfc822
    # part): our original Message-ID is there when a bounce arrives outside our thread.
    original_headers: str = ""
    # The MIME tree when the reader has the whole message (Gmail format=full, IMAP RFC 822):
    # Mailman's bounce detectors (flufl.bounce) read parts, not flattened text.
    mime: Message | None = field(default=None, compare=False, repr=False)


@dataclass
class InboundBatch:
    """New messages since a cursor, and the cursor to pass next time."""

    messages: list[MailboxMessage] = field(default_factory=list)
    cursor: str = ""


class MailerError(Exception):
    """The provider refused or failed. ``ambiguous`` means it may have sent the message
    anyway (timeout, 5xx after the request went out): reconcile before retrying.
    ``account`` means it refused our credentials (SMTP 535, an IMAP login, Gmail's
    ``invalid_grant`` or 401): every message would fail alike, so the job stops instead."""

    def __init__(
        self,
        message: str,
        *,
        ambiguous: bool = False,
        retry_after: float | None = None,
        quota: bool = False,
        account: bool = False,
    ):
        super().__init__(message)
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.quota = quota
        self.account = account


class Mailer(abc.ABC):
    provider_name: str = "abstract"
    dry_run: bool = False  # True: nothing leaves the machine; rows keep their status

    @abc.abstractmethod
    def send(
        self,
        message: EmailMessage,
        *,
        thread_id: str | None = None,
        preview_name: str | None = None,
        wire: bytes | None = None,
        answer_awaited: Callable[[], None] | None = None,
    ) -> SentMessage:
        """Send one message (a reply when ``thread_id`` is given). ``preview_name``
        (``<hub_id>-<step>``) names the dry-run file, so a second preview overwrites the first;
        real providers ignore it. ``wire``: the message's ``message_bytes`` when the caller
        serialised it already (the send job does, while the previous message is in flight).
        ``answer_awaited``: called (from the sending thread) once the whole message is out
        and only the provider's answer is awaited, so the caller may use that wait; a
        provider that cannot tell need not call it."""

    @abc.abstractmethod
    def find_sent(
        self, *, rfc822_message_id: str, to: str, subject: str, since: datetime
    ) -> SentMessage | None:
        """Look in the Sent mailbox for a message we may already have sent: by
        ``rfc822msgid:`` first, then by recipient + time window + subject (Gmail may
        replace a client-supplied Message-ID)."""

    @abc.abstractmethod
    def thread_messages(self, thread_id: str) -> list[MailboxMessage]:
        """Every message of a thread (metadata), oldest first."""

    @abc.abstractmethod
    def inbound_since(self, cursor: str | None, *, start: datetime | None = None) -> InboundBatch:
        """Messages that arrived since ``cursor``. Without a cursor (the first check ever),
        messages since ``start`` (the first send: a reply may already be waiting), or none
        and start watching from now when ``start`` is None. The cost grows with new mail,
        not with the number of threads ever sent."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
