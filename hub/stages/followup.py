"""The ``followup`` stage: due follow-ups as replies in the thread (see
:mod:`hub.sending.followups`). Params: ``max_prospects``, ``chunk_size`` (fixed rows per
chunk; by default sized by time, see :mod:`hub.sending.chunking`)."""

from __future__ import annotations

from hub.sending.followups import run_followups
from hub.stages.base import StageContext, StageResult, stage


@stage("followup")
async def run(ctx: StageContext) -> StageResult:
    summary = await run_followups(
        ctx.services,
        ctx.params,
        is_cancelled=ctx.is_cancelled,
        report_progress=ctx.report_progress,
        guard=ctx.rows,
    )
    ctx.check_cancelled()
    return StageResult(summary=summary, chain=False)
