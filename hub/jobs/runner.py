"""The job runner: durable jobs from ``hub.state.sqlite``, run by in-process asyncio workers.

- At most ``settings.job_concurrency`` jobs at once, and at most ONE job of a type per state DB
  (so per store), also across processes: a job runs under a lease in the DB that a heartbeat
  extends; a second job of the type waits until the lease is released or expires.
- On start-up, pending jobs and running jobs whose process is gone run again; stages are
  idempotent by row state, so a re-run only does what was left.
- Cancel is cooperative: the stage calls ``ctx.check_cancelled()`` between chunks.
- A finished job queues its chained successor (discover/import -> enrich -> score -> draft ->
  send when auto-send is on) and its ``job.completed``/``job.failed`` event in the same
  transaction that marks it finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from hub.errors import HubError
from hub.jobs.chain import finished_event, next_job
from hub.stages.base import JobCancelled, StageContext, StageResult
from hub.stages.registry import PARALLEL_TYPES, check_job_type, stage_for
from hub.state.leases import new_owner, owner_dead, owner_started, owner_stopped

log = logging.getLogger("hub.jobs")


class JobRunner:
    def __init__(
        self,
        services: Any,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float | None = None,
        concurrency: int | None = None,
    ):
        self.services = services
        self.state = services.state
        self.settings = services.settings
        self.lease_seconds = lease_seconds
        # PostgreSQL wakes the runner by NOTIFY: its poll is a safety net (a lease expiring on
        # another machine notifies nobody). SQLite shares its file with the silent CLI.
        on_postgres = getattr(self.state, "backend_name", "") == "postgres"
        self.poll_interval = poll_interval or (5.0 if on_postgres else 0.5)
        self.concurrency = concurrency or self.settings.job_concurrency
        self.owner = new_owner()
        self._tasks: dict[str, asyncio.Task] = {}
        self._running_types: set[str] = set()
        # The same, readable from the state's worker threads (a set may change under them).
        self._busy_types: frozenset[str] = frozenset()
        self._cancel_flags: set[str] = set()
        self._progress_written: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._background: list[asyncio.Task] = []
        self._stopping = False
        owner_started(self.owner)

    # --- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start the dispatcher and heartbeat; unfinished jobs are picked up at once."""
        self._bind_loop()
        self._stopping = False
        self._background = [
            asyncio.create_task(self._dispatch_loop(), name="hub-jobs-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="hub-jobs-heartbeat"),
        ]

    @property
    def dispatching(self) -> bool:
        """Started, so it takes queued jobs (the CLI only runs one job inline)."""
        return bool(self._background) and not self._stopping

    def _bind_loop(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self.state.on_change_typed(self._on_state_change)
            self.state.on_cancel(self._on_cancel_requested)
        owner_started(self.owner)

    async def stop(self) -> None:
        """Stop taking jobs; interrupted jobs go back to pending for the next start."""
        self._stopping = True
        for task in [*self._background, *self._tasks.values()]:
            task.cancel()
        for task in [*self._background, *self._tasks.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background.clear()
        owner_stopped(self.owner)

    def _on_state_change(self, kind: str, job_types: frozenset[str] | None = None) -> None:
        if kind != "job" or self._loop is None or self._loop.is_closed():
            return
        if job_types is not None and job_types <= self._busy_types:
            # Only jobs of types this runner is running were queued: none can start before
            # ours ends, and its end wakes the dispatcher (_execute). Under webhook load this
            # skipped a dispatch query per group commit.
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)

    def _on_cancel_requested(self, job_id: str) -> None:
        """A cancel asked in any process: seen at the stage's next check, not heartbeat."""
        if self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._flag_cancel, job_id)

    def _flag_cancel(self, job_id: str) -> None:
        if job_id in self._tasks:
            self._cancel_flags.add(job_id)

    # --- public API ----------------------------------------------------------------------
    async def submit(
        self,
        job_type: str,
        params: dict[str, Any] | None = None,
        *,
        source: str = "api",
        parent_id: str | None = None,
    ) -> str:
        check_job_type(job_type)
        return await asyncio.to_thread(
            self.state.insert_job, job_type, params or {}, source=source, parent_id=parent_id
        )

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.state.get_job(job_id)

    def list(
        self, job_type: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return self.state.list_jobs(job_type, status, limit=limit)

    async def cancel(self, job_id: str) -> dict[str, Any] | None:
        job = await asyncio.to_thread(self.state.request_cancel, job_id)
        if job is not None and job_id in self._tasks:
            self._cancel_flags.add(job_id)
        return job

    async def finish_job(
        self, job_id: str, result: dict[str, Any] | None, *, error: str | None = None
    ) -> bool:
        """End a job left running by a stage that returned ``waiting=True`` (DataForSEO
        callbacks and the recovery sweep call this). False if it had already ended."""
        job = await asyncio.to_thread(self.state.get_job, job_id)
        if job is None or job["status"] not in ("pending", "running"):
            return False
        status = "failed" if error else "completed"
        outcome = StageResult(summary=result or {})
        child = None if error else next_job(job, outcome, auto_send=self.settings.auto_send)
        finished, _ = await asyncio.to_thread(
            self.state.finish,
            job_id,
            status,
            result=result,
            error=error,
            child=child,
            event=finished_event(job, status, result, error),
        )
        return finished

    async def run_inline(
        self,
        job_type: str,
        params: dict[str, Any] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        *,
        chain: bool = False,
        source: str = "cli",
    ) -> dict[str, Any]:
        """Run one job in this process now (the CLI), waiting for its type's lease if the
        server is running one. Without ``chain`` no successor is queued."""
        self._bind_loop()
        job_id = await self.submit(job_type, params, source=source)
        while True:
            job = await asyncio.to_thread(
                self.state.claim_job, job_id, self.owner, self.lease_seconds, owner_dead
            )
            if job is not None:
                break
            current = self.get(job_id)
            if current is None or current["status"] != "pending":
                return current or {}
            await asyncio.sleep(self.poll_interval)  # another process holds the type's lease
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        try:
            await self._execute(job, on_progress=on_progress, chain=chain)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return self.get(job_id) or {}

    # --- dispatching ---------------------------------------------------------------------
    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._dispatch_once()
            except Exception:  # a DB hiccup must not kill the runner
                log.exception("job dispatch failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _dispatch_once(self) -> None:
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return
        claiming = asyncio.ensure_future(
            asyncio.to_thread(
                self.state.claim_runnable,
                self.owner,
                self.lease_seconds,
                owner_dead,
                limit=free,
                busy_types=frozenset(self._running_types),
                skip_ids=frozenset(self._tasks),
                parallel_types=PARALLEL_TYPES,
            )
        )
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # Stopped while the claim ran in its thread: hand back whatever it took, so the
            # jobs are pending again (not running under a lease nobody works on).
            with contextlib.suppress(Exception):
                for job in await claiming:
                    await asyncio.to_thread(self.state.release_job, job["id"], self.owner)
            raise
        for job in claimed:
            self._set_running(job["job_type"], True)
            self._tasks[job["id"]] = asyncio.create_task(
                self._execute(job, chain=True), name=f"hub-job-{job['job_type']}-{job['id']}"
            )

    def _set_running(self, job_type: str, running: bool) -> None:
        if job_type in PARALLEL_TYPES:
            return  # several run at once: never a reason to skip a dispatch
        if running:
            self._running_types.add(job_type)
        else:
            self._running_types.discard(job_type)
        self._busy_types = frozenset(self._running_types)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                asked = await asyncio.to_thread(
                    self.state.renew_leases, self.owner, self.lease_seconds
                )
                self._cancel_flags.update(asked)
            except Exception:
                log.exception("lease heartbeat failed")

    # --- running one job -----------------------------------------------------------------
    def _context(self, job: dict[str, Any], on_progress) -> StageContext:
        job_id = job["id"]

        def report_progress(processed: int, total: int) -> None:
            if on_progress is not None:
                on_progress(processed, total)
            # Throttled: a stage may report per row; the status page needs ~4 updates a second.
            now = time.monotonic()
            if processed >= total or now - self._progress_written.get(job_id, 0) > 0.25:
                self._progress_written[job_id] = now
                self.state.set_progress(job_id, processed, total)

        return StageContext(
            job_id=job_id,
            job_type=job["job_type"],
            params=dict(job["params"]),
            services=self.services,
            report_progress=report_progress,
            is_cancelled=lambda: job_id in self._cancel_flags,
            emit=self.state.add_event,
        )

    async def _execute(self, job: dict[str, Any], *, on_progress=None, chain: bool) -> None:
        job_id, job_type = job["id"], job["job_type"]
        if job["cancel_requested"]:
            self._cancel_flags.add(job_id)
        try:
            ctx = self._context(job, on_progress)
            try:
                ctx.check_cancelled()
                result = await stage_for(job_type)(ctx)
            except JobCancelled:
                await self._finish(job, "cancelled", None, "cancelled on request", chain=False)
            except asyncio.CancelledError:
                # The runner is stopping: hand the job back; the next start runs it again.
                await asyncio.shield(asyncio.to_thread(self.state.release_job, job_id, self.owner))
                raise
            except Exception as exc:
                message = (
                    exc.message if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}"
                )
                log.exception("job %s (%s) failed", job_id, job_type)
                await self._finish(job, "failed", None, message, chain=False)
            else:
                if result.waiting:
                    await asyncio.to_thread(
                        self.state.set_waiting, job_id, self.owner, result.summary
                    )
                else:
                    await self._finish(job, "completed", result, None, chain=chain)
        finally:
            self._tasks.pop(job_id, None)
            self._set_running(job_type, False)
            self._cancel_flags.discard(job_id)
            self._progress_written.pop(job_id, None)
            if self._wake is not None:
                self._wake.set()

    async def _finish(
        self,
        job: dict[str, Any],
        status: str,
        result: StageResult | None,
        error: str | None,
        *,
        chain: bool,
    ) -> None:
        summary = result.summary if result is not None else None
        child = (
            next_job(job, result, auto_send=self.settings.auto_send)
            if chain and result is not None
            else None
        )
        event = finished_event(job, status, summary, error) if status != "cancelled" else None
        await asyncio.to_thread(
            self.state.finish,
            job["id"],
            status,
            result=summary,
            error=error,
            owner=self.owner,
            child=child,
            event=event,
        )
