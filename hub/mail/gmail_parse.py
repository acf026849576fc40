"""Gmail ``Message`` resources -> :class:`MailboxMessage` (headers, snippet, plain text).

The payload tree follows the API's ``MessagePart`` schema: ``mimeType``, ``headers`` as
``[{name, value}]``, ``body.data`` (base64url) and ``parts``. A bounce is
``multipart/report; report-type=delivery-status`` (RFC 3464); its ``message/delivery-status``
part carries ``Status: 5.1.1`` lines, either as ``body.data`` or as sub-parts with headers,
so both are turned into text for the classifier. An ARF complaint's ``message/feedback-report``
part (RFC 5965) is kept as text too, and the headers of the message a report hands back
(``text/rfc822-headers`` or ``message/rfc822``) are kept apart: they are ours, not the
sender's words, but our Message-ID there finds the row. :func:`payload_message` rebuilds the
MIME tree for Mailman's bounce detectors.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from datetime import UTC, datetime
from email.message import Message

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
    "X-MS-Exchange-Message-Is-Ndr",
    "Return-Path",
)
MAX_TEXT_CHARS = 20_000
_TAGS = re.compile(r"<[^>]+>")


_CHARSET = re.compile(r'charset\s*=\s*"?([\w.:-]+)', re.I)


def _raw(data: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return b""


def _decode(data: str, part: dict | None = None) -> str:
    # body.data is the part's bytes in its own charset (ISO-2022-JP from Japanese carriers,
    # ISO-8859-x from old gateways): decode with the declared one, UTF-8 when unknown.
    found = _CHARSET.search(_header(part or {}, "content-type"))
    charset = found.group(1) if found else "utf-8"
    try:
        return _raw(data).decode(charset, "replace")
    except LookupError:
        return _raw(data).decode("utf-8", "replace")


def _header(part: dict, name: str) -> str:
    for header in part.get("headers") or []:
        if str(header.get("name", "")).lower() == name:
            return str(header.get("value", ""))
    return ""


def _header_block(part: dict) -> str:
    return "\n".join(f"{h['name']}: {h['value']}" for h in part.get("headers") or [])


def _texts(part: dict, plain: list[str], htmls: list[str], originals: list[str]) -> None:
    mime = str(part.get("mimeType", "")).lower()
    data = (part.get("body") or {}).get("data") or ""
    if mime == "text/plain" and data:
        plain.append(_decode(data, part))
    elif mime == "text/html" and data:
        htmls.append(html.unescape(_TAGS.sub(" ", _decode(data, part))))
    elif mime in ("message/delivery-status", "message/feedback-report"):
        if data:
            plain.append(_decode(data, part))
        for sub in part.get("parts") or []:
            plain.append(_header_block(sub))
        return
    elif mime == "text/rfc822-headers":
        # The original message we sent: its words are ours, not the sender's.
        originals.append(_decode(data, part) if data else "")
        return
    elif mime == "message/rfc822":
        originals.extend(_header_block(sub) for sub in part.get("parts") or [])
        return
    for sub in part.get("parts") or []:
        _texts(sub, plain, htmls, originals)


def _walk(payload: dict) -> tuple[str, str]:
    plain: list[str] = []
    htmls: list[str] = []
    originals: list[str] = []
    _texts(payload or {}, plain, htmls, originals)
    text = "\n".join(plain) if plain else "\n".join(htmls)
    return text[:MAX_TEXT_CHARS], "\n\n".join(originals)[:MAX_TEXT_CHARS]


def payload_text(payload: dict) -> str:
    return _walk(payload)[0]


def payload_message(payload: dict) -> Message:
    """The MIME tree of a ``format=full`` payload, as ``email`` would have parsed it."""
    message = Message()
    for header in payload.get("headers") or []:
        message[str(header.get("name", ""))] = str(header.get("value", ""))
    parts = payload.get("parts") or []
    if parts:
        message.set_payload([payload_message(sub) for sub in parts])
    else:
        data = (payload.get("body") or {}).get("data") or ""
        # Decoded bytes under a Content-Transfer-Encoding header would be decoded twice.
        del message["content-transfer-encoding"]
        message.set_payload(_raw(data).decode("latin-1"))
    return message


def to_mailbox_message(resource: dict, *, with_text: bool = False) -> MailboxMessage:
    payload = resource.get("payload") or {}
    headers: dict[str, str] = {}
    for header in payload.get("headers") or []:
        headers.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    internal = resource.get("internalDate")
    when = datetime.fromtimestamp(int(internal) / 1000, UTC) if internal else None
    text, originals = _walk(payload) if with_text else ("", "")
    return MailboxMessage(
        provider_id=str(resource.get("id", "")),
        thread_id=str(resource.get("threadId", "")),
        headers=headers,
        snippet=html.unescape(str(resource.get("snippet", ""))),
        internal_date=when,
        label_ids=tuple(resource.get("labelIds") or ()),
        content_type=str(payload.get("mimeType", "")),
        body_text=text,
        original_headers=originals,
        mime=payload_message(payload) if with_text else None,
    )
