"""Gmail's quota units and how its errors map onto :class:`MailerError`.

Gmail meters every call in quota units per user per minute (15,000), not in requests:
``messages.send`` 100, ``messages.list`` 5, ``messages.get`` 5, ``threads.get`` 10,
``history.list`` 2, ``getProfile`` 1 (developers.google.com/gmail/api/reference/quota).
The limiter below spends those units client-side so we slow down before Gmail refuses a call
(403 userRateLimitExceeded, or 429).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from hub.mail.base import MailerError

UNITS = {
    "getProfile": 1,
    "messages.send": 100,
    "messages.list": 5,
    "messages.get": 5,
    "threads.get": 10,
    "history.list": 2,
}
UNITS_PER_USER_PER_MINUTE = 15_000

# "Slow down": Gmail answers a rate limit with 403 userRateLimitExceeded / rateLimitExceeded
# (developers.google.com/gmail/api/guides/handle-errors) or with a 429; 403 dailyLimitExceeded
# means "stop for today".
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
DAILY_REASONS = {"dailyLimitExceeded", "quotaExceeded"}
# Gmail often gives the wait only in the message, as an RFC 3339 time:
# "User-rate limit exceeded.  Retry after 2024-01-01T00:00:00.000Z".
_RETRY_AFTER_TEXT = re.compile(
    r"retry after (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))",
    re.IGNORECASE,
)
DEFAULT_RATE_WAIT = 60.0  # no wait given anywhere: Gmail's quota is per minute


class UnitLimiter:
    """Gmail quota units in a sliding 60-second window, shared by the threads of one mailer.

    Gmail (and the emulator) counts the units of the calls it received in the last 60 seconds
    and refuses one that would take the sum over 15,000. A token bucket that starts full lets
    the burst AND a minute of refill through in the first minute, up to twice the quota, so the
    provider sees a 429 a minute on long runs. Here a call goes only when its units fit, next
    to every unit spent in the last ``window`` seconds, so we never send what Gmail would count
    as over the limit.

    Which moment counts: Gmail stamps a call when it receives it, somewhere between our start
    and the answer. :meth:`spend` keeps a call's units "in flight" (never expiring) until the
    answer is back and then stamps them with that moment. The provider's stamp is never later,
    so the units leave our window no earlier than they leave Gmail's, whatever the latency.
    :meth:`acquire` stamps at once (for callers that cannot say when the call ended).
    """

    def __init__(
        self,
        units_per_minute: int = UNITS_PER_USER_PER_MINUTE,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.05,
    ):
        if units_per_minute < 1:
            raise ValueError("units_per_minute must be at least 1")
        self.limit = int(units_per_minute)
        self.window = window
        self._clock, self._sleep, self._poll = clock, sleep, poll
        self._done: deque[tuple[float, int]] = deque()  # (answered at, units), oldest first
        self._done_units = 0  # the sum of the units in _done
        self._in_flight = 0  # units of calls started and not yet answered
        self._state = threading.Lock()  # guards the counters; never held while sleeping
        self._turn = threading.Lock()  # waiting callers go one at a time, in turn
        self.waited = 0.0  # seconds spent waiting (for benches and tests)

    @property
    def units_in_window(self) -> int:
        """Units that count now: those in flight and those answered in the last window."""
        with self._state:
            self._expire(self._clock())
            return self._in_flight + self._done_units

    @contextmanager
    def spend(self, units: int) -> Iterator[None]:
        """``with limiter.spend(units): call()`` — wait until the call fits, keep its units
        until it is answered (or failed), then for a full window after that."""
        charged = self._reserve(units)
        try:
            yield
        finally:
            self._finish(charged)

    def acquire(self, units: int) -> None:
        """Wait until ``units`` fit and count them as spent now."""
        self._finish(self._reserve(units))

    def _reserve(self, units: int) -> int:
        # A call dearer than the whole quota could never fit: it waits for an empty window.
        units = max(0, min(int(units), self.limit))
        with self._turn:
            while True:
                with self._state:
                    now = self._clock()
                    self._expire(now)
                    pause = self._pause_for(units, now)
                    if pause <= 0:
                        self._in_flight += units
                        return units
                self.waited += pause
                self._sleep(pause)

    def _pause_for(self, units: int, now: float) -> float:
        excess = self._in_flight + self._done_units + units - self.limit
        if excess <= 0:
            return 0.0
        freed = 0
        for answered, spent in self._done:
            freed += spent
            if freed >= excess:
                return answered + self.window - now
        # Calls still in flight hold the rest: look again once one of them may have finished.
        return self._poll

    def _expire(self, now: float) -> None:
        # Same rule as the provider's window: a stamp at t counts until t + window, exclusive.
        while self._done and self._done[0][0] <= now - self.window:
            self._done_units -= self._done.popleft()[1]

    def _finish(self, units: int) -> None:
        with self._state:
            self._in_flight -= units
            self._done.append((self._clock(), units))
            self._done_units += units


def _reason(exc: HttpError) -> tuple[str, str]:
    """(reason, message) from Google's ``{"error": {"errors": [{"reason"}], "message"}}``."""
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        error = body.get("error", {})
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""


