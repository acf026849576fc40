"""The ``import_rows`` stage: rows a Make.com scenario sent (the ``import_rows`` action) are
appended, de-duplicated by domain; enrichment follows in the chain, as after discovery."""

from __future__ import annotations

import asyncio

from hub.stages.base import StageContext, StageResult


async def run(ctx: StageContext) -> StageResult:
    """Append the rows Make sent (de-duplicated by domain); then enrichment follows."""
    rows = [row for row in ctx.params.get("rows") or [] if isinstance(row, dict)]
    ctx.report_progress(0, len(rows))
    report = await asyncio.to_thread(ctx.store.append, rows, dedupe_by_domain=True)
    ctx.report_progress(len(rows), len(rows))
    summary = {
        "received": len(rows),
        "added": len(report.added),
        "duplicates": len(report.duplicates),
    }
    # Nothing new: no point waking the whole chain.
    return StageResult(summary=summary, chain=bool(report.added))
