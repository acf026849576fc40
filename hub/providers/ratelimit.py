"""A limiter that holds several windows at once (Hunter: 15 per second AND 500 per minute).

Why not ``aiolimiter.AsyncLimiter`` alone: it is a leaky bucket, which lets a full bucket go
out at once and then keeps draining, so up to twice the limit can land inside one sliding
one-second window — exactly what a provider counting requests per window calls a violation.
This limiter keeps the last ``limit`` calls of every window and waits until a new call fits into
all of them, with a small margin. It also spaces calls evenly at the fastest window's rate so a
burst never piles up at the provider.

Which moment of a call the provider counts: the moment it reads the request. That is after our
turn (the request may wait for a pooled connection, or for the event loop while a chunk write
holds the GIL) and may be well after the request went out (the provider's own queue: the
bench's emulator was seen reading requests 100 ms late on a busy machine). Counted from our
turn, such a call stays in the provider's window longer than in ours, and the call ``limit``
later is one too many there. So with :meth:`MultiWindowLimiter.call`, a call counts from when
its request went out (``on_wire``), and once answered, from no earlier than the answer minus
the provider's usual answer time (the least of the recent ones): a late read shows as a late
answer. A call still unanswered counts as if read just now minus that usual time.

The spacing is a schedule (slot after slot), not "one gap after the last call": the event loop
wakes a sleeper up to a millisecond late (epoll's timeout is in whole milliseconds). Measured at
150/s in bench/enrich_hunter.py, restarting the spacing from each late wake-up made the median
gap 7.9 ms instead of 6.9 ms: 15% of the rate lost. A call up to ``MAX_LAG`` seconds late keeps
its slot and the calls after it catch up back to back; the windows still bound every burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

# How late a call may be on its slot and still keep the schedule (later: it restarts from now).
# It absorbs late wake-ups and short stalls of the event loop and bounds a catch-up burst.
MAX_LAG = 0.1
# How many recent answer times the provider's usual answer time is the least of.
RECENT_ANSWERS = 64
NOT_YET = float("inf")


@dataclass(frozen=True)
class Window:
    limit: int  # calls allowed ...
    seconds: float  # ... within any sliding window of this length


class _Call:
    """One call's place in the windows."""

    __slots__ = ("stamp", "wire")

    def __init__(self, wire: float, stamp: float):
        self.wire = wire  # when the request went out (NOT_YET: not yet)
        self.stamp = stamp  # from when it counts, once known (NOT_YET: still in flight)


class MultiWindowLimiter:
    """``async with limiter.call() as on_wire:`` around each request (``on_wire()`` when its
    first byte goes out: :func:`wire_trace` does that for httpx); or ``await limiter.acquire()``
    just before a request that goes out at once and is counted from then."""

    def __init__(
        self,
        windows: Sequence[Window],
        *,
        margin: float = 0.03,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        if not windows:
            raise ValueError("a limiter needs at least one window")
        self.windows = tuple(windows)
        # The margin stretches every window a little, for what the stamps cannot see (the way
        # in to the provider may take a few milliseconds longer for one request than another).
        self._stretch = 1.0 + margin
        self._clock, self._sleep = clock, sleep
        self._calls: deque[_Call] = deque(maxlen=max(w.limit for w in self.windows))
        self._answer_times: deque[float] = deque(maxlen=RECENT_ANSWERS)
        fastest = min(self.windows, key=lambda w: w.seconds / w.limit)
        self._gap = fastest.seconds / fastest.limit * self._stretch
        self._next_slot = float("-inf")
        self._max_lag = max(MAX_LAG, self._gap)
        self._lock = asyncio.Lock()

    @property
    def rate_per_second(self) -> float:
        return min(w.limit / w.seconds for w in self.windows)

    def _usual_answer_time(self) -> float:
        return min(self._answer_times, default=0.0)

    def _counts_from(self, call: _Call, now: float) -> float:
        if call.stamp != NOT_YET:
            return call.stamp
        if call.wire == NOT_YET:
            return now  # not even sent: it may go out (and be counted) any moment
        # In flight: the provider may not have read it yet; answered now, it would count from
        # the answer minus the usual answer time.
        return max(call.wire, now - self._usual_answer_time())

    def _earliest(self, now: float) -> float:
        start = self._next_slot
        for window in self.windows:
            if len(self._calls) >= window.limit:
                # the call `limit` back must have left the window before we may go
                oldest = self._counts_from(self._calls[-window.limit], now)
                start = max(start, oldest + window.seconds * self._stretch)
        return start

    async def _take_turn(self, wire: float | None) -> _Call:
        async with self._lock:
            while True:
                now = self._clock()
                start = self._earliest(now)
                if start <= now:
                    sent = now if wire is None else wire
                    call = _Call(sent, sent)
                    self._calls.append(call)
                    # Late by at most MAX_LAG (a late wake-up, a short stall): the next slot
                    # follows this one's, so the lost time is made up. Later than that (the
                    # first call, an idle spell, a long stall): the schedule restarts from now,
                    # so no burst is banked.
                    on_schedule = now - start <= self._max_lag
                    self._next_slot = (start if on_schedule else now) + self._gap
                    return call
                # A call in flight counts from later the longer it takes: look again soon.
                await self._sleep(min(start - now, max(self._gap, 0.01)))

    async def acquire(self) -> None:
        """Wait for the call's turn; it counts from now (for a request that goes out at once)."""
        await self._take_turn(None)

    @contextlib.asynccontextmanager
    async def call(self) -> AsyncIterator[Callable[[], None]]:
        """Wait for the call's turn; the call counts from when its request goes out
        (``on_wire()``; the latest of several writes wins), corrected by its answer when the
        block ends: an answer later than usual means the provider read it late. A block that
        ends with an exception (an error status raised inside it, a timeout) does not teach
        the usual answer time (an error may come back faster than any real answer)."""
        call = await self._take_turn(NOT_YET)

        def on_wire() -> None:
            call.wire = self._clock()

        answered_ok = False
        try:
            yield on_wire
            answered_ok = True
        finally:
            answered = self._clock()
            if call.wire == NOT_YET:
                call.wire = answered  # no trace: the latest moment it can have gone out
            elif answered_ok:
                self._answer_times.append(answered - call.wire)
            call.stamp = max(call.wire, answered - self._usual_answer_time())

    async def __aenter__(self) -> MultiWindowLimiter:
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


# httpcore's trace events for the moment a request's first byte is written.
_WIRE_EVENTS = {"http11.send_request_headers.started", "http2.send_request_headers.started"}


def wire_trace(on_wire: Callable[[], None]) -> dict[str, Any]:
    """httpx ``extensions`` that call ``on_wire()`` when the request goes out on the socket
    (after any wait for a pooled connection)."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event in _WIRE_EVENTS:
            on_wire()

    return {"trace": trace}


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
