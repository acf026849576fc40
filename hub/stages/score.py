"""The ``score`` stage: a 0-100 score with its reasons for every enriched row without one.

Params: ``prospect_ids`` re-scores exactly those rows (after a weights change, say). Idempotent:
a scored row is not eligible again unless named. Writes in chunks, one store.update each.
"""

from __future__ import annotations

import asyncio

from hub.scoring import load_weights, score_row
from hub.stages.base import StageContext, StageResult


def is_eligible(row: dict[str, str]) -> bool:
    status = (row.get("outreach_status") or "").strip().lower()
    return status == "enriched" and not (row.get("score") or "").strip()


async def run(ctx: StageContext) -> StageResult:
    weights = load_weights(ctx.settings.score_weights_file)
    wanted = set(ctx.params.get("prospect_ids") or [])
    if wanted:
        rows = await asyncio.to_thread(ctx.store.select, lambda r: r.get("hub_id") in wanted)
    else:
        rows = await asyncio.to_thread(
            ctx.store.select, lambda r: is_eligible(r) and ctx.rows.may_try(r)
        )
    chunk = ctx.settings.sheets_chunk_rows
    ctx.report_progress(0, len(rows))
    scored = 0
    for start in range(0, len(rows), chunk):
        ctx.check_cancelled()
        batch = {}
        for row in rows[start : start + chunk]:
            result, failure = ctx.rows.call(row, lambda row=row: score_row(row, weights))
            if result is None:
                batch[row["hub_id"]] = failure or {}
                continue
            batch[row["hub_id"]] = {
                "score": str(result.value),
                "score_reasons": result.reasons,
                **ctx.rows.recovered(row),
            }
            scored += 1
        await asyncio.to_thread(ctx.store.update, batch)
        ctx.report_progress(min(start + chunk, len(rows)), len(rows))
    return StageResult(summary={"scored": scored})
