"""A raw RFC 822 message (IMAP ``BODY[]``, a ``.eml`` file) -> :class:`MailboxMessage`.

The message is laid out as a Gmail ``format=full`` payload and read by
:func:`hub.mail.gmail_parse.to_mailbox_message`, so a bounce, complaint or reply is seen the
same whichever way it was fetched: the same text, the same quoted original headers, the same
MIME tree for the bounce detectors.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from email import message_from_bytes, message_from_string, policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message

from hub.mail.base import MailboxMessage
from hub.mail.gmail_parse import to_mailbox_message

SNIPPET_CHARS = 200


def parse_rfc822(raw: bytes | str | Message) -> Message:
    if isinstance(raw, Message):
        return raw
    # compat32: real bounces carry broken headers that the strict default policy rejects.
    if isinstance(raw, bytes):
        return message_from_bytes(raw, policy=policy.compat32)
    return message_from_string(raw, policy=policy.compat32)


def header_text(value: object) -> str:
    """A header value as Gmail's API shows it: RFC 2047 encoded-words decoded to text.

    IMAP hands over the raw header (``=?utf-8?q?R=C3=A9ponse_automatique?=``); the classifier's
    subject and sender rules are written against decoded text, as the Gmail path gives it.
    """
    text = str(value)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return text  # a broken encoded-word stays as it came


def _payload(part: Message) -> dict:
    node: dict = {
        "mimeType": part.get_content_type(),
        "headers": [{"name": k, "value": header_text(v)} for k, v in part.items()],
    }
    if part.is_multipart():
        node["body"] = {"size": 0}
        node["parts"] = [_payload(child) for child in part.get_payload() if child is not None]
        return node
    try:
        data = part.get_payload(decode=True) or b""
    except (AssertionError, LookupError, ValueError):  # malformed transfer encoding
        data = str(part.get_payload()).encode("utf-8", "replace")
    node["body"] = {"size": len(data), "data": base64.urlsafe_b64encode(data).decode("ascii")}
    return node


def to_message(
    raw: bytes | str | Message,
    *,
    provider_id: str = "",
    thread_id: str = "",
    label_ids: tuple[str, ...] = ("INBOX",),
    internal_date: datetime | None = None,
) -> MailboxMessage:
    parsed = parse_rfc822(raw)
    resource = {
        "id": provider_id,
        "threadId": thread_id,
        "labelIds": list(label_ids),
        "payload": _payload(parsed),
    }
    if internal_date is not None:
        resource["internalDate"] = str(int(internal_date.timestamp() * 1000))
    seen = to_mailbox_message(resource, with_text=True)
    snippet = re.sub(r"\s+", " ", seen.body_text).strip()[:SNIPPET_CHARS]
    return MailboxMessage(
        provider_id=seen.provider_id,
        thread_id=seen.thread_id,
        headers=seen.headers,
        snippet=snippet,
        internal_date=seen.internal_date,
        label_ids=seen.label_ids,
        content_type=seen.content_type,
        body_text=seen.body_text,
        original_headers=seen.original_headers,
        mime=parsed,
    )
