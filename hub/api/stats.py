"""``/api/stats``: counts per status and per stage; never fails on an empty or half-filled store."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# How far rows have come, from the cells each stage fills (a row counts in every stage it passed).
STAGE_MARKERS = {
    "discovered": lambda row: True,
    "with_email": lambda row: bool(row.get("contact_email", "")),
    "scored": lambda row: bool(row.get("score", "")),
    "drafted": lambda row: bool(row.get("draft_subject", "") and row.get("draft_body", "")),
    "sent": lambda row: bool(row.get("last_sent", "") or row.get("message_id", "")),
    "followed_up": lambda row: _int(row.get("followups_sent", "")) > 0,
    "replied": lambda row: bool(row.get("replied_at", "")),
}


def _int(text: str) -> int:
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return 0


def prospect_stats(rows: list[dict[str, str]]) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_stage = dict.fromkeys(STAGE_MARKERS, 0)
    for row in rows:
        status = row.get("outreach_status", "") or "pending"
        by_status[status] = by_status.get(status, 0) + 1
        for stage, reached in STAGE_MARKERS.items():
            if reached(row):
                by_stage[stage] += 1
    return {"total": len(rows), "by_status": by_status, "by_stage": by_stage}


async def stats(request: Request) -> JSONResponse:
    services = request.app.state.services
    rows = await asyncio.to_thread(services.store.rows)
    jobs = await asyncio.to_thread(services.state.count_jobs)
    events = await asyncio.to_thread(
        services.state.query, "SELECT status, COUNT(*) FROM outbox GROUP BY status"
    )
    return JSONResponse(
        {
            "prospects": prospect_stats(rows),
            "jobs": jobs,
            "events": {status: count for status, count in events},
        }
    )


routes = [Route("/stats", stats, methods=["GET"])]
