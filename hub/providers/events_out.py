"""Outbound events (``job.completed``, ``prospect.replied``, ...) delivered from the durable
event queue (``hub.state.events``) to ``HUB_EVENTS_URL`` (typically a Make.com custom webhook).

Each event is one JSON body ``{"type", "timestamp", "data"}`` stored once, so every retry sends
the same bytes under the same ``webhook-id``; ``webhook-timestamp`` and ``webhook-signature``
(Standard Webhooks, keyed by ``HUB_EVENTS_SECRET``) are made fresh per attempt, as the spec
says. Failed attempts are retried with exponential backoff and jitter (honouring
``Retry-After``) for up to 24 h, then the event is marked dead. Every attempt is logged in
``outbox_attempts`` for the status page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from webhooks.signing import sign_standard

log = logging.getLogger("hub.events")

GIVE_UP_AFTER_SECONDS = 24 * 3600
# 410 Gone: the receiver says the endpoint is gone for good (Standard Webhooks convention).
PERMANENT_STATUSES = frozenset({410})


class EventDelivery:
    def __init__(
        self,
        state: Any,
        url: str,
        secret: str,
        *,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], float] = time.time,
        base_delay: float = 5.0,
        max_delay: float = 4 * 3600.0,  # ~20 attempts spread over the 24 h
        give_up_after: float = GIVE_UP_AFTER_SECONDS,
        timeout: float = 15.0,
        poll_interval: float = 30.0,
        jitter: Callable[[], float] = random.random,
    ):
        self.state = state
        self.url = url
        self.secret = secret
        self.now = now
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.give_up_after = give_up_after
        self.poll_interval = poll_interval
        self.jitter = jitter
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_settings(cls, state: Any, settings: Any, **kwargs: Any) -> EventDelivery | None:
        if not settings.events_url:
            return None
        return cls(state, settings.events_url, settings.events_secret.get_secret_value(), **kwargs)

    # --- one pass ------------------------------------------------------------------------
    async def deliver_due(self) -> int:
        """Attempt every event that is due now; returns how many were delivered."""
        delivered = 0
        for event in await asyncio.to_thread(self.state.due_events):
            delivered += await self.attempt(event)
        return delivered

    async def attempt(self, event: dict[str, Any]) -> bool:
        ts = int(self.now())
        headers = {
            "content-type": "application/json",
            "user-agent": "outreach-hub-events/1",
            "webhook-id": event["id"],
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard(self.secret, event["id"], ts, event["body"]),
        }
        started = time.monotonic()
        status_code: int | None = None
        retry_after: float | None = None
        try:
            response = await self.client.post(
                self.url, content=event["body"].encode(), headers=headers
            )
            status_code = response.status_code
            error = None if response.is_success else f"HTTP {status_code}"
            retry_after = _retry_after(response.headers.get("retry-after"), self.now())
        except httpx.HTTPError as exc:  # never log the URL: a Make hook URL is a credential
            error = f"{type(exc).__name__}"
        duration_ms = int((time.monotonic() - started) * 1000)
        if error is None:
            outcome, next_at = "delivered", None
        else:
            next_at = self.now() + self._delay(event["attempts"] + 1, retry_after)
            too_old = next_at - event["created_at"] > self.give_up_after
            outcome = "dead" if status_code in PERMANENT_STATUSES or too_old else "retry"
            log.warning("event %s attempt failed: %s (%s)", event["id"], error, outcome)
        await asyncio.to_thread(
            self.state.record_attempt,
            event["id"],
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            outcome=outcome,
            next_attempt_at=next_at,
        )
        return outcome == "delivered"

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        # Exponential backoff, full range jitter in [50%, 100%] so retries of many events spread.
        delay = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
        delay *= 0.5 + self.jitter() / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

    # --- the background loop ---------------------------------------------------------------
    def wake(self) -> None:
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Deliver until cancelled; wakes when an event is added, else when one falls due."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.state.on_change(lambda kind: self.wake() if kind == "event" else None)
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("event delivery pass failed")
            next_due = await asyncio.to_thread(self.state.next_event_due_at)
            wait = self.poll_interval
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - self.now()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    return None
