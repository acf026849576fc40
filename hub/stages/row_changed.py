"""The ``row_changed`` stage: a person changed a row (Make.com "Watch Changes"), so that row's
next stage is queued for it alone, decided from the row's state (:func:`next_stage_for`)."""

from __future__ import annotations

import asyncio

from hub.stages.base import ChainTo, StageContext, StageResult
from sheets.columns import HUMAN_TERMINAL_STATUSES

# Rows in these states have nowhere to go (terminal, or an outcome only reconciliation decides).
STOPPED_STATUSES = frozenset(
    {*HUMAN_TERMINAL_STATUSES, "unsubscribed", "bounced", "replied", "no_email", "sending"}
)


def next_stage_for(row: dict[str, str]) -> str | None:
    """The stage that moves this row on, from its state (None: it has nowhere to go)."""
    status = row.get("outreach_status", "") or "pending"
    if status in STOPPED_STATUSES:
        return None
    if status == "sent":
        return "followup"
    if status == "drafted":
        return "send"
    if status == "pending" or not row.get("contact_email", ""):
        return "enrich"
    if not row.get("score", ""):
        return "score"
    if status == "enriched" or not (row.get("draft_subject", "") and row.get("draft_body", "")):
        return "draft"
    return "send"


async def run(ctx: StageContext) -> StageResult:
    """A person changed a row (Make "Watch Changes"): queue that row's next stage."""
    hub_id = str(ctx.params.get("hub_id", ""))
    row = await asyncio.to_thread(ctx.store.get, hub_id) if hub_id else None
    if row is None:
        return StageResult(
            summary={"hub_id": hub_id, "next_stage": None, "reason": "no row has this hub_id"},
            chain=False,
        )
    stage = next_stage_for(row)
    summary = {"hub_id": hub_id, "status": row.get("outreach_status", ""), "next_stage": stage}
    if stage is None:
        return StageResult(summary=summary, chain=False)
    return ChainTo(summary=summary, next_job=(stage, {"prospect_ids": [hub_id]}))
