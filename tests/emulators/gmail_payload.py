"""A stored message of the Gmail emulator and its JSON resource (the ``Message`` schema).

The shapes follow ``tests/fixtures/real/gmail_thread_messages_format_full_2014_trimmed.json``:
``id``, ``threadId``, ``labelIds``, ``snippet``, ``historyId``, ``internalDate`` (ms as a
string), ``payload`` (``mimeType``, ``headers`` as ``[{name, value}]``, ``body.size``,
``parts``) and ``sizeEstimate``. ``format=metadata`` keeps only the requested headers and no
body; ``format=minimal`` has no payload; ``format=raw`` carries the base64url bytes.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    label_ids: list[str]
    raw: bytes
    parsed: EmailMessage
    internal_date_ms: int
    history_id: int
    _text: str | None = field(default=None, repr=False)
    _headers: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str:
        # Parsing a header with the default policy is slow; searches read the same ones often.
        key = name.lower()
        if key not in self._headers:
            value = self.parsed.get(name)
            self._headers[key] = str(value) if value is not None else ""
        return self._headers[key]

    def text(self) -> str:
        """The first text/plain part (what Gmail's snippet and full-text search look at)."""
        if self._text is None:
            part = self.parsed.get_body(preferencelist=("plain", "html"))
            try:
                self._text = part.get_content() if part is not None else ""
            except (KeyError, LookupError):
                self._text = ""
        return self._text

    def snippet(self) -> str:
        # Gmail's snippet: about 200 characters of whitespace-collapsed text, HTML-escaped
        # (the fixture shows ``I&#39;m``).
        collapsed = re.sub(r"\s+", " ", self.text()).strip()[:200]
        return html.escape(collapsed, quote=True).replace("&#x27;", "&#39;")

    def resource(self, fmt: str = "full", metadata_headers: list[str] | None = None) -> dict:
        out: dict = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.label_ids),
            "snippet": self.snippet(),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_date_ms),
            "sizeEstimate": len(self.raw),
        }
        if fmt == "minimal":
            return out
        if fmt == "raw":
            out["raw"] = base64.urlsafe_b64encode(self.raw).decode("ascii")
            return out
        if fmt == "metadata":
            wanted = {h.lower() for h in (metadata_headers or [])}
            out["payload"] = {
                "mimeType": self.parsed.get_content_type(),
                "headers": [
                    {"name": k, "value": str(v)}
                    for k, v in self.parsed.items()
                    if not wanted or k.lower() in wanted
                ],
            }
            return out
        out["payload"] = _part(self.parsed, "")
        return out


def _part(part: Message, part_id: str) -> dict:
    node: dict = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
    }
    if part.is_multipart():
        node["body"] = {"size": 0}
        children = part.get_payload()
        node["parts"] = [
            _part(child, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(children)
        ]
    else:
        data = part.get_payload(decode=True) or b""
        node["body"] = {"size": len(data)}
        if data:
            node["body"]["data"] = base64.urlsafe_b64encode(data).decode("ascii")
    return node
