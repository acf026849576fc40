"""Gmail ``Message`` resources -> :class:`MailboxMessage` (headers, snippet, plain text).

The payload tree follows the API's ``MessagePart`` schema: ``mimeType``, ``headers`` as
``[{name, value}]``, ``body.data`` (base64url) and ``parts``. A bounce is
``multipart/report; report-type=delivery-status`` (RFC 3464); its ``message/delivery-status``
part carries ``Status: 5.1.1`` lines, either as ``body.data`` or as sub-parts with headers,
so both are turned into text for the classifier.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from datetime import UTC, datetime

from hub.mail.base import MailboxMessage

# Headers the classifier and reconciliation need; threads.get/messages.get(format=metadata)
# return only the headers named here.
METADATA_HEADERS = (
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "X-Auto-Response-Suppress",
    "Precedence",
    "Content-Type",
    "X-Failed-Recipients",
    "Return-Path",
)
MAX_TEXT_CHARS = 20_000
_TAGS = re.compile(r"<[^>]+>")


def _decode(data: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return ""
    return raw.decode("utf-8", "replace")


def _texts(part: dict, plain: list[str], htmls: list[str]) -> None:
    mime = str(part.get("mimeType", "")).lower()
    data = (part.get("body") or {}).get("data") or ""
    if mime == "text/plain" and data:
        plain.append(_decode(data))
    elif mime == "text/html" and data:
        htmls.append(html.unescape(_TAGS.sub(" ", _decode(data))))
    elif mime == "message/delivery-status":
        if data:
            plain.append(_decode(data))
        for sub in part.get("parts") or []:
            plain.append("\n".join(f"{h['name']}: {h['value']}" for h in sub.get("headers") or []))
        return
    elif mime == "text/rfc822-headers" or mime == "message/rfc822":
        return  # the original message we sent: its words are ours, not the sender's
    for sub in part.get("parts") or []:
        _texts(sub, plain, htmls)


def payload_text(payload: dict) -> str:
    plain: list[str] = []
    htmls: list[str] = []
    _texts(payload or {}, plain, htmls)
    text = "\n".join(plain) if plain else "\n".join(htmls)
    return text[:MAX_TEXT_CHARS]


def to_mailbox_message(resource: dict, *, with_text: bool = False) -> MailboxMessage:
    payload = resource.get("payload") or {}
    headers: dict[str, str] = {}
    for header in payload.get("headers") or []:
        headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    internal = resource.get("internalDate")
    when = datetime.fromtimestamp(int(internal) / 1000, UTC) if internal else None
    return MailboxMessage(
        provider_id=str(resource.get("id", "")),
        thread_id=str(resource.get("threadId", "")),
        headers=headers,
        snippet=html.unescape(str(resource.get("snippet", ""))),
        internal_date=when,
        label_ids=tuple(resource.get("labelIds") or ()),
        content_type=str(payload.get("mimeType", "")),
        body_text=payload_text(payload) if with_text else "",
    )
