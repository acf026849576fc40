"""A limiter that holds several windows at once (Hunter: 15 per second AND 500 per minute).

Why not ``aiolimiter.AsyncLimiter`` alone: it is a leaky bucket, which lets a full bucket go
out at once and then keeps draining, so up to twice the limit can land inside one sliding
one-second window — exactly what a provider counting requests per window calls a violation.
This limiter keeps the send times of the last ``limit`` calls of every window and waits until
a new call fits into all of them, with a small margin for network jitter. It also spaces calls
evenly at the fastest window's rate so a burst never piles up at the provider.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    limit: int  # calls allowed ...
    seconds: float  # ... within any sliding window of this length


class MultiWindowLimiter:
    """``async with limiter:`` (or ``await limiter.acquire()``) before each call."""

    def __init__(
        self,
        windows: Sequence[Window],
        *,
        margin: float = 0.03,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not windows:
            raise ValueError("a limiter needs at least one window")
        self.windows = tuple(windows)
        # The margin stretches every window a little: a request sent at t may reach the
        # provider a few milliseconds later than the one sent after it.
        self._stretch = 1.0 + margin
        self._clock = clock
        self._sent: deque[float] = deque(maxlen=max(w.limit for w in self.windows))
        fastest = min(self.windows, key=lambda w: w.seconds / w.limit)
        self._gap = fastest.seconds / fastest.limit * self._stretch
        # Spacing follows a schedule (slot after slot), not the actual send times: a sleep
        # that overshoots by a millisecond must not push every later call back with it.
        self._next_slot = 0.0
        self._lock = asyncio.Lock()

    @property
    def rate_per_second(self) -> float:
        return min(w.limit / w.seconds for w in self.windows)

    def _earliest(self, now: float) -> float:
        start = max(now, self._next_slot)
        for window in self.windows:
            if len(self._sent) >= window.limit:
                # the call `limit` back must have left the window before we may go
                oldest = self._sent[-window.limit]
                start = max(start, oldest + window.seconds * self._stretch)
        return start

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                start = self._earliest(now)
                if start <= now:
                    self._sent.append(now)
                    self._next_slot = start + self._gap
                    return
                await asyncio.sleep(start - now)

    async def __aenter__(self) -> MultiWindowLimiter:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def hunter_limits(rate_per_second: float, per_second: int, per_minute: int) -> list[Window]:
    """Hunter's documented pair of windows, scaled together by the configured rate.

    ``HUB_HUNTER_RATE`` defaults to the documented per-second limit; a plan (or a bench) with a
    higher rate gets a per-minute window scaled by the same factor.
    """
    factor = rate_per_second / per_second
    fast = (
        Window(int(rate_per_second), 1.0)
        if rate_per_second >= 1
        else Window(1, 1 / rate_per_second)
    )
    return [
        fast,
        Window(max(1, int(per_minute * factor)), 60.0),
    ]
