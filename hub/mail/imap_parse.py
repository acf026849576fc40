"""RFC 5322 bytes from IMAP -> :class:`MailboxMessage`, shaped like the Gmail parser's output so
:mod:`hub.mail.classify` reads both the same way.

A DSN (RFC 3464, ``multipart/report``) carries its ``Status:`` lines in a
``message/delivery-status`` part; the stdlib parses that part into header blocks, which are
turned back into text. The original message quoted in a bounce (``message/rfc822``,
``text/rfc822-headers``) is ours, so its words are skipped.

SMTP has no thread ids: a thread is named by its first message's Message-ID (the first entry
of ``References``, else ``In-Reply-To``, else the message's own id).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

from hub.mail.base import MailboxMessage
from hub.mail.gmail_parse import MAX_TEXT_CHARS, METADATA_HEADERS

SNIPPET_CHARS = 200
_TAGS = re.compile(r"<[^>]+>")
_WANTED = {name.lower() for name in METADATA_HEADERS}


def thread_root(headers: dict[str, str]) -> str:
    refs = headers.get("references", "").split()
    if refs:
        return refs[0]
    reply_to = headers.get("in-reply-to", "").split()
    if reply_to:
        return reply_to[0]
    return headers.get("message-id", "").strip()


def _text_of(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AttributeError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _texts(part: Message, plain: list[str], htmls: list[str]) -> None:
    mime = part.get_content_type()
    if mime == "message/delivery-status":
        for block in part.get_payload() or []:
            if isinstance(block, Message):
                plain.append("\n".join(f"{k}: {v}" for k, v in block.items()))
        return
    if mime in ("message/rfc822", "text/rfc822-headers"):
        return  # the message we sent, quoted back: not the sender's words
    if part.is_multipart():
        for sub in part.get_payload() or []:
            _texts(sub, plain, htmls)
    elif mime == "text/plain":
        plain.append(_text_of(part))
    elif mime == "text/html":
        htmls.append(html.unescape(_TAGS.sub(" ", _text_of(part))))


def message_text(message: Message) -> str:
    plain: list[str] = []
    htmls: list[str] = []
    _texts(message, plain, htmls)
    text = "\n".join(plain) if plain else "\n".join(htmls)
    return text[:MAX_TEXT_CHARS]


def parse_message(
    raw: bytes, *, provider_id: str, internal_date: datetime | None = None, folder: str = ""
) -> MailboxMessage:
    parsed: EmailMessage = message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    headers: dict[str, str] = {}
    for name, value in parsed.items():
        key = name.lower()
        if key in _WANTED and key not in headers:
            headers[key] = " ".join(str(value).split())
    text = message_text(parsed)
    when = internal_date or _date(headers.get("date", ""))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return MailboxMessage(
        provider_id=provider_id,
        thread_id=thread_root(headers),
        headers=headers,
        snippet=" ".join(text.split())[:SNIPPET_CHARS],
        internal_date=when,
        label_ids=(folder,) if folder else (),
        content_type=parsed.get_content_type(),
        body_text=text,
    )


def _date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
