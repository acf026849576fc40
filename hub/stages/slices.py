"""A dry-run send shared by several workers (``HUB_DATABASE_URL``): the ``send`` job splits its
rows into ``send_slice`` jobs over disjoint rows, which any worker may run, several at once.

Jobs of one type run one at a time across the hub, because a real send has one sender: its
gap, its daily caps and its provider quota are one budget. A dry run has none of those (it only
writes previews, one per step across machines: :mod:`hub.sending.previews`), so its rows can be
written by every worker at once. The ``send`` job stays the one job a person sees: it queues
the slices (once: a worker that takes the job over after a crash finds them queued), waits for
them to end, passes a cancel on to them and sums their results.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hub.sending.path import wants_send
from hub.stages.base import JobCancelled, StageContext, StageResult

SLICE_TYPE = "send_slice"
SLICE_ROWS = 100  # rows per slice: enough to amortise a job, small enough to spread
POLL_SECONDS = 0.2  # how often the send job looks at its slices (progress, end)
_TERMINAL = ("completed", "failed", "cancelled")


def fans_out(ctx: StageContext) -> bool:
    """Split this send? Only a dry run on a shared database, not already limited to rows, in a
    runner that takes queued jobs (``hub run send`` in the CLI runs its job alone)."""
    mailer = ctx.services.mailer
    return (
        ctx.settings.uses_postgres
        and getattr(ctx.services.runner, "dispatching", False)
        and bool(getattr(mailer, "dry_run", False))
        and not ctx.params.get("hub_ids")
        and not ctx.params.get("auto_send")  # drafting first belongs to the one send job
    )


async def send_in_slices(ctx: StageContext) -> StageResult:
    state = ctx.services.state
    slices = await asyncio.to_thread(_slices_of, state, ctx.job_id)
    if not slices:  # first run of this job (not a takeover): queue them
        ids = await asyncio.to_thread(_eligible_ids, ctx)
        limit = ctx.params.get("max_prospects")
        ids = ids[: int(limit)] if limit else ids
        base = {k: v for k, v in ctx.params.items() if k in ("chunk_size",)}
        slices = await asyncio.to_thread(_queue_slices, state, ctx.job_id, ids, base)
    while True:
        jobs = await asyncio.to_thread(_slices_of, state, ctx.job_id)
        done = sum((j["result"] or {}).get("rows", 0) for j in jobs if j["status"] in _TERMINAL)
        ctx.report_progress(done, sum(len(j["params"]["hub_ids"]) for j in jobs))
        if all(j["status"] in _TERMINAL for j in jobs):
            break
        if ctx.is_cancelled():
            for job in jobs:
                await asyncio.to_thread(state.request_cancel, job["id"])
        await asyncio.sleep(POLL_SECONDS)
    if ctx.is_cancelled():
        raise JobCancelled()
    failed = [j for j in jobs if j["status"] == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} send slices failed: {failed[0]['error']}")
    return StageResult(summary=_sum([j["result"] or {} for j in jobs], len(jobs)), chain=False)


def _eligible_ids(ctx: StageContext) -> list[str]:
    settings = ctx.settings
    return [
        row["hub_id"]
        for row in ctx.store.rows()
        if wants_send(row, auto_send=False, require_approval=settings.require_approval)
    ]


def _slices_of(state: Any, job_id: str) -> list[dict[str, Any]]:
    return state.list_jobs(SLICE_TYPE, parent_id=job_id, limit=100_000)


def _queue_slices(state: Any, job_id: str, ids: list[str], base: dict) -> list[dict[str, Any]]:
    with state.tx() as db:  # all or none: a crash never leaves half the rows unqueued
        for start in range(0, len(ids), SLICE_ROWS):
            params = {**base, "hub_ids": ids[start : start + SLICE_ROWS]}
            state.insert_job_in(db, SLICE_TYPE, params, source="send", parent_id=job_id)
    state._notify("job", frozenset((SLICE_TYPE,)))
    return _slices_of(state, job_id)


def _sum(results: list[dict[str, Any]], slices: int) -> dict[str, Any]:
    total: dict[str, Any] = {"slices": slices}
    for result in results:
        for key, value in result.items():
            if isinstance(value, bool):
                total[key] = total.get(key, False) or value
            elif isinstance(value, int | float):
                total[key] = total.get(key, 0) + value
    return total
