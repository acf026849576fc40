"""What a message in a prospect's thread means: a reply, an auto-reply, a bounce or an
"unsubscribe me" in words. Pure: headers, text and ``now`` in, a :class:`Classification` out.

Signals, in the order they are tried:
- our own message (From is one of our addresses, or only the SENT label): ignored;
- bounce: from ``mailer-daemon``/``postmaster``, ``multipart/report; report-type=
  delivery-status`` (RFC 3464) or ``X-Failed-Recipients``. Hard when an RFC 3463 status is
  5.x.x (or the words say the address does not exist), soft for 4.x.x or no code at all;
- auto-reply: RFC 3834 ``Auto-Submitted`` other than ``no``, ``X-Autoreply``/``X-Autorespond``,
  ``Precedence: auto_reply``, or a typical out-of-office subject. The latest return date in the
  text (within 180 days) says when follow-ups may resume, else a week from now;
- unsubscribe: the person's own words (quoted text cut off) ask to be removed;
- anything else from the other side: a reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import getaddresses, parseaddr

from hub.mail.base import MailboxMessage

KINDS = ("own", "reply", "auto_reply", "bounce_hard", "bounce_soft", "unsubscribe")
BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
DEFAULT_AUTO_REPLY_PAUSE = timedelta(days=7)
MAX_RETURN_HORIZON = timedelta(days=180)
SNIPPET_CHARS = 500


@dataclass(frozen=True)
class Classification:
    kind: str  # one of KINDS
    at: datetime | None = None  # when the message arrived
    snippet: str = ""  # the person's own words, shortened
    resume_at: datetime | None = None  # auto_reply: follow-ups wait until then
    status_code: str = ""  # bounce: RFC 3463 status such as 5.1.1
    detail: str = ""  # bounce: diagnostic text
    recipient: str = ""  # bounce: the address that failed


# --- addresses --------------------------------------------------------------------------------
def address_of(header: str) -> str:
    return parseaddr(header or "")[1].strip().lower()


def is_own(message: MailboxMessage, own_addresses: Iterable[str]) -> bool:
    ours = {a.strip().lower() for a in own_addresses if a and a.strip()}
    if address_of(message.headers.get("from", "")) in ours:
        return True
    labels = set(message.label_ids)
    return "SENT" in labels and "INBOX" not in labels


# --- bounces ----------------------------------------------------------------------------------
_STATUS_LINE = re.compile(r"^\s*Status:\s*([245])\.(\d{1,3})\.(\d{1,3})", re.I | re.M)
_ENHANCED_CODE = re.compile(r"\b([45])\.(\d{1,3})\.(\d{1,3})\b")
_FINAL_RECIPIENT = re.compile(r"^\s*(?:Final|Original)-Recipient:\s*rfc822;\s*(\S+)", re.I | re.M)
_DIAGNOSTIC = re.compile(r"^\s*Diagnostic-Code:\s*(.+(?:\n[ \t].+)*)", re.I | re.M)
_PERMANENT_WORDS = re.compile(
    r"address not found|does not exist|user unknown|no such user|unknown user|"
    r"mailbox (is )?unavailable|recipient address rejected|invalid recipient|"
    r"undeliverable address",
    re.I,
)


def is_bounce(message: MailboxMessage) -> bool:
    sender = address_of(message.headers.get("from", ""))
    if sender.split("@", 1)[0] in BOUNCE_SENDERS:
        return True
    content_type = message.headers.get("content-type", "").lower()
    if message.content_type.lower() == "multipart/report" and (
        "delivery-status" in content_type or not content_type
    ):
        return True
    return bool(message.headers.get("x-failed-recipients"))


def _bounce(message: MailboxMessage) -> Classification:
    text = message.body_text or message.snippet
    codes = [".".join(m) for m in _STATUS_LINE.findall(text)]
    if not codes:
        codes = [".".join(m) for m in _ENHANCED_CODE.findall(text)]
    permanent = any(code.startswith("5") for code in codes)
    if not codes and _PERMANENT_WORDS.search(text):
        permanent = True
    recipient = ""
    found = _FINAL_RECIPIENT.search(text)
    if found:
        recipient = found.group(1).strip("<>").lower()
    elif message.headers.get("x-failed-recipients"):
        recipient = address_of(message.headers["x-failed-recipients"].split(",")[0])
    diagnostic = _DIAGNOSTIC.search(text)
    detail = " ".join(diagnostic.group(1).split()) if diagnostic else " ".join(text.split())
    code = next((c for c in codes if c[0] == ("5" if permanent else "4")), "")
    return Classification(
        kind="bounce_hard" if permanent else "bounce_soft",
        at=message.internal_date,
        status_code=code,
        detail=detail[:300],
        recipient=recipient,
    )


# --- auto-replies -----------------------------------------------------------------------------
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|auto:|out of (the )?office|ooo\b|"
    r"away from (the )?office|on (annual )?leave|vacation|abwesenheit|"
    r"r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|automatisch antwoord)",
    re.I,
)


def is_auto_reply(message: MailboxMessage) -> bool:
    headers = message.headers
    if headers.get("auto-submitted", "no").strip().lower() not in ("", "no"):
        return True
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    if headers.get("precedence", "").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.search(headers.get("subject", "")))


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH},?(?:\s+(\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}){_ORD}\b,?(?:\s+(\d{{4}}))?", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b")


def _make(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        found = date(year or today.year, month, day)
    except ValueError:
        return None
    if year is None and found < today - timedelta(days=1):
        found = found.replace(year=found.year + 1)  # "back on 3 January" said in December
    return found


def _dates_in(text: str, today: date) -> list[date]:
    found: list[date | None] = []
    for day, month, year in _DAY_MONTH.findall(text):
        found.append(_make(int(year) if year else None, _MONTHS[month.lower()], int(day), today))
    for month, day, year in _MONTH_DAY.findall(text):
        found.append(_make(int(year) if year else None, _MONTHS[month.lower()], int(day), today))
    for year, month, day in _ISO.findall(text):
        found.append(_make(int(year), int(month), int(day), today))
    for first, second, year in _NUMERIC.findall(text):
        full_year = int(year) + 2000 if len(year) == 2 else int(year)
        # 03/07 is 3 July in Europe and March 7 in the US: when both are possible take the
        # later one, since following up too late is harmless and too early is not.
        options = [_make(full_year, int(second), int(first), today)]
        options.append(_make(full_year, int(first), int(second), today))
        valid = [o for o in options if o is not None]
        found.append(max(valid) if valid else None)
    return [d for d in found if d is not None]


def return_date(text: str, now: datetime) -> date | None:
    """The latest plausible date in an out-of-office text ("back on 14 July")."""
    today = now.astimezone(UTC).date()
    candidates = [d for d in _dates_in(text, today) if today <= d <= today + MAX_RETURN_HORIZON]
    return max(candidates) if candidates else None


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
    message: MailboxMessage, *, own_addresses: Iterable[str], now: datetime
) -> Classification:
    if is_own(message, own_addresses):
        return Classification(kind="own", at=message.internal_date)
    if is_bounce(message):
        return _bounce(message)
    if is_auto_reply(message):
        return _auto_reply(message, now)
    words = own_words(message)
    kind = "unsubscribe" if _UNSUBSCRIBE.search(words) else "reply"
    return Classification(kind=kind, at=message.internal_date, snippet=_snip(words))


def sender_addresses(message: MailboxMessage) -> list[str]:
    """Every address in From/Reply-To (a reply may come from a colleague's address)."""
    values = [message.headers.get("from", ""), message.headers.get("reply-to", "")]
    return [addr.lower() for _, addr in getaddresses([v for v in values if v]) if addr]
