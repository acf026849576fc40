"""A client-side sliding-window rate limiter for synchronous callers (gspread is synchronous).

Google Sheets counts requests per user in one-minute buckets (60 reads and 60 writes by
default, see API_NOTES). Keeping at most ``limit`` requests in *any* ``window`` seconds is the
strictest form of that rule, so the server never has a reason to answer 429. The clock and the
sleep are injectable so tests can compress a minute into no time at all.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1:
            raise ValueError("limit must be at least 1 request per window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting (for benches and logs)

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                pause = self._sent[0] + self.window - now
                self.waited += pause
                self._sleep(pause)
