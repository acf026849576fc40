"""A clock tests can compress: ``sleep`` moves time forward instead of waiting.

Share one instance between the Sheets emulator's quota window and the store's limiter and
retry sleeps, and a run that would take minutes of real pacing finishes at once, with every
decision (wait, retry, 429) still made by the real code.
"""

from __future__ import annotations

import threading


class FakeClock:
    def __init__(self, start: float = 1_000.0):
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    async def async_sleep(self, seconds: float, *, late: float = 0.0) -> None:
        """``sleep`` for asyncio code: moves time (``late`` more, as a loaded event loop wakes
        a sleeper late) and gives the other coroutines one turn of the loop."""
        from tests.emulators.serve import next_loop_turn

        self.sleep(seconds + late)
        await next_loop_turn()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
