"""``auto_send``: the send job drafts the rows that have no draft yet before sending them.

The drafting stage's own rules apply (:func:`hub.stages.draft.draft_changes`); the drafts are
written, and a row the drafter refused keeps the drafter's hold reason and is not sent.
"""

from __future__ import annotations

import asyncio
import inspect

from hub.stages.draft import draft_changes
from sheets.columns import Row


async def draft_missing(services, rows: list[Row]) -> list[Row]:
    """auto_send: draft the rows that have no draft yet (the drafting stage's rules), write
    the drafts, and continue with the rows as they are now."""
    need = [
        r
        for r in rows
        if not (r.get("draft_subject", "").strip() and r.get("draft_body", "").strip())
    ]
    if not need:
        return rows
    changes = draft_changes(services, need, step=0)
    if inspect.isawaitable(changes):
        changes = await changes
    if changes:
        await asyncio.to_thread(services.store.update, changes)
    # A row the drafter refused keeps the drafter's hold reason; it is not sent.
    refused = {
        h for h, c in (changes or {}).items() if c.get("hold_reason") and not c.get("draft_body")
    }
    wanted = {r["hub_id"] for r in rows} - refused
    fresh = await asyncio.to_thread(services.store.select, lambda r: r.get("hub_id") in wanted)
    return fresh
