"""Spam complaints: RFC 5965 ARF feedback reports (``multipart/report;
report-type=feedback-report`` with a ``message/feedback-report`` part, as Yahoo, AOL, Comcast and
the Return Path / Validity feedback loops send them) and the non-ARF notices some providers send
(Hotmail/Outlook.com JMRP: "complaint about message from ..." with our message attached).

``auth-failure`` (RFC 6591, DMARC forensic) and ``not-spam`` reports are not complaints: nobody
asked not to be written to, so they change nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr

from hub.mail.base import MailboxMessage
from hub.mail.bounces.detect import decoded

NOT_COMPLAINTS = frozenset({"auth-failure", "not-spam", "dmarc"})
_FEEDBACK_TYPE = re.compile(r"^[ \t]*Feedback-Type:[ \t]*([\w.-]+)", re.I | re.M)
_ORIGINAL_RCPT = re.compile(r"^[ \t]*Original-Rcpt-To:[ \t]*<?([^\s<>]+@[^\s<>]+)>?", re.I | re.M)
_HOTMAIL_RCPT = re.compile(r"^X-HmXmrOriginalRecipient:[ \t]*<?([^\s<>]+@[^\s<>]+)>?", re.I | re.M)
_TO = re.compile(r"^To:[ \t]*(.+(?:\n[ \t]+.+)*)", re.I | re.M)
_NOTICE_SUBJECT = re.compile(
    r"complaint about message|abuse report|spam (?:complaint|report)|feedback loop|\bfbl\b|"
    r"marked as spam|reported as spam|junk mail report",
    re.I,
)
_NOTICE_SENDERS = frozenset({"staff@hotmail.com", "scomp@aol.net", "feedbackloop@comcast.net"})


@dataclass(frozen=True)
class Complaint:
    feedback_type: str  # abuse, fraud, virus, other, ... (RFC 5965 §3.5)
    recipient: str = ""  # the person who complained, when the report names them

    @property
    def is_complaint(self) -> bool:
        return self.feedback_type not in NOT_COMPLAINTS


def _is_arf(message: MailboxMessage) -> bool:
    content_type = message.headers.get("content-type", "").lower()
    if "feedback-report" in content_type:
        return True
    return message.content_type.lower() == "multipart/report" and bool(
        _FEEDBACK_TYPE.search(message.body_text)
    )


def _is_provider_notice(message: MailboxMessage) -> bool:
    if not message.original_headers:
        return False  # a notice always carries the message complained about
    sender = parseaddr(message.headers.get("from", ""))[1].lower()
    subject = decoded(message.headers.get("subject", ""))
    return sender in _NOTICE_SENDERS or bool(_NOTICE_SUBJECT.search(subject))


def _complainant(message: MailboxMessage) -> str:
    for pattern, text in (
        (_ORIGINAL_RCPT, message.body_text),
        (_HOTMAIL_RCPT, message.original_headers),
    ):
        if found := pattern.search(text or ""):
            return found.group(1).lower()
    # The To of our message, when it names exactly one address (ARF senders often redact it).
    if found := _TO.search(message.original_headers or ""):
        addresses = [a for _, a in getaddresses([found.group(1)]) if "@" in a]
        if len(addresses) == 1:
            return addresses[0].lower()
    return ""


def read_complaint(message: MailboxMessage) -> Complaint | None:
    """The complaint (or other feedback report) this message is, or None."""
    if _is_arf(message):
        found = _FEEDBACK_TYPE.search(message.body_text)
        kind = found.group(1).lower() if found else "abuse"
        return Complaint(feedback_type=kind, recipient=_complainant(message))
    if _is_provider_notice(message):
        return Complaint(feedback_type="abuse", recipient=_complainant(message))
    return None
