"""The real mailer: Gmail API v1 through google-api-python-client and an OAuth refresh token.

Only used with ``HUB_MAILER=gmail`` (see :mod:`hub.mail.factory`). The client runs on its
bundled discovery document (no network at build time) against ``settings.gmail_api_url``, and
the OAuth user credentials are built directly so the token URL comes from settings
(``from_authorized_user_info`` would force Google's).

Every call spends Gmail quota units through a client-side limiter, has a socket timeout, and
reads are retried a bounded number of times with jittered backoff that honours Retry-After.
A send is never retried after the request may have gone out: it raises an ``ambiguous``
:class:`MailerError` and the sending code reconciles against the Sent mailbox.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import google_auth_httplib2
import httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from hub.mail.base import InboundBatch, MailboxMessage, Mailer, MailerError, SentMessage
from hub.mail.gmail_parse import METADATA_HEADERS, to_mailbox_message
from hub.mail.gmail_quota import (
    UNITS,
    UNITS_PER_USER_PER_MINUTE,
    UnitLimiter,
    is_transient,
    to_mailer_error,
)
from hub.mail.outbox import message_bytes

# Least privilege that still lets us send and read replies (no delete, no label changes).
SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.readonly",
)
# Without a usable history id we look back this far in the inbox (first run after a long pause).
FALLBACK_LOOKBACK = timedelta(days=7)
MAX_PAGES = 20  # 20 x 500 messages: a bound on one check, the next check continues


class SingleAttemptHttp(httplib2.Http):
    """httplib2 silently re-sends a request when the connection drops before the status line
    (it assumes a stale keep-alive). For ``messages.send`` that could deliver a mail twice, so
    sends go through this class: a fresh connection (nothing stale to excuse a drop) and one
    attempt; a drop surfaces as an error the mailer reports as ambiguous."""

    def _conn_request(self, conn, request_uri, method, body, headers):
        conn.close()
        try:
            conn.connect()
            conn.request(method, request_uri, body, headers)
            raw_response = conn.getresponse()
            content = raw_response.read()
        except BaseException:
            conn.close()
            raise
        response = httplib2.Response(raw_response)
        return response, httplib2._decompressContent(
            response, content, getattr(self, "limit_kwargs", {})
        )


class GmailMailer(Mailer):
    provider_name = "gmail"
    dry_run = False

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        sender: str,
        timeout: float = 30.0,
        units_per_minute: int = UNITS_PER_USER_PER_MINUTE,
        max_attempts: int = 4,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.sender = sender
        self.max_attempts, self.max_wait = max_attempts, max_wait
        self._sleep, self._clock = sleep, clock
        self.limiter = UnitLimiter(units_per_minute, sleep=sleep)
        self._credentials = Credentials(
            token=None,
            refresh_token=refresh_token,
            client_id=client_id,
            client_secret=client_secret,
            token_uri=token_url,
            scopes=list(SCOPES),
        )
        # proxy_info=None: the endpoint comes from settings, not from *_proxy variables.
        http = google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=httplib2.Http(timeout=timeout, proxy_info=None)
        )
        self._send_http = google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=SingleAttemptHttp(timeout=timeout, proxy_info=None)
        )
        self._service = build(
            "gmail",
            "v1",
            http=http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": api_url if api_url.endswith("/") else api_url + "/"},
        )
        self._http = http
        self._users = self._service.users()
        self._lock = threading.Lock()  # httplib2 connections are not thread-safe

    @classmethod
    def for_identity(cls, identity, settings, **options: Any) -> GmailMailer:
        """The mailer of a sending identity: the app's OAuth client, the identity's own token."""
        return cls(
            api_url=settings.gmail_api_url,
            token_url=settings.google_token_url,
            client_id=settings.gmail_client_id,
            client_secret=settings.gmail_client_secret.get_secret_value(),
            refresh_token=identity.gmail_refresh_token.get_secret_value(),
            sender=identity.address,
            **options,
        )

    @classmethod
    def from_settings(cls, settings, **options: Any) -> GmailMailer:
        """The mailer the settings describe; ``options`` (timeout, max_attempts, ...) tune it."""
        return cls(
            api_url=settings.gmail_api_url,
            token_url=settings.google_token_url,
            client_id=settings.gmail_client_id,
            client_secret=settings.gmail_client_secret.get_secret_value(),
            refresh_token=settings.gmail_refresh_token.get_secret_value(),
            sender=settings.gmail_sender,
            **options,
        )

    # --- one call: limiter, timeout, bounded retry ------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=0.5, max=self.max_wait)(state)
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None) or 0.0
        return min(max(backoff, retry_after), self.max_wait)

    def _execute(self, call: str, request: Any, *, idempotent: bool = True) -> dict:
        def worth_retrying(exc: BaseException) -> bool:
            if not isinstance(exc, MailerError) or not is_transient(exc):
                return False
            if exc.retry_after is not None and exc.retry_after > self.max_wait:
                return False
            # A send is repeated only when Gmail surely did not act: a rate-limit refusal or a
            # connection that never opened. 5xx/timeouts after sending are for reconciliation.
            return idempotent or not exc.ambiguous

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(worth_retrying),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._once, call, request)

    def _once(self, call: str, request: Any) -> dict:
        http = self._send_http if call == "messages.send" else None
        # The units count until Gmail has answered (see UnitLimiter.spend).
        with self.limiter.spend(UNITS[call]), self._lock:
            try:
                return request.execute(http=http, num_retries=0)
            except Exception as exc:  # mapped below; unknown kinds are re-raised as they are
                raise to_mailer_error(exc, call=call, now=self._clock()) from exc

    # --- the Mailer interface ------------------------------------------------------------------
    def send(
        self,
        message: EmailMessage,
        *,
        thread_id: str | None = None,
        preview_name: str | None = None,
        wire: bytes | None = None,
        answer_awaited: Callable[[], None] | None = None,
    ) -> SentMessage:
        body: dict[str, str] = {
            "raw": base64.urlsafe_b64encode(wire or message_bytes(message)).decode("ascii")
        }
        if thread_id:
            body["threadId"] = thread_id
        result = self._execute(
            "messages.send", self._users.messages().send(userId="me", body=body), idempotent=False
        )
        ours = str(message.get("Message-ID", "") or "")
        return SentMessage(
            provider_id=str(result["id"]),
            thread_id=str(result.get("threadId", "")),
            rfc822_message_id=self._kept_message_id(str(result["id"])) or ours,
        )

    def _kept_message_id(self, gmail_id: str) -> str:
        """The Message-ID Gmail actually kept (it may replace ours); follow-ups thread on it.
        Costs 5 units; a failure here must not turn a successful send into an error."""
        try:
            found = self._get(gmail_id, fmt="metadata", headers=("Message-ID",))
        except MailerError:
            return ""
        return to_mailbox_message(found).headers.get("message-id", "")

    def _get(self, gmail_id: str, *, fmt: str, headers: tuple[str, ...] = METADATA_HEADERS):
        kwargs: dict[str, Any] = {"userId": "me", "id": gmail_id, "format": fmt}
        if fmt == "metadata":
            kwargs["metadataHeaders"] = list(headers)
        return self._execute("messages.get", self._users.messages().get(**kwargs))

    def _list(self, query: str, *, max_results: int = 100, limit_pages: int = 1) -> list[dict]:
        found: list[dict] = []
        token: str | None = None
        for _ in range(limit_pages):
            kwargs: dict[str, Any] = {"userId": "me", "q": query, "maxResults": max_results}
            if token:
                kwargs["pageToken"] = token
            page = self._execute("messages.list", self._users.messages().list(**kwargs))
            found.extend(page.get("messages") or [])
            token = page.get("nextPageToken")
            if not token:
                break
        return found

    def find_sent(
        self, *, rfc822_message_id: str, to: str, subject: str, since: datetime
    ) -> SentMessage | None:
        wanted = rfc822_message_id.strip().strip("<>")
        if wanted:
            hits = self._list(f"in:sent rfc822msgid:{wanted}", max_results=5)
            if hits:
                return SentMessage(hits[0]["id"], hits[0].get("threadId", ""), rfc822_message_id)
        address = "".join(ch for ch in to if not ch.isspace() and ch not in "\"'()")
        if not address:
            return None
        # Gmail may have replaced our Message-ID: the same recipient and subject since the
        # intent was written is the same message. A minute of slack covers clock skew.
        after = int(since.timestamp()) - 60
        for hit in self._list(f"in:sent to:{address} after:{after}", max_results=20):
            found = to_mailbox_message(self._get(hit["id"], fmt="metadata"))
            if " ".join(found.headers.get("subject", "").split()) == " ".join(subject.split()):
                return SentMessage(
                    hit["id"], hit.get("threadId", ""), found.headers.get("message-id", "")
                )
        return None

    def thread_messages(self, thread_id: str) -> list[MailboxMessage]:
        request = self._users.threads().get(
            userId="me", id=thread_id, format="metadata", metadataHeaders=list(METADATA_HEADERS)
        )
        thread = self._execute("threads.get", request)
        messages = [to_mailbox_message(m) for m in thread.get("messages") or []]
        return sorted(messages, key=lambda m: m.internal_date or datetime.min.replace(tzinfo=UTC))

    def profile(self) -> dict:
        """``users.getProfile``: emailAddress, messagesTotal, threadsTotal, historyId."""
        return self._execute("getProfile", self._users.getProfile(userId="me"))

    def close(self) -> None:
        for authorized in (self._http, self._send_http):
            for connection in list(authorized.http.connections.values()):
                connection.close()

    # --- new mail -----------------------------------------------------------------------------
    def inbound_since(self, cursor: str | None, *, start: datetime | None = None) -> InboundBatch:
        """Cursor: ``<historyId>@<epoch seconds>``. With a history id, ``history.list`` gives
        only what was added since (2 units a page + 5 per new message); when Gmail has
        forgotten that id (404), we fall back to an inbox search since the cursor's time."""
        history_id, seen_at = _parse_cursor(cursor)
        if not history_id and start is None:
            return InboundBatch([], self._cursor(self.profile()["historyId"]))
        if not history_id:  # first check: one bounded inbox search since the first send
            ids, latest = self._search_since(start.timestamp())
        else:
            try:
                ids, latest = self._history_since(history_id)
            except MailerError as exc:
                if getattr(exc, "status", None) != 404:
                    raise
                ids, latest = self._search_since(seen_at)
        messages = [to_mailbox_message(self._get(i, fmt="full"), with_text=True) for i in ids]
        return InboundBatch(messages, self._cursor(latest))

    def _history_since(self, history_id: str) -> tuple[list[str], str]:
        ids: list[str] = []
        token: str | None = None
        latest = history_id
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {
                "userId": "me",
                "startHistoryId": history_id,
                "historyTypes": ["messageAdded"],
                "maxResults": 500,
            }
            if token:
                kwargs["pageToken"] = token
            page = self._execute("history.list", self._users.history().list(**kwargs))
            latest = str(page.get("historyId") or latest)
            for record in page.get("history") or []:
                for added in record.get("messagesAdded") or []:
                    message = added.get("message") or {}
                    labels = set(message.get("labelIds") or ())
                    # Our own sends and drafts are history too; only received mail matters.
                    if labels and labels <= {"SENT", "DRAFT", "UNREAD", "IMPORTANT"}:
                        continue
                    if message.get("id") and message["id"] not in ids:
                        ids.append(message["id"])
            token = page.get("nextPageToken")
            if not token:
                break
        return ids, latest

    def _search_since(self, seen_at: float | None) -> tuple[list[str], str]:
        latest = str(self.profile()["historyId"])  # first, so nothing falls between the two
        since = seen_at or (self._clock() - FALLBACK_LOOKBACK.total_seconds())
        hits = self._list(
            f"in:inbox after:{int(since) - 60}", max_results=500, limit_pages=MAX_PAGES
        )
        return [hit["id"] for hit in reversed(hits)], latest

    def _cursor(self, history_id: str) -> str:
        return f"{history_id}@{int(self._clock())}"


def _parse_cursor(cursor: str | None) -> tuple[str, float | None]:
    if not cursor:
        return "", None
    history_id, _, seen = cursor.partition("@")
    try:
        return history_id.strip(), float(seen) if seen else None
    except ValueError:
        return history_id.strip(), None
