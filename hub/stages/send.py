"""The ``send`` stage: first messages, exactly once (the work is in :mod:`hub.sending.runner`).

Params: ``max_prospects``, ``auto_send`` (draft rows that have none, then send; approval
still applies unless ``HUB_REQUIRE_APPROVAL=false``), ``chunk_size`` (a fixed number of rows
per chunk; by default chunks are sized by time, see :mod:`hub.sending.chunking`). A dry run
on PostgreSQL is split into slices that several workers run at once (:mod:`hub.sending.slices`).
"""

from __future__ import annotations

from hub.sending.runner import run_send
from hub.stages.base import StageContext, StageResult, stage


@stage("send")
async def run(ctx: StageContext) -> StageResult:
    from hub.sending.slices import fans_out, send_in_slices  # a dry run on several workers

    if fans_out(ctx):
        return await send_in_slices(ctx)
    summary = await run_send(
        ctx.services,
        ctx.params,
        is_cancelled=ctx.is_cancelled,
        report_progress=ctx.report_progress,
        guard=ctx.rows,
    )
    ctx.check_cancelled()
    # Nothing follows a send in the chain; follow-ups run on their own schedule.
    return StageResult(summary=summary, chain=False)
