"""Bounded retries for Google Sheets calls: exponential backoff with jitter, honouring Retry-After.

Google's guidance for 429 and 5xx is truncated exponential backoff (1, 2, 4, ... s plus random
jitter, capped). A dropped connection or a read timeout is retried the same way; the callers
make every retried operation safe to repeat (see ``sheets/google.py``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from google.auth.exceptions import TransportError
from gspread.exceptions import APIError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

log = logging.getLogger(__name__)
T = TypeVar("T")

# 408 request timeout, 429 quota, 5xx server side: Google says retry these with backoff.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.Timeout,
    TransportError,
)


def status_of(exc: BaseException) -> int | None:
    if isinstance(exc, APIError):
        return exc.response.status_code
    return None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, APIError):
        return status_of(exc) in TRANSIENT_STATUSES
    # ConnectionError covers refused and reset connections; ChunkedEncodingError an answer cut
    # off mid-body (a dropped connection); Timeout a server that went quiet; TransportError the
    # token endpoint being unreachable while google-auth refreshes.
    return isinstance(exc, _NETWORK_ERRORS)


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The server's ``Retry-After`` (delta-seconds or an HTTP date, RFC 9110 §10.2.3)."""
    if not isinstance(exc, APIError):
        return None
    value = exc.response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


@dataclass
class RetryPolicy:
    # 1 + 7 retries: even at the low end of the jitter the waits add up to 63.5 s, more than
    # one per-minute quota bucket, so a 429 without Retry-After always outlasts its bucket.
    attempts: int = 8
    base: float = 1.0
    max_wait: float = 64.0
    sleep: Callable[[float], None] = time.sleep

    def wait_for(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after_seconds(exc)
        if hinted is not None:
            return min(hinted, self.max_wait)
        ceiling = min(self.base * 2 ** (state.attempt_number - 1), self.max_wait)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def run(self, operation: Callable[[], T], *, what: str = "Sheets call") -> T:
        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed (%s), retry %d of %d in %.1fs",
                what,
                _describe(exc),
                state.attempt_number,
                self.attempts - 1,
                state.next_action.sleep if state.next_action else 0.0,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait_for,
            retry=retry_if_exception(is_transient),
            sleep=self.sleep,
            before_sleep=note,
            reraise=True,
        )
        return retrying(operation)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, APIError):
        return f"HTTP {status_of(exc)} {exc.error.get('status', '')}".strip()
    return type(exc).__name__ if exc else "unknown"
