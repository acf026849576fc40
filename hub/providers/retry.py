"""The wait between retries of a provider call, shared by the httpx clients.

A provider that says how long to wait (``Retry-After``, carried on the exception as
``retry_after``) is obeyed, up to ``cap`` seconds; otherwise exponential backoff with full
jitter, so many rows retrying at once do not hit the provider in step.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import RetryCallState
from tenacity.wait import wait_random_exponential


def retry_after_or_backoff(
    *, multiplier: float, max_wait: float, cap: float = 60.0
) -> Callable[[RetryCallState], float]:
    backoff = wait_random_exponential(multiplier=multiplier, max=max_wait)

    def wait(retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), cap)
        return backoff(retry_state)

    return wait
