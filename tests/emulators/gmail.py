"""A Gmail API v1 emulator (Starlette) that the real google-api-python-client runs against.

    with gmail_world(settings) as world:   # OAuth + Gmail emulators on free ports
        mailer = GmailMailer.from_settings(world.settings)
        world.gmail.deliver(...); world.gmail.count("users.messages.send")

or by hand: ``GmailEmulator(check_bearer=oauth.is_valid)`` (tests/emulators/google_oauth.py)
served with ``serve_in_thread(gmail.app)``; ``settings.gmail_api_url = server.url + "/"``.

Implements ``users.getProfile``, ``users.messages.send|list|get``, ``users.threads.get`` and
``users.history.list`` with the resource shapes of ``tests/fixtures/real/gmail_*.json``; the
search operators of :mod:`tests.emulators.gmail_search`; per-user quota units per minute
(send 100, list 5, get 5, threads.get 10, history.list 2, getProfile 1; 15,000 a minute) with
Google's documented answers (403 ``userRateLimitExceeded`` whose message says "Retry after
<RFC 3339 time>", and no Retry-After header; 403 ``dailyLimitExceeded``); fault injection
(latency, 500, dropped connection, 500 after storing a sent message, the rate-limit answers); a
request log and unit counters. Test helpers place inbound mail (see ``deliver``).

Every request is checked against ``gmail.v1.json`` (:mod:`tests.emulators.discovery_validator`:
unknown parameters or body fields, bad enums such as ``format`` or ``historyTypes``,
``maxResults`` over 500 are Google's 400, and fail the test that sent them); ``fields`` trims
the answer. A sent message joins the ``threadId`` it names only as the ``Message.threadId``
description says: the References / In-Reply-To headers point into that thread and the Subject
matches (after ``Re:``/``Fwd:``); otherwise it starts a thread of its own.

Whether Gmail keeps a client-supplied ``Message-ID`` is not confirmed (API_NOTES.md), so it is a
switch: ``keep_message_id=False`` replaces it the way Gmail's own composer ids look.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import itertools
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, make_msgid

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulators.discovery_validator import (
    DiscoveryApi,
    RefusedRequest,
    error_body,
    query_pairs,
)
from tests.emulators.gmail_payload import StoredMessage
from tests.emulators.gmail_search import SearchError, compile_query
from tests.emulators.google_oauth import OAuthEmulator, RefreshGrant
from tests.emulators.serve import serve_in_thread
from tests.fixtures import load_real

# Gmail API quota units per method (developers.google.com/gmail/api/reference/quota).
UNITS = {
    "users.getProfile": 1,
    "users.messages.send": 100,
    "users.messages.list": 5,
    "users.messages.get": 5,
    "users.threads.get": 10,
    "users.history.list": 2,
}
UNITS_PER_USER_PER_MINUTE = 15_000
_DOCS_ERRORS = load_real("gmail_errors_official_docs.json")
GMAIL_API = DiscoveryApi.load("gmail.v1")
# developers.google.com/gmail/api/guides/handle-errors: a per-user rate limit is a 403
# userRateLimitExceeded (rateLimitExceeded for the project); the mail-sending limit is a 429.
# The wait is in the message ("User-rate limit exceeded.  Retry after 2024-01-01T00:00:00.000Z").
RATE_LIMIT_ANSWERS = {
    "403_user_rate": (403, "userRateLimitExceeded", "User-rate limit exceeded."),
    "403_rate": (403, "rateLimitExceeded", "Rate Limit Exceeded."),
    "429": (429, "rateLimitExceeded", "User-rate limit exceeded."),
}
# What Google sends with a 401 (RFC 6750 §3); httplib2 parses it, so it must be well formed.
_WWW_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'


def google_error(code: int, reason: str, message: str, *, domain: str = "global") -> dict:
    status = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
    }.get(code, "UNKNOWN")
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": status,
        }
    }


@dataclass
class Fault:
    # "500", "drop", "500_after_store", "drop_after_store", "latency", "403_daily", or a rate
    # limit of RATE_LIMIT_ANSWERS ("403_user_rate", "403_rate", "429": retry after `seconds`)
    kind: str
    api_method: str | None = None  # e.g. "users.messages.send"; None = any method
    times: int = 1
    seconds: float = 0.0  # for "latency"


@dataclass
class LoggedRequest:
    http_method: str
    api_method: str
    path: str
    query: str
    status: int = 0
    units: int = 0


class _DropConnection(Exception):
    """Raised after the response headers went out: uvicorn closes the socket mid-response."""


class _QuietDrops(logging.Filter):
    """uvicorn logs an app exception with a traceback; an injected drop is not a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _DropConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


