"""Gmail's quota units and how its errors map onto :class:`MailerError`.

Gmail meters every call in quota units per user per minute (15,000), not in requests:
``messages.send`` 100, ``messages.list`` 5, ``messages.get`` 5, ``threads.get`` 10,
``history.list`` 2, ``getProfile`` 1 (developers.google.com/gmail/api/reference/quota).
The limiter below spends those units client-side so we slow down before Gmail answers 429.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable

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

# 429 reasons Gmail uses for "slow down"; 403 dailyLimitExceeded means "stop for today".
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
DAILY_REASONS = {"dailyLimitExceeded", "quotaExceeded"}


class UnitLimiter:
    """A token bucket in Gmail quota units, shared by the threads that use one mailer."""

    def __init__(
        self,
        units_per_minute: int = UNITS_PER_USER_PER_MINUTE,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.capacity = float(units_per_minute)
        self.rate = units_per_minute / 60.0  # units regained per second
        self._level = self.capacity
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting (for benches and tests)

    def acquire(self, units: int) -> None:
        """Reserve ``units`` now and wait until the bucket has paid for them. The level may go
        below zero (a debt the next callers wait for), so waiting is one sleep, in call order."""
        with self._lock:
            now = self._clock()
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
            self._stamp = now
            self._level -= min(float(units), self.capacity)
            wait = -self._level / self.rate if self._level < 0 else 0.0
        if wait > 0:
            self.waited += wait
            self._sleep(wait)


def _reason(exc: HttpError) -> tuple[str, str]:
    """(reason, message) from Google's ``{"error": {"errors": [{"reason"}], "message"}}``."""
    try:
        body = json.loads(exc.content.decode("utf-8", "replace"))
        error = body.get("error", {})
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""


def _retry_after(exc: HttpError) -> float | None:
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


REFRESH_HINT = (
    "Gmail refused the OAuth refresh token (expired or revoked): authorise the app again and "
    "set the new token in GMAIL_REFRESH_TOKEN (check GMAIL_CLIENT_ID/GMAIL_CLIENT_SECRET too)"
)


def to_mailer_error(exc: BaseException, *, call: str, request_sent: bool = True) -> MailerError:
    """Map a client-library failure onto :class:`MailerError`.

    ``ambiguous`` is set when the request may have been carried out (5xx, timeout, connection
    lost after the request went out): a send must then be reconciled, never blindly repeated.
    """
    if isinstance(exc, RefreshError):
        return MailerError(REFRESH_HINT)
    if isinstance(exc, HttpError):
        status = exc.resp.status if exc.resp is not None else 0
        reason, message = _reason(exc)
        text = f"Gmail {call}: HTTP {status} {reason or ''} {message}".strip()
        return _http_error(text, status, reason, exc)
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


def _http_error(text: str, status: int, reason: str, exc: HttpError) -> MailerError:
    if status == 429 or (status == 403 and reason in RATE_REASONS):
        error = MailerError(text, quota=True, retry_after=_retry_after(exc) or 60.0)
    elif status == 403 and reason in DAILY_REASONS:
        # Used up for the day: no retry_after, so nothing retries it within this run.
        error = MailerError(text, quota=True)
    elif status == 401:
        error = MailerError(f"{text}: {REFRESH_HINT}")
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
