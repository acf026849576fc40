"""The embedded default mailer: a folder of ``.eml`` files (dry run, nothing leaves the machine).

Each message is written exactly as it would be sent (the RFC 5322 bytes of the
``EmailMessage``, CRLF line ends) under ``settings.outbox_dir``. The file name is deterministic
per row and step (``<hub_id>-<step>.eml``, passed by the sender as ``preview_name``), so
previewing the same row twice overwrites one file instead of piling up copies.

Nothing arrives in a folder, so ``thread_messages`` and ``inbound_since`` return nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from hub.mail.base import InboundBatch, MailboxMessage, Mailer, SentMessage

# File names come from hub ids and step names; anything else is replaced so a name can never
# climb out of the folder or collide with a hidden file.
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def message_bytes(message: EmailMessage) -> bytes:
    """The wire form of a message: RFC 5322 wants CRLF line ends."""
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def safe_file_name(name: str) -> str:
    stem = _UNSAFE_NAME.sub("_", name.removesuffix(".eml")).strip("._") or "message"
    return stem[:180] + ".eml"


@dataclass(frozen=True)
class OutboxEntry:
    """One previewed message, as ``hub outbox`` lists it."""

    file: str
    to: str
    subject: str
    date: datetime | None
    message_id: str


class OutboxMailer(Mailer):
    provider_name = "outbox"
    dry_run = True

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @classmethod
    def from_settings(cls, settings) -> OutboxMailer:
        return cls(settings.outbox_dir)

    # --- sending ------------------------------------------------------------------------------
    def send(
        self,
        message: EmailMessage,
        *,
        thread_id: str | None = None,
        preview_name: str | None = None,
        wire: bytes | None = None,
        answer_awaited: Callable[[], None] | None = None,
    ) -> SentMessage:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = str(message.get("Message-ID", "") or "")
        name = safe_file_name(preview_name or message_id.strip("<>") or _fallback_name())
        target = self.folder / name
        # Write to a temporary file and rename: a crash never leaves a half-written preview.
        handle, tmp_path = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(wire or message_bytes(message))
            os.replace(tmp_path, target)
        except BaseException:
            Path(tmp_path).unlink(missing_ok=True)
            raise
        return SentMessage(provider_id=name, thread_id="", rfc822_message_id=message_id)

    # --- reading back ---------------------------------------------------------------------------
    def entries(self) -> list[OutboxEntry]:
        """Every previewed message, newest first."""
        if not self.folder.is_dir():
            return []
        found: list[OutboxEntry] = []
        parser = BytesHeaderParser(policy=policy.default)
        for path in self.folder.glob("*.eml"):
            if path.name.startswith("."):
                continue
            with path.open("rb") as handle:
                headers = parser.parse(handle)
            found.append(
                OutboxEntry(
                    file=path.name,
                    to=str(headers.get("To", "") or ""),
                    subject=str(headers.get("Subject", "") or ""),
                    date=_header_date(headers.get("Date")) or _mtime(path),
                    message_id=str(headers.get("Message-ID", "") or "").strip(),
                )
            )
        found.sort(key=lambda e: e.date or datetime.min.replace(tzinfo=UTC), reverse=True)
        return found

    def find_sent(
        self, *, rfc822_message_id: str, to: str, subject: str, since: datetime
    ) -> SentMessage | None:
        entries = self.entries()
        wanted_id = rfc822_message_id.strip().strip("<>")
        for entry in entries:
            if wanted_id and entry.message_id.strip("<>") == wanted_id:
                return SentMessage(entry.file, "", entry.message_id)
        since_utc = since if since.tzinfo else since.replace(tzinfo=UTC)
        for entry in entries:
            if (
                to.lower() in entry.to.lower()
                and entry.subject == subject
                and entry.date is not None
                and entry.date >= since_utc
            ):
                return SentMessage(entry.file, "", entry.message_id)
        return None

    def thread_messages(self, thread_id: str) -> list[MailboxMessage]:
        return []

    def inbound_since(self, cursor: str | None, *, start: datetime | None = None) -> InboundBatch:
        return InboundBatch(messages=[], cursor=cursor or "")


def _fallback_name() -> str:
    return "message-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def _header_date(value: object) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