def _retry_after(exc: HttpError, message: str, now: float) -> float | None:
    """Seconds to wait: the ``Retry-After`` header, or the time in the message ("Retry after
    <RFC 3339>"), whichever is later; None when neither says."""
    waits: list[float] = []
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        if value is not None:
            waits.append(float(value))
    except ValueError:
        pass
    if found := _RETRY_AFTER_TEXT.search(message):
        try:
            until = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            waits.append(until.timestamp() - now)
    return max(max(waits), 0.0) if waits else None


REFRESH_HINT = (
    "Gmail refused the OAuth refresh token (expired or revoked): authorise the app again and "
    "set the new token in GMAIL_REFRESH_TOKEN (check GMAIL_CLIENT_ID/GMAIL_CLIENT_SECRET too)"
)


def to_mailer_error(
    exc: BaseException, *, call: str, request_sent: bool = True, now: float | None = None
) -> MailerError:
    """Map a client-library failure onto :class:`MailerError`.

    ``ambiguous`` is set when the request may have been carried out (5xx, timeout, connection
    lost after the request went out): a send must then be reconciled, never blindly repeated.
    ``now`` (epoch seconds, default the wall clock) turns a "Retry after <time>" into a wait.
    """
    if isinstance(exc, RefreshError):  # invalid_grant, invalid_client: our credentials
        return MailerError(REFRESH_HINT, account=True)
    if isinstance(exc, HttpError):
        status = exc.resp.status if exc.resp is not None else 0
        reason, message = _reason(exc)
        text = f"Gmail {call}: HTTP {status} {reason or ''} {message}".strip()
        retry_after = _retry_after(exc, message, time.time() if now is None else now)
        return _http_error(text, status, reason, retry_after)
    if isinstance(exc, ConnectionRefusedError | httplib2.ServerNotFoundError | TransportError):
        # Nothing reached Gmail: the connection never opened, or the token refresh (which
        # happens before the request) failed on the network.
        return MailerError(f"Gmail {call}: cannot connect ({type(exc).__name__})")
    if isinstance(
        exc,
        TimeoutError
        | socket.timeout
        | http.client.HTTPException
        | OSError
        | httplib2.HttpLib2Error,
    ):
        return MailerError(
            f"Gmail {call}: {type(exc).__name__} {exc}".strip(), ambiguous=request_sent
        )
    raise exc


def _http_error(text: str, status: int, reason: str, retry_after: float | None) -> MailerError:
    if status == 429 or (status == 403 and reason in RATE_REASONS):
        wait = DEFAULT_RATE_WAIT if retry_after is None else retry_after
        error = MailerError(text, quota=True, retry_after=wait)
    elif status == 403 and reason in DAILY_REASONS:
        # Used up for the day: no retry_after, so nothing retries it within this run.
        error = MailerError(text, quota=True)
    elif status == 401:
        error = MailerError(f"{text}: {REFRESH_HINT}", account=True)
    else:
        error = MailerError(text, ambiguous=status >= 500)
    error.status = status  # type: ignore[attr-defined]  # callers branch on 404
    return error


def is_transient(error: MailerError) -> bool:
    """Worth retrying a read (never a send): rate limits and server-side failures, but not
    the daily quota (it will not come back within a retry) nor a 4xx."""
    if error.quota:
        return error.retry_after is not None
    return error.ambiguous or "cannot connect" in str(error)
