"""Accepting inbound events: the ``accept`` and ``record`` callbacks handed to ``webhooks.routes``.

Every delivery is persisted BEFORE it is acknowledged: the inbox row and its job are written in
one transaction (``State.persist_inbound``), de-duplicated by ``event.dedupe_key`` within its
window. Make actions map to jobs; DataForSEO callbacks are persisted and answered at once
(DataForSEO drops a callback after 10 s) and processed right after the answer, and again on
start-up if the process died in between. A DataForSEO callback is accepted only for a task the
hub created, or, under the hub's ``make-dfs:`` grant, a task a Make scenario posted (a discover
job is opened for it on first sight: ``hub.discovery.from_make``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from hub.discovery import callbacks, from_make
from hub.inbox_writer import InboundWriter
from hub.stages.registry import MAKE_ACTIONS
from webhooks.events import Acceptance, Delivery, InboundEvent, Refused

log = logging.getLogger("hub.inbox")


class Inbox:
    def __init__(self, services: Any, runner: Any):
        self.services = services
        self.runner = runner
        self.state = services.state
        self.writer = InboundWriter(self.state)  # group commit (see hub.inbox_writer)
        self._processing: set[asyncio.Task] = set()

    # --- the callbacks ---------------------------------------------------------------------
    async def accept(self, event: InboundEvent) -> Acceptance:
        if event.source == "make":
            return await self._accept_make(event)
        if event.source.startswith("dataforseo"):
            return await self._accept_dataforseo(event)
        raise Refused(400, f"this hub does not accept events from {event.source!r}")

    def record(self, delivery: Delivery) -> None:
        # Queued, and written with the next group commit: not a synchronous write on the loop.
        self.state.queue_delivery(
            at=delivery.at.isoformat(),
            route=delivery.route,
            action=delivery.action,
            verdict=delivery.verdict,
            status=delivery.status,
            reason=delivery.reason,
            job_id=delivery.job_id,
        )
        try:
            self.writer.lines_queued()
        except RuntimeError:  # no running loop (a synchronous caller): write it now
            self.state.flush_deliveries()

    # --- Make.com ------------------------------------------------------------------------
    async def _accept_make(self, event: InboundEvent) -> Acceptance:
        if event.action not in MAKE_ACTIONS:
            raise Refused(400, f"unknown action {event.action!r}")
        params = dict(event.payload or {})
        saved = await self.writer.persist(
            source=event.source,
            action=event.action,
            payload=event.payload,
            dedupe_key=event.dedupe_key,
            window_seconds=event.dedupe_window_seconds,
            received_at=event.received_at.timestamp(),
            job=(event.action, params),
            tag=event.tag,
        )
        return Acceptance(job_id=saved.job_id, duplicate=saved.duplicate)

    # --- DataForSEO ------------------------------------------------------------------------
    async def _accept_dataforseo(self, event: InboundEvent) -> Acceptance:
        if not event.job_id or not event.task_id:
            raise Refused(400, "the callback names no task id (the ?id= query parameter)")
        job_id = await self._task_job(event)
        if job_id is None:
            raise Refused(
                404,
                f"task {event.task_id} was not created by this hub for this job; nothing done",
            )
        # A Make grant's token names no job: from here on the event belongs to the real one.
        event = dataclasses.replace(event, job_id=job_id)
        saved = await asyncio.to_thread(
            self.state.persist_inbound,
            source=event.source,
            action=event.action,
            payload=event.payload,
            dedupe_key=event.dedupe_key,
            window_seconds=event.dedupe_window_seconds,
            received_at=event.received_at.timestamp(),
            job_id=event.job_id,
            task_id=event.task_id,
            tag=event.tag,
        )
        if not saved.duplicate:
            self._process_later(saved.inbox_seq, event)
        return Acceptance(job_id=event.job_id, duplicate=saved.duplicate)

    async def _task_job(self, event: InboundEvent) -> str | None:
        """The job the callback's task belongs to (None: not created by this hub). Tasks a
        Make scenario posted under the hub's ``make-dfs:`` grant get a job on first sight."""
        # In a worker thread: it may wait for the task book's lock while a task is ingested.
        return await asyncio.to_thread(
            from_make.callback_job,
            self.services,
            event.job_id,
            event.task_id,
            source=event.source,
            payload=event.payload,
            tag=event.tag,
        )

    def _process_later(self, inbox_seq: int | None, event: InboundEvent) -> None:
        task = asyncio.create_task(self._process(inbox_seq, event))
        self._processing.add(task)  # keep a reference until done (asyncio holds weak refs)
        task.add_done_callback(self._processing.discard)

    async def _process(self, inbox_seq: int | None, event: InboundEvent) -> None:
        error = None
        try:
            await callbacks.process_callback(self.services, self.runner, event)
        except Exception as exc:  # kept in the inbox row; the sweep fetches the task again
            log.exception("processing DataForSEO task %s failed", event.task_id)
            error = f"{type(exc).__name__}: {exc}"
        if inbox_seq is not None:
            await asyncio.to_thread(self.state.mark_inbound_processed, inbox_seq, error)

    async def resume_unprocessed(self) -> int:
        """Process DataForSEO callbacks persisted before a crash but never processed."""
        pending = await asyncio.to_thread(self.state.unprocessed_inbound, "dataforseo")
        for row in pending:
            event = InboundEvent(
                source=row["source"],
                action=row["action"],
                payload=row["payload"],
                dedupe_key=row["dedupe_key"] or "",
                dedupe_window_seconds=0,
                received_at=_utc(row["received_at"]),
                job_id=row["job_id"],
                task_id=row["task_id"],
                tag=row["tag"],
            )
            self._process_later(row["seq"], event)
        return len(pending)

    async def drain(self) -> None:
        """Wait for callbacks being processed and deliveries being written (shutdown, tests)."""
        await self.writer.drain()
        while self._processing:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._processing), return_exceptions=True)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
