"""The corpus of real bounces, complaints, auto-replies and human mail in tests/fixtures/mail/
(see its SOURCES.md), read through the same paths the hub reads mail: a Gmail ``format=full``
resource converted by ``hub.mail.gmail_parse`` (as the Gmail mailer does), or the raw RFC 822
bytes (as an IMAP reader does).

``corpus.csv`` names each message's expected kind (bounce, complaint, report, auto_reply, reply,
not_bounce), its family (the MTA or provider that wrote it) and its split: ``heldout`` messages
were set aside by hash before any rule was written (and later read, so now a validation set);
``fresh-a``/``fresh-b`` were gathered after the rules were final and measured blind.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from hub.mail.base import MailboxMessage
from hub.mail.gmail_parse import to_mailbox_message
from hub.mail.rfc822 import to_message
from tests.emulators.gmail_payload import StoredMessage

CORPUS_DIR = Path(__file__).resolve().parent / "fixtures" / "mail"
ARRIVED = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
OWN_ADDRESS = "outreach@hub.example"


@dataclass(frozen=True)
class CorpusMessage:
    path: str
    source: str
    family: str
    expected: str
    severity: str
    split: str

    @property
    def raw(self) -> bytes:
        return (CORPUS_DIR / self.path).read_bytes()


def load_corpus(split: str | None = None) -> list[CorpusMessage]:
    with open(CORPUS_DIR / "corpus.csv", newline="") as fh:
        rows = [CorpusMessage(**row) for row in csv.DictReader(fh)]
    return [r for r in rows if split is None or r.split == split]


def _parsed(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _lenient(raw: bytes) -> EmailMessage:
    # Some real bounces carry headers the strict policy cannot even read back; Gmail keeps
    # them, so the emulator's resource is built from the compat32 reading instead.
    lenient = policy.compat32.clone(message_factory=EmailMessage)
    return message_from_bytes(raw, policy=lenient)  # type: ignore[return-value]


def as_gmail(raw: bytes, *, message_id: str = "m1", thread_id: str = "t1") -> MailboxMessage:
    """What the Gmail mailer's ``inbound_since`` hands the classifier for this message."""
    for parse in (_parsed, _lenient):
        stored = StoredMessage(
            id=message_id,
            thread_id=thread_id,
            label_ids=["INBOX", "UNREAD"],
            raw=raw,
            parsed=parse(raw),
            internal_date_ms=int(ARRIVED.timestamp() * 1000),
            history_id=1,
        )
        try:
            resource = stored.resource("full")
        except Exception:  # the strict reading failed: take the lenient one
            if parse is _lenient:
                raise
            continue
        return to_mailbox_message(resource, with_text=True)
    raise AssertionError("unreachable")


def as_imap(raw: bytes) -> MailboxMessage:
    """What an IMAP reader hands the classifier: the raw RFC 822 bytes, converted."""
    return to_message(raw, provider_id="1", internal_date=ARRIVED)
