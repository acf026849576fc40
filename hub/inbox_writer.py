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
synchronous write on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger("hub.inbox")

# A group's size bound keeps one transaction short (the runner's claims wait for the lock).
MAX_GROUP = 256


class InboundWriter:
    def __init__(self, state: Any, *, max_group: int = MAX_GROUP):
        self.state = state
        self.max_group = max_group
        self._queue: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None
        self.groups = 0  # how many transactions served the deliveries (tests, benchmarks)

    async def persist(self, **item: Any) -> Any:
        """``State.persist_inbound(**item)``, committed in a group; raises what it raised."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self.kick()
        return await future

    def kick(self) -> None:
        """Make sure a drain task runs (queued deliveries or delivery-log lines are waiting)."""
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(
                self._drain(), name="hub-inbox-writer"
            )

    async def _drain(self) -> None:
        while self._queue or self.state.has_queued_deliveries():
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

    async def drain(self) -> None:
        """Wait until everything queued is written (shutdown, tests)."""
        while self._drainer is not None and not self._drainer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._drainer)
