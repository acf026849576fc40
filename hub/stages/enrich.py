"""The ``enrich`` stage: find who to write to for every pending row.

Eligible rows: ``pending`` (also those held earlier for Hunter's quota), and ``failed`` rows
whose failure is retryable (``hold_reason`` ``RETRY:enrich``). Params: ``max_prospects``,
``prospect_ids``. A row with a hand-typed ``contact_email`` keeps it and goes straight to
``enriched`` (``email_source=manual``), without asking any provider.

Rows are enriched concurrently (as many in flight as the enricher asks for, so throughput
reaches the provider's rate limit) and results are written back in chunks of
``HUB_SHEETS_CHUNK_ROWS`` with ONE ``store.update`` per chunk. Cancellation is checked
between chunks. Hunter's 401 fails the job (naming HUNTER_API_KEY); its quota answer holds
the remaining rows (``HELD:hunter_quota``) and ends the job with that reason.

Cells are checked at this boundary (:mod:`sheets.cells`): a ``domain`` that is not a host name
makes the row ``no_email`` with ``NO_EMAIL:bad_domain`` (tried again once a person fixes the
cell), a hand-typed ``contact_email`` that is not one mailbox holds the row with
``REVIEW:bad_email contact_email: <why>``, and an address a provider found is checked the same
way before it is written. Anything else a row raises is caught by ``ctx.rows``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import httpx

from hub.errors import ProviderError
from hub.stages.base import StageContext, StageResult
from sheets.cells import BadCell, domain_from_cell, normalize_email

log = logging.getLogger(__name__)

RETRY_HOLD = "RETRY:enrich"
BAD_DOMAIN_HOLD = "NO_EMAIL:bad_domain"
BAD_EMAIL_HOLD = "REVIEW:bad_email"


def _domain_ok(row: dict[str, str]) -> bool:
    try:
        domain_from_cell(row.get("domain") or "")
    except BadCell:
        return False
    return True


def is_eligible(row: dict[str, str]) -> bool:
    status = (row.get("outreach_status") or "pending").strip().lower()
    hold = row.get("hold_reason") or ""
    if status == "pending":
        return True
    if status == "no_email" and hold == BAD_DOMAIN_HOLD:
        return _domain_ok(row)  # a person fixed the cell: try again
    return status == "failed" and hold == RETRY_HOLD


def _select(ctx: StageContext) -> list[dict[str, str]]:
    wanted = ctx.params.get("prospect_ids") or []
    limit = ctx.params.get("max_prospects")
    limit = int(limit) if limit else None
    if wanted:
        ids = set(wanted)
        return ctx.store.select(
            lambda r: r.get("hub_id") in ids and is_eligible(r) and ctx.rows.may_try(r), limit
        )
    return ctx.store.select(lambda r: is_eligible(r) and ctx.rows.may_try(r), limit)


def _manual(row: dict[str, str]) -> dict[str, str] | None:
    typed = row.get("contact_email") or ""
    if not typed.strip():
        return None
    try:
        normalize_email(typed)
    except BadCell as exc:
        return {"hold_reason": f"{BAD_EMAIL_HOLD} {exc}", "last_error": str(exc)}
    return {
        "email_source": row.get("email_source") or "manual",
        "outreach_status": "enriched",
        "hold_reason": "",
        "last_error": "",
    }


def _bad_domain(row: dict[str, str]) -> dict[str, str] | None:
    """The no_email cells for a row whose domain is not a host name; None when it is one."""
    try:
        domain_from_cell(row.get("domain") or "")
    except BadCell as exc:
        return {
            "outreach_status": "no_email",
            "hold_reason": BAD_DOMAIN_HOLD,
            "last_error": str(exc),
        }
    return None


def _clean_row(row: dict[str, str]) -> dict[str, str]:
    """The row as the enricher sees it: its domain in canonical (IDNA) form."""
    return {**row, "domain": domain_from_cell(row.get("domain") or "")}


def _checked(changes: dict[str, str], provider: str) -> tuple[str, dict[str, str]]:
    """A found address is written only when it is one mailbox (normalised)."""
    found = changes.get("contact_email")
    if found is None:
        return "", changes
    try:
        return "", {**changes, "contact_email": normalize_email(found)}
    except BadCell as exc:
        return "no_email", {
            "outreach_status": "no_email",
            "hold_reason": f"{BAD_EMAIL_HOLD} {exc}",
            "last_error": f"{provider} found an address that is not one mailbox: {exc.why}",
        }


def _unchanged(row: dict[str, str], changes: dict[str, str]) -> bool:
    return all((row.get(k) or "") == v for k, v in changes.items())


def _is_auth_failure(exc: ProviderError) -> bool:
    return exc.provider_status == 401


class _Writer:
    """Collects row changes and writes them in chunks, one store.update per chunk."""

    def __init__(self, ctx: StageContext, total: int):
        self.ctx = ctx
        self.total = total
        self.chunk = ctx.settings.sheets_chunk_rows
        self.buffer: dict[str, dict[str, str]] = {}
        self.processed = 0
        self.counts: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def add(self, hub_id: str, outcome: str, changes: dict[str, str]) -> None:
        self.buffer[hub_id] = changes
        self.processed += 1
        if outcome:  # "": counted elsewhere (the row error boundary counts its own rows)
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if len(self.buffer) >= self.chunk:
            await self.flush()

    async def flush(self) -> None:
        batch, self.buffer = self.buffer, {}
        if not batch:
            return
        async with self._lock:
            await asyncio.to_thread(self.ctx.store.update, batch)
        self.ctx.report_progress(self.processed, self.total)


async def run(ctx: StageContext) -> StageResult:
    rows = await asyncio.to_thread(_select, ctx)
    enricher = ctx.services.enricher
    # A new job asks Hunter again: the plan may have renewed since the last one stopped.
    if hasattr(enricher, "reset_quota"):
        enricher.reset_quota()
    writer = _Writer(ctx, len(rows))
    ctx.report_progress(0, len(rows))
    queue: deque[dict[str, str]] = deque()
    for row in rows:
        manual = _manual(row)
        if manual is None:
            manual = _bad_domain(row)
        if manual is None:
            queue.append(row)
            continue
        outcome = "manual" if manual.get("outreach_status") == "enriched" else "held"
        if manual.get("hold_reason") == BAD_DOMAIN_HOLD:
            outcome = "bad_domain"
        if _unchanged(row, manual):  # held already, for the same reason: nothing to write
            writer.processed += 1
            writer.counts[outcome] = writer.counts.get(outcome, 0) + 1
        else:
            await writer.add(row["hub_id"], outcome, manual)
    if queue and enricher is None:
        raise ProviderError("enrichment", "no enricher is configured")

    fatal: list[BaseException] = []
    cancelled = False

    async def worker() -> None:
        nonlocal cancelled
        while queue and not fatal and not cancelled:
            if ctx.is_cancelled():
                cancelled = True
                return
            row = queue.popleft()
            try:
                result, failure = await ctx.rows.run(
                    row,
                    lambda row=row: enricher.enrich(_clean_row(row)),
                    handled=(ProviderError, httpx.HTTPError),
                )
                if failure is not None:
                    outcome, changes = "", failure
                else:
                    assert result is not None
                    outcome, changes = result.outcome, result.changes()
                    refused, changes = _checked(changes, getattr(enricher, "provider_name", ""))
                    outcome = refused or outcome
            except ProviderError as exc:
                if _is_auth_failure(exc):
                    fatal.append(exc)
                    return
                outcome = "failed"
                changes = {
                    "outreach_status": "failed",
                    "hold_reason": RETRY_HOLD,
                    "last_error": exc.message,
                }
            except httpx.HTTPError as exc:
                outcome = "failed"
                changes = {
                    "outreach_status": "failed",
                    "hold_reason": RETRY_HOLD,
                    "last_error": f"network error: {type(exc).__name__}",
                }
            await writer.add(row["hub_id"], outcome, changes)

    workers = max(1, min(getattr(enricher, "concurrency", 4), len(queue)))
    await asyncio.gather(*(worker() for _ in range(workers)))
    await writer.flush()
    if fatal:
        raise fatal[0]
    ctx.check_cancelled()
    summary: dict[str, Any] = {
        "eligible": len(rows),
        "provider": getattr(enricher, "provider_name", "none"),
        **writer.counts,
    }
    stopped = getattr(enricher, "stopped_reason", "")
    if stopped:
        summary["stopped_reason"] = f"HELD:hunter_quota: {stopped}"
    return StageResult(summary=summary)
