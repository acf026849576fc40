"""``POST /api/prospects/{id}/send``: one row's first message, now, through the send job's
exactly-once path and limits."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.errors import Conflict, NotFound
from hub.sending.ledger import Ledger
from hub.sending.path import wants_send
from hub.stages.send import run_send


async def send_one(services, hub_id: str) -> dict[str, Any]:
    """``POST /api/prospects/{id}/send``: send (or preview) this row's first message now,
    through the same exactly-once path and limits as the send job (no gap: one message).

    Raises ``NotFound`` for an unknown id and ``Conflict`` naming what to fix when the row
    cannot be sent. A row already sent answers with its state (``result=already_sent``).
    """
    settings = services.settings
    row = await asyncio.to_thread(services.store.get, hub_id)
    if row is None:
        raise NotFound(f"no prospect with hub_id {hub_id!r}")
    ledger = Ledger.from_settings(settings)
    try:
        already = await asyncio.to_thread(ledger.sent, hub_id, 0)
    finally:
        ledger.close()
    if already is None:
        status = (row.get("outreach_status", "") or "").strip().lower() or "pending"
        if not wants_send(row, auto_send=False, require_approval=settings.require_approval):
            if not row.get("contact_email", "").strip():
                why = "it has no contact_email"
            elif status not in ("drafted", "failed", "sending"):
                why = f"it is {status}; only drafted rows are sent"
            else:
                why = "it is not approved: tick the approved cell (HUB_REQUIRE_APPROVAL)"
            raise Conflict(f"prospect {hub_id} cannot be sent: {why}")
    summary = await run_send(services, {"hub_ids": [hub_id], "chunk_size": 1})
    after = await asyncio.to_thread(services.store.get, hub_id) or row
    result = "already_sent" if already is not None else _single_result(summary)
    return {
        "hub_id": hub_id,
        "result": result,
        "dry_run": summary.get("dry_run", False),
        **{column: after.get(column, "") for column in SEND_ONE_COLUMNS},
    }


# The row's columns a single send answers with.
SEND_ONE_COLUMNS = ("outreach_status", "hold_reason", "last_error", "message_id")
SEND_ONE_COLUMNS += ("gmail_thread_id", "last_sent", "next_followup_at", "sender_identity")

# The result a single send reports: the first of these its summary counts.
RESULT_ORDER = ("sent", "reconciled", "dry_run", "unknown", "failed", "quota", "held")
RESULT_ORDER += ("suppressed", "review", "busy")


def _single_result(summary: dict[str, Any]) -> str:
    return next((key for key in RESULT_ORDER if summary.get(key)), "unchanged")
