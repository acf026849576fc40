"""Group commit for the webhook inbox: one thread hop and one SQLite transaction for every
delivery that arrived while the previous group was being written.

Why: per request, ``asyncio.to_thread(state.persist_inbound)`` costs a thread hand-off, a
``BEGIN IMMEDIATE``/``COMMIT`` and a turn at the state's lock, and the event loop and six
worker threads then fight over the GIL and that lock (profiled with py-spy under 64 concurrent
webhooks: the loop spent more time handing work to threads than verifying signatures). Here a
single drain task takes everything queued, writes it with ``State.persist_inbound_many`` (each
delivery in its own savepoint) and resolves each request's future only after the COMMIT, so an
acknowledged webhook is exactly as durable as before. At low load a group is one delivery and
no latency is added; under load groups grow by themselves.

Delivery-log lines (``Inbox.record``) ride along in the same transactions instead of a
synchronous write on the event loop. A line never starts a transaction of its own while
deliveries keep coming (that was a quarter of all transactions under load: each request's line
arrives just after its own group's COMMIT); when the deliveries stop, the lines left are written
within ``LINES_DELAY`` seconds. Readers (``State.list_deliveries``) flush first anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("hub.inbox")

# A group's size bound keeps one transaction short (the runner's claims wait for the lock).
MAX_GROUP = 256
# How long a delivery-log line may wait for a group commit to carry it (status page only).
LINES_DELAY = 0.25


class InboundWriter:
    def __init__(self, state: Any, *, max_group: int = MAX_GROUP):
        self.state = state
        self.max_group = max_group
        self._queue: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None
        self._lines_timer: asyncio.TimerHandle | None = None
        self.groups = 0  # how many transactions served the deliveries (tests, benchmarks)

    async def persist(self, **item: Any) -> Any:
        """``State.persist_inbound(**item)``, committed in a group; raises what it raised."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self.kick()
        return await future

    def kick(self) -> None:
        """Make sure a drain task runs now (deliveries, or delivery-log lines, are waiting)."""
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(
                self._drain(), name="hub-inbox-writer"
            )

    def lines_queued(self) -> None:
        """A delivery-log line was queued: the next group commit carries it, or, if none comes
        within ``LINES_DELAY`` seconds, a transaction of its own."""
        if self._lines_timer is None:
            self._lines_timer = asyncio.get_running_loop().call_later(LINES_DELAY, self._lines_due)

    def _lines_due(self) -> None:
        self._lines_timer = None
        if self.state.has_queued_deliveries():
            self.kick()

    async def _drain(self) -> None:
        lines_only = not self._queue  # kicked for log lines alone: one transaction for them
        while self._queue or (lines_only and self.state.has_queued_deliveries()):
            lines_only = False
            group, self._queue = self._queue[: self.max_group], self._queue[self.max_group :]
            items = [item for item, _ in group]
            try:
                results = await asyncio.to_thread(self.state.persist_inbound_many, items)
            except BaseException as exc:  # the whole transaction failed: nothing was stored
                for _, future in group:
                    if not future.done():
                        future.set_exception(
                            exc if isinstance(exc, Exception) else RuntimeError("cancelled")
                        )
                if not isinstance(exc, Exception):
                    raise
                log.exception("writing %d inbound deliveries failed", len(group))
                if not group:  # only log lines were waiting: they wait for the next write
                    return
                continue
            self.groups += 1
            for (_, future), result in zip(group, results, strict=True):
                if future.done():  # the request went away; what was stored stays stored
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        if self.state.has_queued_deliveries():
            self.lines_queued()  # lines that came after the last group: they must not be stuck

    async def drain(self) -> None:
        """Wait until everything queued is written (shutdown, tests)."""
        if self.state.has_queued_deliveries():
            self.kick()
        while self._drainer is not None and not self._drainer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._drainer)
            if self.state.has_queued_deliveries():
                self.kick()  # lines queued while the last group was written
