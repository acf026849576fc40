"""The ``tick`` stage: follow-ups and reply checks, the DataForSEO recovery sweep, housekeeping.

It runs in-process every ``HUB_TICK_MINUTES`` (0 disables it) and whenever Make sends the
``tick`` action (for users who prefer a Make schedule). The jobs it queues are no-ops when
nothing is due, and it does not queue a second one while one of the type is still waiting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.discovery.sweep import sweep_lost_tasks
from hub.services import JobQueue
from hub.stages.base import StageContext, StageResult

log = logging.getLogger("hub.tick")

TICK_JOBS = ("followup", "check_replies")


async def run_tick(services: Any, runner: JobQueue) -> dict[str, Any]:
    summary: dict[str, Any] = {"queued": {}, "skipped": [], "swept_tasks": None}
    for job_type in TICK_JOBS:
        busy = await asyncio.to_thread(_has_unfinished, services.state, job_type)
        if busy:
            summary["skipped"].append(job_type)
            continue
        summary["queued"][job_type] = await runner.submit(job_type, {}, source="tick")
    try:
        summary["swept_tasks"] = await sweep_lost_tasks(services, runner)
    except Exception:  # the next tick tries again; the jobs above are already queued
        log.exception("the DataForSEO recovery sweep failed")
        summary["swept_tasks"] = "failed"
    summary["purged_inbox_rows"] = await asyncio.to_thread(services.state.purge_inbox)
    return summary


def _has_unfinished(state: Any, job_type: str) -> bool:
    return bool(state.list_jobs(job_type, "pending", limit=1)) or bool(
        state.list_jobs(job_type, "running", limit=1)
    )


async def tick_loop(services: Any, runner: JobQueue, minutes: float) -> None:
    """Tick every ``minutes`` until cancelled (the first tick comes one period after start).

    Every process of a hub runs this loop; the state's periodic turn lets one of them tick per
    period (on PostgreSQL an advisory lock and the time of the last tick decide which)."""
    if minutes <= 0:
        return
    while True:
        await asyncio.sleep(minutes * 60)
        try:
            summary = await periodic_tick(services, runner, minutes * 60)
            if summary is not None:
                log.info("tick: %s", summary)
        except Exception:
            log.exception("tick failed; next one in %s min", minutes)


async def periodic_tick(services: Any, runner: JobQueue, period_seconds: float) -> dict | None:
    """:func:`run_tick` if it is this process's turn in this period, else None."""
    turn = services.state.periodic_turn("tick", period_seconds)
    mine = await asyncio.to_thread(turn.__enter__)
    try:
        return await run_tick(services, runner) if mine else None
    finally:
        await asyncio.to_thread(turn.__exit__, None, None, None)


async def run(ctx: StageContext) -> StageResult:
    """The Make ``tick`` action, run durably as a job."""
    summary = await run_tick(ctx.services, ctx.services.runner)
    return StageResult(summary=summary, chain=False)
