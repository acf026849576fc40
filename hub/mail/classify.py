"""What a message in a prospect's thread means: a reply, an auto-reply, a bounce or an
"unsubscribe me" in words. Pure: headers, text and ``now`` in, a :class:`Classification` out.

Signals, in the order they are tried:
- our own message (From is one of our addresses, or only the SENT label): ignored;
- complaint: an RFC 5965 ARF feedback report or a provider's complaint notice
  (:mod:`hub.mail.bounces.complaints`); DMARC ``auth-failure`` reports are a ``report``;
- bounce: see :mod:`hub.mail.bounces.detect` (mail-system sender, RFC 3464 structure,
  ``X-Failed-Recipients``, known subjects, quoted SMTP transcripts) and
  :mod:`hub.mail.bounces.analysis` (hard/soft, failed recipient, diagnostic);
- auto-reply: RFC 3834 ``Auto-Submitted`` other than ``no``, ``X-Autoreply``/``X-Autorespond``,
  ``Precedence: auto_reply``, a null sender sent as bulk, a typical out-of-office subject (in
  a dozen languages) or a challenge-response request. The latest return date in the text
  (within 180 days, :mod:`hub.mail.return_dates`) says when follow-ups may resume, else a week
  from now;
- unsubscribe: the person's own words (quoted text cut off) ask to be removed;
- anything else from the other side: a reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import Message
from email.utils import getaddresses, parseaddr

from hub.mail.base import MailboxMessage
from hub.mail.bounces import analysis, detect
from hub.mail.bounces.complaints import read_complaint
from hub.mail.bounces.mailman import MailmanVerdict, ask_mailman
from hub.mail.bounces.original import quoted_message_ids
from hub.mail.return_dates import return_date
from hub.mail.rfc822 import to_message

KINDS = (
    "own",
    "reply",
    "auto_reply",
    "bounce_hard",
    "bounce_soft",
    "unsubscribe",
    "complaint",  # a spam complaint (ARF feedback report, provider notice)
    "report",  # a feedback report that is no complaint (DMARC auth-failure): changes nothing
)
DEFAULT_AUTO_REPLY_PAUSE = timedelta(days=7)
SNIPPET_CHARS = 500


@dataclass(frozen=True)
class Classification:
    kind: str  # one of KINDS
    at: datetime | None = None  # when the message arrived
    snippet: str = ""  # the person's own words, shortened
    resume_at: datetime | None = None  # auto_reply: follow-ups wait until then
    status_code: str = ""  # bounce: RFC 3463 status such as 5.1.1
    detail: str = ""  # bounce: diagnostic text
    recipient: str = ""  # bounce: the address that failed; complaint: who complained
    feedback_type: str = ""  # complaint/report: RFC 5965 Feedback-Type (abuse, fraud, ...)
    # bounce/complaint: Message-IDs of our original, as the report quotes them (no brackets)
    original_message_ids: tuple[str, ...] = ()


# --- addresses --------------------------------------------------------------------------------
def address_of(header: str) -> str:
    return parseaddr(header or "")[1].strip().lower()


def is_own(message: MailboxMessage, own_addresses: Iterable[str]) -> bool:
    ours = {a.strip().lower() for a in own_addresses if a and a.strip()}
    if address_of(message.headers.get("from", "")) in ours:
        return True
    labels = set(message.label_ids)
    return "SENT" in labels and "INBOX" not in labels


# --- bounces and complaints -------------------------------------------------------------------
def is_bounce(message: MailboxMessage) -> bool:
    return detect.is_bounce(message, mailman=ask_mailman(message.mime))


def _bounce(
    message: MailboxMessage, own_addresses: Iterable[str], mailman: MailmanVerdict
) -> Classification:
    facts = analysis.analyse(message, own_addresses=own_addresses, mailman=mailman)
    return Classification(
        kind="bounce_hard" if facts.permanent else "bounce_soft",
        at=message.internal_date,
        status_code=facts.status_code,
        detail=facts.detail,
        recipient=facts.recipient,
        original_message_ids=tuple(quoted_message_ids(message)),
    )


def _complaint(message: MailboxMessage) -> Classification | None:
    found = read_complaint(message)
    if found is None:
        return None
    return Classification(
        kind="complaint" if found.is_complaint else "report",
        at=message.internal_date,
        recipient=found.recipient,
        feedback_type=found.feedback_type,
        original_message_ids=tuple(quoted_message_ids(message)),
    )


# --- auto-replies -----------------------------------------------------------------------------
# Out-of-office subjects: words that only an automatic answer uses are looked for anywhere
# ("Arpus biroja ... automātiska atbilde: <our subject>"); looser ones only at the start.
_AUTO_SUBJECT = re.compile(
    r"automatic reply|auto[- ]?reply|autoreply|out of (the )?office|abwesenheit|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|automatisch antwoord|"
    r"automatische antwort|automatyczna odpowied|odpowied[źz] automatyczna|resposta autom[áa]tica|"
    r"automaattinen vastaus|autosvar|automatisk svar|autom[āa]tiska atbilde|automatinis atsakymas|"
    r"automaatne vastus|automatick[áa] odpov[ěe]ď|automatikus v[áa]lasz|otomatik yan[ıi]t|"
    r"автоматический ответ|自動応答|自动回复|"
    r"^\s*\[?(auto:|ooo\b|away from (the )?office|on (annual )?leave|vacation|"
    r"thank you for (your )?(e-?mail|message|contacting))",
    re.I,
)
# Challenge-response systems (Bluebottle, Boxbe, "whitelist" filters) hold our message until we
# prove we are human: an automatic answer, not the person's.
_CHALLENGE = re.compile(
    r"add(?:ed)? (?:you|your (?:e-?mail )?address) to (?:the recipient's |my |their )?"
    r"(?:allowed|approved|white|safe|trusted)[- ]?(?:senders? )?list|verify (?:that )?you are "
    r"(?:a )?(?:real|human)|challenge[- ]response|this account is protected by",
    re.I,
)


def is_auto_reply(message: MailboxMessage) -> bool:
    headers = message.headers
    if headers.get("auto-submitted", "no").strip().lower() not in ("", "no"):
        return True
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    precedence = headers.get("precedence", "").strip().lower()
    if precedence == "auto_reply":
        return True
    # Sent with an empty envelope sender (RFC 3834 §3.3) and as bulk: a responder, not a list.
    if precedence in ("bulk", "junk") and headers.get("return-path", "x").strip() in ("<>", ""):
        return True
    if _AUTO_SUBJECT.search(detect.decoded(headers.get("subject", ""))):
        return True
    return bool(_CHALLENGE.search((message.body_text or message.snippet)[:3000]))


def _auto_reply(message: MailboxMessage, now: datetime) -> Classification:
    # Read the return date as of the day the answer arrived, not the day we look at it: the
    # follow-up's last-moment thread check sees the same auto-reply again weeks later, and a
    # "+7 days from now" reading then would postpone the follow-up for ever.
    received = message.internal_date or now
    text = f"{message.headers.get('subject', '')}\n{message.body_text or message.snippet}"
    back = return_date(text, received)
    if back is not None:
        resume = datetime.combine(back + timedelta(days=1), time(9, 0), tzinfo=UTC)
    else:
        resume = received + DEFAULT_AUTO_REPLY_PAUSE
    return Classification(
        kind="auto_reply", at=message.internal_date, snippet=_snip(text), resume_at=resume
    )


# --- the person's own words -------------------------------------------------------------------
_QUOTE_HEADER = re.compile(
    r"^(On\b[^\n]*(?:\n[^\n]*)?\bwrote:|Le\b[^\n]*a écrit\s?:|Am\b[^\n]*schrieb[^\n]*:|"
    r"-{2,}\s*Original Message\s*-{2,}|From:[^\n]*\n(?:Sent|Date):)",
    re.I | re.M,
)
_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bremove (me|us|my (e-?mail|address))\b|\btake (me|us) off\b|"
    r"\bopt(ed)?[- ]?out\b|\bstop (e-?mailing|sending|contacting|writing to)\b|"
    r"\b(do not|don'?t|never) (e-?mail|contact|write to|message) (me|us)\b|"
    r"\bno more (e-?mails|messages)\b",
    re.I,
)


def own_words(message: MailboxMessage) -> str:
    """The new text of a reply: everything before the quoted original, minus '>' lines."""
    text = message.body_text or message.snippet
    cut = _QUOTE_HEADER.search(text)
    if cut:
        text = text[: cut.start()]
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip() or message.snippet.strip()


def _snip(text: str) -> str:
    return " ".join(text.split())[:SNIPPET_CHARS]


# --- the entry point --------------------------------------------------------------------------
def classify(
    message: MailboxMessage | bytes | str | Message,
    *,
    own_addresses: Iterable[str],
    now: datetime,
) -> Classification:
    """``message`` as the mailbox reader gives it, or a raw RFC 822 message (IMAP, .eml)."""
    if not isinstance(message, MailboxMessage):
        message = to_message(message)
    own_addresses = list(own_addresses)
    if is_own(message, own_addresses):
        return Classification(kind="own", at=message.internal_date)
    if (complaint := _complaint(message)) is not None:
        return complaint
    mailman = ask_mailman(message.mime)
    if detect.is_bounce(message, mailman=mailman):
        return _bounce(message, own_addresses, mailman)
    if is_auto_reply(message):
        return _auto_reply(message, now)
    words = own_words(message)
    kind = "unsubscribe" if _UNSUBSCRIBE.search(words) else "reply"
    return Classification(kind=kind, at=message.internal_date, snippet=_snip(words))


def sender_addresses(message: MailboxMessage) -> list[str]:
    """Every address in From/Reply-To (a reply may come from a colleague's address)."""
    values = [message.headers.get("from", ""), message.headers.get("reply-to", "")]
    return [addr.lower() for _, addr in getaddresses([v for v in values if v]) if addr]