@dataclass
class GmailEmulator:
    address: str = "me@artist.example"
    # Is this access token valid? (OAuthEmulator.is_valid); None: any non-empty bearer token
    check_bearer: Callable[[str], bool] | None = None
    keep_message_id: bool = True
    units_per_minute: int = UNITS_PER_USER_PER_MINUTE
    daily_send_limit: int | None = None  # sends allowed per rolling day, then 403
    rate_limit_answer: str = "403_user_rate"  # how units over the minute's quota are refused
    clock: Callable[[], float] = time.time
    history_start: int = 4178212  # the fixture's historyId

    requests: list[LoggedRequest] = field(default_factory=list)
    units_by_method: Counter = field(default_factory=Counter)
    faults: deque = field(default_factory=deque)
    messages: dict[str, StoredMessage] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._ids = itertools.count(0x18F3A2B400000000)
        self._history_id = self.history_start
        self._history_floor = 0  # startHistoryId below this answers 404 (history expired)
        self._history: list[tuple[int, str]] = []  # (history id, message id) messageAdded
        self._threads_by_message_id: dict[str, str] = {}  # RFC 5322 Message-ID -> threadId
        self._spent: deque[tuple[float, int]] = deque()  # (time, units) in the last minute
        self._sends: deque[float] = deque()
        self.app = Starlette(routes=self._routes())

    # --- test helpers -------------------------------------------------------------------------
    def inject(
        self, kind: str, *, api_method: str | None = None, times: int = 1, seconds: float = 0.0
    ) -> None:
        with self._lock:
            self.faults.append(Fault(kind, api_method, times, seconds))

    def count(self, api_method: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if api_method in (None, r.api_method))

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.units_by_method.clear()

    def expire_history(self) -> None:
        """Make every history id issued so far too old (``history.list`` answers 404)."""
        with self._lock:
            self._history_floor = self._history_id + 1

    def deliver(
        self,
        message: EmailMessage | bytes,
        *,
        labels: tuple[str, ...] = ("INBOX", "UNREAD", "CATEGORY_PERSONAL"),
        when: datetime | None = None,
    ) -> StoredMessage:
        """Place an inbound message in the mailbox, threaded like Gmail does: by the
        In-Reply-To / References ids of messages already in the mailbox."""
        raw = message if isinstance(message, bytes) else _wire(message)
        return self._store(raw, list(labels), thread_id=None, when=when)

    def place_sent(self, message: EmailMessage, *, when: datetime | None = None) -> StoredMessage:
        """A message already in Sent (sent before the test began), without spending quota:
        lets a test set up hundreds of sent threads cheaply."""
        return self._store(_wire(message), ["SENT"], thread_id=None, when=when)

    def sent(self) -> list[StoredMessage]:
        with self._lock:
            return [m for m in self.messages.values() if "SENT" in m.label_ids]

    def parsed(self, message_id: str) -> EmailMessage:
        return self.messages[message_id].parsed

    # --- mailbox ------------------------------------------------------------------------------
    def _next_history(self) -> int:
        self._history_id += 3  # ids increase with gaps, as the API docs warn
        return self._history_id

    def _thread_for(self, parsed: EmailMessage) -> str | None:
        ids = (str(parsed.get("In-Reply-To", "")) + " " + str(parsed.get("References", ""))).split()
        for ref in reversed(ids):  # the nearest parent first
            if thread_id := self._threads_by_message_id.get(ref.strip().strip("<>")):
                return thread_id
        return None

    def _store(
        self, raw: bytes, labels: list[str], *, thread_id: str | None, when: datetime | None
    ) -> StoredMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        with self._lock:
            message_id = format(next(self._ids), "x")
            now_ms = int((when.timestamp() if when else self.clock()) * 1000)
            if thread_id == "":  # a send outside any thread (see _send)
                thread_id = message_id
            stored = StoredMessage(
                id=message_id,
                thread_id=thread_id or self._thread_for(parsed) or message_id,
                label_ids=labels,
                raw=raw,
                parsed=parsed,
                internal_date_ms=now_ms,
                history_id=self._next_history(),
            )
            self.messages[message_id] = stored
            rfc_id = stored.header("Message-ID").strip().strip("<>")
            if rfc_id:
                self._threads_by_message_id.setdefault(rfc_id, stored.thread_id)
            self._history.append((stored.history_id, message_id))
            return stored

    def _send(self, body: dict) -> StoredMessage:
        try:
            raw = base64.urlsafe_b64decode(body["raw"] + "=" * (-len(body["raw"]) % 4))
        except (KeyError, TypeError, binascii.Error) as exc:
            raise _ApiError(400, "invalidArgument", "Invalid value for ByteString") from exc
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        if not parsed.get("To") and not parsed.get("Cc") and not parsed.get("Bcc"):
            raise _ApiError(400, "invalidArgument", "Recipient address required")
        thread_id = body.get("threadId") or None
        with self._lock:
            members = [m for m in self.messages.values() if m.thread_id == thread_id]
        if thread_id and not members:
            raise _ApiError(404, "notFound", "Requested entity was not found.")
        if not parsed.get("From"):
            parsed["From"] = self.address
        if not parsed.get("Date"):
            parsed["Date"] = format_datetime(datetime.fromtimestamp(self.clock(), UTC))
        if not self.keep_message_id or not parsed.get("Message-ID"):
            del parsed["Message-ID"]
            parsed["Message-ID"] = make_msgid(domain="mail.gmail.com")
        labels = ["SENT"]
        recipients = getaddresses([str(parsed.get(h, "")) for h in ("To", "Cc", "Bcc")])
        if any(addr.lower() == self.address.lower() for _, addr in recipients):
            labels += ["INBOX", "UNREAD"]
        joins = thread_id if thread_id and _joins_thread(parsed, members) else ""
        return self._store(_wire(parsed), labels, thread_id=joins, when=None)

    # --- quota --------------------------------------------------------------------------------
    def _charge(self, api_method: str) -> None:
        units = UNITS.get(api_method, 5)
        now = self.clock()
        with self._lock:
            while self._spent and self._spent[0][0] <= now - 60:
                self._spent.popleft()
            used = sum(u for _, u in self._spent)
            if used + units > self.units_per_minute:
                # Units free up when the oldest call leaves the minute's window.
                wait = self._spent[0][0] + 60 - now
                raise _ApiError.rate_limited(self.rate_limit_answer, now, wait)
            if api_method == "users.messages.send" and self.daily_send_limit is not None:
                while self._sends and self._sends[0] <= now - 86_400:
                    self._sends.popleft()
                if len(self._sends) >= self.daily_send_limit:
                    raise _ApiError.daily()
                self._sends.append(now)
            self._spent.append((now, units))
            self.units_by_method[api_method] += units

    def _take_fault(self, api_method: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.api_method in (None, api_method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # --- HTTP ---------------------------------------------------------------------------------
    def _routes(self) -> list[Route]:
        base = "/gmail/v1/users/{user}"
        return [
            Route(base + "/profile", self._endpoint("users.getProfile", self._profile)),
            Route(
                base + "/messages/send",
                self._endpoint("users.messages.send", self._send_route),
                methods=["POST"],
            ),
            Route(base + "/messages", self._endpoint("users.messages.list", self._list)),
            Route(base + "/messages/{id}", self._endpoint("users.messages.get", self._get)),
            Route(base + "/threads/{id}", self._endpoint("users.threads.get", self._thread)),
            Route(base + "/history", self._endpoint("users.history.list", self._history_list)),
        ]

    def _endpoint(self, api_method: str, handler):
        async def endpoint(request: Request) -> Response:
            entry = LoggedRequest(request.method, api_method, request.url.path, request.url.query)
            with self._lock:
                self.requests.append(entry)
            try:
                response = await self._answer(request, api_method, handler, entry)
            except _ApiError as exc:
                response = JSONResponse(exc.body, exc.code, headers=exc.headers)
            entry.status = 0 if isinstance(response, _DroppedResponse) else response.status_code
            return response

        return endpoint

    async def _answer(self, request: Request, api_method: str, handler, entry) -> Response:
        token = request.headers.get("authorization", "")
        bearer = token[7:] if token.lower().startswith("bearer ") else ""
        if not bearer or (self.check_bearer is not None and not self.check_bearer(bearer)):
            body = copy.deepcopy(_DOCS_ERRORS["401_authError"])
            raise _ApiError(401, "", "", body=body, headers={"WWW-Authenticate": _WWW_AUTHENTICATE})
        user = request.path_params["user"]
        if user not in ("me", self.address):
            raise _ApiError(403, "forbidden", "Delegation denied for " + self.address)
        routed = GMAIL_API.route(request.method, request.scope["raw_path"].decode("ascii"))
        query = query_pairs(request.scope.get("query_string", b""))
        try:
            GMAIL_API.check(routed, query, await request.body())
        except RefusedRequest as refused:
            raise _ApiError(400, "", "", body=error_body(refused, legacy_errors=True)) from None
        fault = self._take_fault(api_method)
        if fault and fault.kind == "latency":
            # Read the request first: a client that times out meanwhile has still sent it,
            # and Gmail carries it out (the ambiguous "timeout after sending" case).
            await request.body()
            await asyncio.sleep(fault.seconds)
            fault = None
        if fault and fault.kind in RATE_LIMIT_ANSWERS:
            raise _ApiError.rate_limited(fault.kind, self.clock(), fault.seconds or 1.0)
        if fault and fault.kind == "403_daily":
            raise _ApiError.daily()
        if fault and fault.kind in ("500", "drop"):
            return _fail(fault.kind)
        self._charge(api_method)
        entry.units = UNITS.get(api_method, 5)
        result = await handler(request)
        if fault and fault.kind in ("500_after_store", "drop_after_store"):
            return _fail(fault.kind.removesuffix("_after_store"))
        return JSONResponse(GMAIL_API.partial(routed, result, query))

    async def _profile(self, request: Request) -> dict:
        with self._lock:
            threads = {m.thread_id for m in self.messages.values()}
            return {
                "emailAddress": self.address,
                "messagesTotal": len(self.messages),
                "threadsTotal": len(threads),
                "historyId": str(self._history_id),
            }

    async def _send_route(self, request: Request) -> dict:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            raise _ApiError(400, "parseError", "Parse Error") from exc
        stored = self._send(body if isinstance(body, dict) else {})
        return {"id": stored.id, "threadId": stored.thread_id, "labelIds": stored.label_ids}

    async def _list(self, request: Request) -> dict:
        params = request.query_params
        try:
            matches = compile_query(params.get("q", ""))
        except SearchError as exc:
            raise _ApiError(400, "invalidArgument", str(exc)) from exc
        labels = params.getlist("labelIds")
        with self._lock:
            found = [
                m
                for m in self.messages.values()
                if matches(m) and all(label in m.label_ids for label in labels)
            ]
        found.sort(key=lambda m: (m.internal_date_ms, m.id), reverse=True)
        page, token = _page(found, params)
        out: dict = {"resultSizeEstimate": len(found)}
        if page:
            out["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if token:
            out["nextPageToken"] = token
        return out

    async def _get(self, request: Request) -> dict:
        with self._lock:
            stored = self.messages.get(request.path_params["id"])
        if stored is None:
            raise _ApiError(404, "notFound", "Requested entity was not found.")
        params = request.query_params
        return stored.resource(params.get("format", "full"), params.getlist("metadataHeaders"))

    async def _thread(self, request: Request) -> dict:
        thread_id = request.path_params["id"]
        with self._lock:
            members = [m for m in self.messages.values() if m.thread_id == thread_id]
        if not members:
            raise _ApiError(404, "notFound", "Requested entity was not found.")
        members.sort(key=lambda m: (m.internal_date_ms, m.history_id))
        params = request.query_params
        fmt, headers = params.get("format", "full"), params.getlist("metadataHeaders")
        return {
            "id": thread_id,
            "historyId": str(max(m.history_id for m in members)),
            "messages": [m.resource(fmt, headers) for m in members],
        }

    async def _history_list(self, request: Request) -> dict:
        params = request.query_params
        start = params.get("startHistoryId", "")
        if not start.isdigit():
            raise _ApiError(400, "invalidArgument", "Invalid startHistoryId")
        with self._lock:
            if int(start) < self._history_floor:
                raise _ApiError(404, "notFound", "Requested entity was not found.")
            added = [
                self.messages[mid]
                for hid, mid in self._history
                if hid > int(start) and mid in self.messages
            ]
            current = self._history_id
        wanted_label = params.get("labelId")
        if wanted_label:
            added = [m for m in added if wanted_label in m.label_ids]
        page, token = _page(added, params)
        out: dict = {"historyId": str(current)}
        if page:
            out["history"] = [
                {
                    "id": str(m.history_id),
                    "messages": [{"id": m.id, "threadId": m.thread_id}],
                    "messagesAdded": [
                        {"message": {"id": m.id, "threadId": m.thread_id, "labelIds": m.label_ids}}
                    ],
                }
                for m in page
            ]
        if token:
            out["nextPageToken"] = token
        return out


class _ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
        body: dict | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.headers = headers or {}
        self.body = body or google_error(code, reason, message, domain=domain)

    @classmethod
    def daily(cls) -> _ApiError:
        return cls(403, "", "", body=copy.deepcopy(_DOCS_ERRORS["403_dailyLimitExceeded"]))

    @classmethod
    def rate_limited(cls, kind: str, now: float, wait: float) -> _ApiError:
        """A RATE_LIMIT_ANSWERS answer: the time to retry in the message, as Gmail writes it;
        only the 429 also carries a Retry-After header (whole seconds)."""
        code, reason, text = RATE_LIMIT_ANSWERS[kind]
        message = f"{text}  Retry after {rfc3339_ms(now + wait)}"
        headers = {"Retry-After": str(max(1, round(wait)))} if code == 429 else None
        return cls(code, reason, message, domain="usageLimits", headers=headers)


def rfc3339_ms(epoch: float) -> str:
    """``2024-01-01T00:00:00.000Z``: the form of the time in Gmail's "Retry after" message."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", re.IGNORECASE)


def base_subject(subject: str) -> str:
    """The Subject Gmail compares when threading: without ``Re:``/``Fwd:`` prefixes, with
    whitespace folded, case ignored."""
    return " ".join(_REPLY_PREFIX.sub("", subject or "").split()).casefold()


def _joins_thread(parsed: EmailMessage, members: list[StoredMessage]) -> bool:
    """The ``Message.threadId`` rule of gmail.v1.json: "2. The References and In-Reply-To
    headers must be set in compliance with the RFC 2822 standard. 3. The Subject headers must
    match." (1. is the threadId itself.) The headers must name a message of the thread."""
    named = (str(parsed.get("In-Reply-To", "")) + " " + str(parsed.get("References", ""))).split()
    ids = {ref.strip().strip("<>") for ref in named}
    in_thread = {m.header("Message-ID").strip().strip("<>") for m in members}
    if not ids & (in_thread - {""}):
        return False
    subject = base_subject(str(parsed.get("Subject", "")))
    return any(base_subject(m.header("Subject")) == subject for m in members)


def _fail(kind: str) -> Response:
    if kind == "drop":
        return _DroppedResponse()
    return JSONResponse(google_error(500, "backendError", "Backend Error"), 500)


class _DroppedResponse(Response):
    """Send the status line and headers, then break the connection before the body: the
    client sees the request went out and the answer never arrived (the ambiguous case)."""

    def __init__(self) -> None:
        super().__init__(b"", 200, headers={"content-length": "100"})

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        raise _DropConnection("emulated dropped connection")


def _page(items: list, params) -> tuple[list, str]:
    size = min(int(params.get("maxResults", "100") or 100), 500)
    offset = int(params.get("pageToken", "0") or 0)
    page = items[offset : offset + size]
    more = offset + size < len(items)
    return page, str(offset + size) if more else ""


def _wire(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


REFRESH_TOKEN = "1//emu-refresh-token"
CLIENT_ID = "emu-client.apps.googleusercontent.com"
CLIENT_SECRET = "emu-client-secret"


@dataclass
class GmailWorld:
    gmail: GmailEmulator
    oauth: OAuthEmulator
    settings: object  # hub.config.Settings pointed at both emulators, HUB_MAILER=gmail
    gmail_url: str
    token_url: str


@contextlib.contextmanager
def gmail_world(settings, **emulator_options) -> Iterator[GmailWorld]:
    """The OAuth token endpoint and Gmail, each on a free port, and settings that use them."""
    address = emulator_options.pop("address", "me@artist.example")
    oauth = OAuthEmulator(
        refresh_tokens={
            REFRESH_TOKEN: RefreshGrant(
                CLIENT_ID,
                CLIENT_SECRET,
                principal=address,
                scopes=(
                    "https://www.googleapis.com/auth/gmail.send",
                    "https://www.googleapis.com/auth/gmail.readonly",
                ),
            )
        }
    )
    gmail = GmailEmulator(address=address, check_bearer=oauth.is_valid, **emulator_options)
    with serve_in_thread(oauth.app) as token_server, serve_in_thread(gmail.app) as gmail_server:
        configured = settings.model_copy(
            update={
                "mailer": "gmail",
                "gmail_api_url": gmail_server.url + "/",
                "google_token_url": token_server.url + "/token",
                "gmail_client_id": CLIENT_ID,
                "gmail_client_secret": SecretStr(CLIENT_SECRET),
                "gmail_refresh_token": SecretStr(REFRESH_TOKEN),
                "gmail_sender": address,
            }
        )
        yield GmailWorld(
            gmail, oauth, configured, gmail_server.url + "/", token_server.url + "/token"
        )
