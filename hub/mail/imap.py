"""One IMAP mailbox through imapclient: the Sent folder (copies, reconciliation) and new mail.

- The Sent folder is ``imap_sent_folder``, else the folder with SPECIAL-USE ``\\Sent``
  (RFC 6154), else an error naming the setting.
- New mail is read with a UID cursor per watched folder (``{"INBOX": {"v": UIDVALIDITY,
  "u": last UID seen, "t": epoch}}``): each check fetches only UIDs above the last one. When
  UIDVALIDITY changes (the folder was rebuilt, UIDs mean nothing any more) the check falls
  back to a SINCE search from the cursor's time, like Gmail's expired history id.
- Messages are fetched with ``BODY.PEEK[]``: reading never marks the person's mail as read.

One connection per mailbox, opened on first use, reopened once when the server dropped it;
every call has a socket timeout. Failures become :class:`MailerError` naming the server.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from hub.mail.base import InboundBatch, MailboxMessage, MailerError, SentMessage
from hub.mail.rfc822 import to_message

T = TypeVar("T")
WATCHED = ("INBOX",)
MAX_PER_CHECK = 500  # a bound on one check; the next check continues from the cursor
FETCH_BATCH = 100
SINCE_SLACK = timedelta(days=1)  # IMAP SINCE has day granularity (and the server's zone)
PENDING_FLAG = b"\\Draft"  # a copy filed before the SMTP server confirmed the message
_APPENDUID = re.compile(rb"APPENDUID\s+\d+\s+(\d+)", re.I)
FAILURES = (IMAPClientError, OSError, ssl.SSLError, socket.timeout)


def _login_refused(exc: BaseException) -> bool:
    return isinstance(exc, IMAPClientError) and "authenticat" in str(exc).lower()


class ImapMailbox:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: str,
        username: str,
        password: str,
        sent_folder: str = "",
        timeout: float = 30.0,
        watched: tuple[str, ...] = WATCHED,
        clock: Callable[[], float] = time.time,
    ):
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self._sent_folder = sent_folder
        self.timeout = timeout
        self.watched = watched
        self._clock = clock
        self._client: IMAPClient | None = None
        self._lock = threading.RLock()

    @classmethod
    def for_identity(cls, identity, timeout: float) -> ImapMailbox:
        """The mailbox of a sending identity (its IMAP login defaults to its SMTP one)."""
        return cls(
            host=identity.imap_host,
            port=identity.imap_port,
            security=identity.imap_security,
            username=identity.imap_username or identity.smtp_username or identity.address,
            password=identity.imap_password.get_secret_value(),
            sent_folder=identity.imap_sent_folder,
            timeout=timeout,
        )

    # --- the connection -----------------------------------------------------------------------
    def _connect(self) -> IMAPClient:
        context = ssl.create_default_context()
        client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.security == "tls",
            ssl_context=context,
            timeout=self.timeout,
        )
        if self.security == "starttls":
            client.starttls(context)
        client.login(self.username, self._password)
        return client

    def _call(self, what: str, work: Callable[[IMAPClient], T]) -> T:
        """Run ``work`` on the open connection; reconnect once when it had gone stale."""
        with self._lock:
            for attempt in (1, 2):
                fresh = self._client is None
                try:
                    if self._client is None:
                        self._client = self._connect()
                    return work(self._client)
                except FAILURES as exc:
                    self._drop()
                    if fresh or attempt == 2:
                        refused = isinstance(exc, LoginError) or _login_refused(exc)
                        raise MailerError(self._describe(what, exc), account=refused) from exc
            raise AssertionError("unreachable")

    def _describe(self, what: str, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        if _login_refused(exc):
            text = "login refused: check the IMAP username and password"
        return f"IMAP {self.host}:{self.port} {what}: {text[:200]}"

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(
                Exception
            ):  # the socket may already be gone; nothing to release then
                client.shutdown()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):  # closing a dead connection is not an error
                    self._client.logout()
                self._client = None

    def check(self) -> str:
        """Log in and find the Sent folder (for ``hub doctor``); returns the folder's name."""
        return self._call("login", self._sent)

    # --- the Sent folder ------------------------------------------------------------------------
    def _sent(self, client: IMAPClient) -> str:
        if not self._sent_folder:
            found = client.find_special_folder(b"\\Sent")
            if not found:
                raise MailerError(
                    f"IMAP {self.host}: no folder is marked \\Sent; set imap_sent_folder "
                    "(IMAP_SENT_FOLDER) to the name of the Sent folder"
                )
            self._sent_folder = found
        return self._sent_folder

    def append_sent(self, raw: bytes, *, pending: bool) -> int | None:
        """File a copy of a message in Sent; ``pending``: before the SMTP server has it."""
        flags = (b"\\Seen", PENDING_FLAG) if pending else (b"\\Seen",)

        def work(client: IMAPClient) -> int | None:
            answer = client.append(self._sent(client), raw, flags=flags)
            found = _APPENDUID.search(answer or b"")
            return int(found.group(1)) if found else None

        # Retried on a connection that went stale while idle: at worst Sent gets a second
        # pending copy, which changes nothing (the first one found counts; both say the same).
        return self._call("APPEND to Sent", work)

    def settle_copy(self, uid: int | None, message_id: str, *, keep: bool) -> None:
        """After the SMTP answer: ``keep`` clears the pending mark, else the copy goes."""

        def work(client: IMAPClient) -> None:
            client.select_folder(self._sent(client))
            uids = [uid] if uid else client.search(["HEADER", "Message-ID", message_id])
            if not uids:
                return
            if keep:
                client.remove_flags(uids, [PENDING_FLAG])
            else:
                client.add_flags(uids, [b"\\Deleted"])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()

        self._call("update the copy in Sent", work)

    def find_sent(self, *, message_id: str, to: str, subject: str, since: datetime):
        """The copy in Sent: by Message-ID, then by recipient + date + subject."""

        def work(client: IMAPClient) -> SentMessage | None:
            folder = self._sent(client)
            client.select_folder(folder, readonly=True)
            wanted = message_id.strip()
            uids = client.search(["HEADER", "Message-ID", wanted]) if wanted else []
            if not uids and to.strip():
                day = (since - SINCE_SLACK).date()
                # Only confirmed copies: a pending one under the same subject may be an earlier
                # attempt that was refused (its copy could not be deleted then).
                candidates = client.search(["TO", to.strip(), "SINCE", day, "UNDRAFT"])
                uids = [
                    uid
                    for uid, headers in self._headers(client, candidates).items()
                    if _same_subject(headers.get("subject", ""), subject)
                ]
            if not uids:
                return None
            uid = min(uids)
            headers = self._headers(client, [uid]).get(uid, {})
            return SentMessage(
                provider_id=f"{folder}:{uid}",
                thread_id=thread_root(headers),
                rfc822_message_id=headers.get("message-id", wanted).strip(),
            )

        return self._call("search Sent", work)

    @staticmethod
    def _headers(client: IMAPClient, uids: list[int]) -> dict[int, dict[str, str]]:
        if not uids:
            return {}
        key = b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT REFERENCES IN-REPLY-TO)]"
        found = client.fetch(
            uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT REFERENCES IN-REPLY-TO)]"]
        )
        result: dict[int, dict[str, str]] = {}
        for uid, data in found.items():
            result[uid] = to_message(data.get(key, b""), provider_id=str(uid)).headers
        return result

    # --- threads and new mail --------------------------------------------------------------------
    def thread(self, root: str) -> list[MailboxMessage]:
        """Every message of a thread (ours in Sent, theirs in the watched folders)."""
        if not root.strip():
            return []
        criteria = ["OR", "HEADER", "Message-ID", root, "OR", "HEADER", "References", root]
        criteria += ["HEADER", "In-Reply-To", root]

        def work(client: IMAPClient) -> list[MailboxMessage]:
            found: list[MailboxMessage] = []
            for folder in (*self.watched, self._sent(client)):
                client.select_folder(folder, readonly=True)
                found += self._fetch(client, folder, client.search(criteria))
            return sorted(found, key=lambda m: m.internal_date or datetime.min.replace(tzinfo=UTC))

        return self._call("read a thread", work)

    def inbound_since(self, cursor: str | None, *, start: datetime | None) -> InboundBatch:
        state = _load_cursor(cursor)

        def work(client: IMAPClient) -> InboundBatch:
            messages: list[MailboxMessage] = []
            now = self._clock()
            fresh: dict[str, dict[str, Any]] = {}
            for folder in self.watched:
                status = client.select_folder(folder, readonly=True)
                validity = int(status[b"UIDVALIDITY"])
                last_known = int(status.get(b"UIDNEXT", 1)) - 1
                entry = state.get(folder)
                uids, since = self._new_uids(client, entry, validity, start, last_known)
                batch = self._fetch(client, folder, uids[:MAX_PER_CHECK])
                if since is not None:  # SINCE has day granularity: keep what is truly newer
                    batch = [m for m in batch if not m.internal_date or m.internal_date >= since]
                messages += batch
                seen = uids[:MAX_PER_CHECK]
                if seen:
                    last = max(seen)
                elif entry and entry.get("v") == validity:
                    last = int(entry.get("u", 0))
                else:
                    last = last_known
                fresh[folder] = {"v": validity, "u": last, "t": int(now)}
            return InboundBatch(messages, json.dumps(fresh, sort_keys=True))

        return self._call("read new mail", work)

    @staticmethod
    def _new_uids(client, entry, validity, start, last_known):
        if entry and entry.get("v") == validity:
            after = int(entry.get("u", 0))
            if after >= last_known:
                return [], None
            return sorted(u for u in client.search(["UID", f"{after + 1}:*"]) if u > after), None
        if entry:  # UIDVALIDITY changed: our UIDs mean nothing; read by date instead
            since = datetime.fromtimestamp(float(entry.get("t", 0)), UTC)
        elif start is not None:
            since = start
        else:
            return [], None  # the first check ever: start watching from now
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        day = (since - SINCE_SLACK).date()
        return sorted(client.search(["SINCE", day])), since - timedelta(minutes=10)

    @staticmethod
    def _fetch(client: IMAPClient, folder: str, uids: list[int]) -> list[MailboxMessage]:
        found: list[MailboxMessage] = []
        for first in range(0, len(uids), FETCH_BATCH):
            chunk = uids[first : first + FETCH_BATCH]
            fetched = client.fetch(chunk, [b"BODY.PEEK[]", b"INTERNALDATE"])
            for uid in sorted(fetched):
                data = fetched[uid]
                when = data.get(b"INTERNALDATE")
                if isinstance(when, datetime) and when.tzinfo is None:
                    when = when.astimezone(UTC)  # imapclient gives local naive times
                # The same conversion as Gmail's format=full: classified alike.
                seen = to_message(
                    data.get(b"BODY[]", b""),
                    provider_id=f"{folder}:{uid}",
                    label_ids=(folder,),
                    internal_date=when if isinstance(when, datetime) else None,
                )
                found.append(replace(seen, thread_id=thread_root(seen.headers)))
        return found


def _same_subject(header: str, subject: str) -> bool:
    # The raw header may hold RFC 2047 encoded-words (a non-ASCII subject): decode first.
    try:
        decoded = str(make_header(decode_header(header)))
    except (LookupError, ValueError, HeaderParseError):
        decoded = header
    return " ".join(decoded.split()) == " ".join(subject.split())


def thread_root(headers: dict[str, str]) -> str:
    """SMTP has no thread ids: a thread is named by its first message's Message-ID (the first
    of ``References``, else ``In-Reply-To``, else the message's own)."""
    for name in ("references", "in-reply-to", "message-id"):
        ids = headers.get(name, "").split()
        if ids:
            return ids[0]
    return ""


def _load_cursor(cursor: str | None) -> dict[str, dict[str, Any]]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
