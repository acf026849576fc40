"""The draft stage: a subject and body for every enriched row that has none yet.

Three entry points share one path (:func:`draft_changes`):

- the ``draft`` job (params ``max_prospects``, ``prospect_ids``) writes each chunk of drafts
  in one ``store.update``;
- the send and follow-up stages call :func:`draft_changes` and merge the result into their own
  batched write (follow-ups pass ``step>=1`` and keep the text in their ledger);
- ``POST /api/prospects/{id}/compose`` calls :func:`compose_one`.

Drafts go only into EMPTY ``draft_subject``/``draft_body`` cells (``sheets.columns`` enforces it
again at write time): a person's edit is final. A row whose two draft cells a person already
filled moves to ``drafted`` without asking the drafter. A row the drafter refuses stays
``enriched`` with the reason in ``hold_reason``; holds about the drafter's own output
(``REVIEW:gemini_blocked``, ``REVIEW:bad_output``, ``REVIEW:bad_subject``) wait for a person —
clearing the hold, composing, or naming the row in ``prospect_ids`` releases them — while
``REVIEW:blank_field`` and ``HELD:gemini_quota`` rows are simply tried again next run.

A ``contact_email`` that is not one mailbox is never drafted for: the row is held with
``REVIEW:bad_email contact_email: <why>`` until a person fixes the cell. Anything else a row
raises is caught by the per-row boundary (:mod:`hub.stages.row_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from hub.drafting import rules
from hub.drafting.base import Draft, DraftRefused
from hub.errors import BadRequest, Conflict, NotFound, ProviderError
from hub.services import Services
from hub.stages.base import StageContext, StageResult
from hub.stages.row_errors import RowGuard, is_error_hold
from sheets.cells import BadCell, normalize_email
from sheets.columns import Row

log = logging.getLogger(__name__)

# Rows drafted between two sheet writes: one Gemini call is ~1-5 s, so a chunk of 20 keeps the
# sheet close to live without spending the Sheets write quota (60/min/user) on single rows.
CHUNK_ROWS = 20
# Drafted rows wait for ONE sheet write until HUB_SHEETS_CHUNK_ROWS of them are ready or the
# oldest has waited this long: the templates draft 1,000 rows in a moment (2 writes, not 50,
# each write costing 2 Sheets requests), while slow Gemini drafts still reach the sheet often.
WRITE_EVERY_SECONDS = 10.0
# Drafts in flight at once within a chunk; the drafter's own rate limiter still applies.
CONCURRENCY = 4
# Statuses a draft may move to ``drafted`` (with an address); any other keeps its status, so
# a caller can never push a sent or skipped row back to ``drafted``.
MAY_BECOME_DRAFTED = frozenset({"", "pending", "enriched", "drafted"})
# Statuses past drafting: composing would change nothing the person could use.
PAST_DRAFTING = frozenset(
    {"sending", "sent", "replied", "bounced", "unsubscribed", "skip", "do_not_contact"}
)


def _cell(row: Row, column: str) -> str:
    return (row.get(column, "") or "").strip()


def _status(row: Row) -> str:
    return _cell(row, "outreach_status").lower()


BAD_EMAIL = "REVIEW:bad_email"


def address_problem(row: Row) -> BadCell | None:
    """Why the row's contact_email is not one mailbox (None when it is one, or is empty)."""
    typed = row.get("contact_email", "") or ""
    if not typed.strip():
        return None
    try:
        normalize_email(typed)
    except BadCell as exc:
        return exc
    return None


def is_eligible(row: Row, *, named: bool = False) -> bool:
    """An enriched row with an address, not waiting for a person (unless named explicitly)."""
    if _status(row) != "enriched" or not _cell(row, "contact_email"):
        return False
    hold = _cell(row, "hold_reason")
    if hold.startswith(BAD_EMAIL) and address_problem(row) is not None:
        return False  # held already; the person fixes the cell, then it drafts
    return named or not rules.waits_for_person(hold)


def _drafted(row: Row) -> dict[str, str]:
    if _status(row) in MAY_BECOME_DRAFTED and _cell(row, "contact_email"):
        return {"outreach_status": "drafted"}
    return {}


def _cleared(row: Row) -> dict[str, str]:
    """Clear drafting's own hold and error once a row drafts (never another stage's)."""
    cleared: dict[str, str] = {}
    hold = _cell(row, "hold_reason")
    if rules.is_drafting_hold(hold) or hold.startswith((BAD_EMAIL, "ERROR:draft ")):
        cleared["hold_reason"] = ""
        if hold.startswith((BAD_EMAIL, "ERROR:")):
            cleared["last_error"] = ""
    if _cell(row, "last_error").startswith(rules.ERROR_PREFIX):
        cleared["last_error"] = ""
    return cleared


async def _draft_row(drafter: Any, row: Row, step: int) -> Draft | DraftRefused | ProviderError:
    try:
        outcome = await drafter.draft(row, step=step)
    except rules.DrafterMisconfigured:
        raise  # a refused key or unknown model fails every row alike: fail the job
    except ProviderError as exc:  # transient after retries: this row only, next run retries
        return exc
    return rules.check_draft(outcome) if isinstance(outcome, Draft) else outcome


def _changes_for(row: Row, outcome: Draft | DraftRefused | ProviderError, step: int) -> Row:
    if isinstance(outcome, ProviderError):
        return {"last_error": f"{rules.ERROR_PREFIX}{outcome.message}"}
    if isinstance(outcome, DraftRefused):
        return {**_cleared(row), "hold_reason": outcome.hold_reason}
    changes = _cleared(row)
    if step == 0:
        # Only the empty cells: what we return is exactly what will be written.
        if not _cell(row, "draft_subject"):
            changes["draft_subject"] = outcome.subject
        if not _cell(row, "draft_body"):
            changes["draft_body"] = outcome.body
        changes.update(_drafted(row))
    else:
        # A follow-up's text belongs to the sender's ledger, never to the row's status.
        changes["draft_subject"] = outcome.subject
        changes["draft_body"] = outcome.body
    return changes


async def draft_changes(
    services: Services, rows: list[Row], *, step: int = 0, guard: RowGuard | None = None
) -> dict[str, dict[str, str]]:
    """For each row (by ``hub_id``) the columns to write; writes nothing.

    Step 0: ``draft_subject``/``draft_body`` (only the cells that are empty now) and
    ``outreach_status=drafted`` (only from pending/enriched/drafted with a contact_email: a
    sent or skipped row keeps its status), clearing drafting's own earlier hold/error; or
    ``hold_reason`` (``REVIEW:...``/``HELD:gemini_quota``) or ``last_error`` (``draft: ...``).
    Step >= 1 (follow-ups): ``draft_subject`` ("Re: <first subject>") and ``draft_body`` with
    no status change — keep them in the ledger, the sheet's draft cells are the first message.
    Once Gemini's quota is used up the remaining rows are held without further calls.
    Raises :class:`hub.drafting.rules.DrafterMisconfigured` (names GEMINI_API_KEY or
    GEMINI_MODEL) when the drafter cannot work at all. A row whose ``contact_email`` is not one
    mailbox gets ``REVIEW:bad_email contact_email: <why>``; a row whose drafting raised gets
    ``ERROR:draft <type>`` from ``guard`` (the job's boundary; a fresh one when not given).
    """
    guard = guard or RowGuard.for_settings("draft", services.settings)
    drafter = services.drafter
    if drafter is None:
        raise ProviderError("drafting", "no drafter is configured (services.drafter is None)")
    results: dict[str, dict[str, str]] = {}
    to_draft: list[Row] = []
    for row in rows:
        hub_id = _cell(row, "hub_id")
        if not hub_id:
            continue
        bad = address_problem(row) if step == 0 else None
        if bad is not None:
            results[hub_id] = {"hold_reason": f"{BAD_EMAIL} {bad}", "last_error": str(bad)}
        elif step == 0 and _cell(row, "draft_subject") and _cell(row, "draft_body"):
            # A person wrote the message: it is final, and the drafter is not asked.
            results[hub_id] = {**_cleared(row), **_drafted(row)}
        else:
            to_draft.append(row)

    quota_out = asyncio.Event()
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(row: Row) -> Row:
        if quota_out.is_set():
            outcome: Draft | DraftRefused | ProviderError = DraftRefused(rules.GEMINI_QUOTA)
        else:
            outcome = await _draft_row(drafter, row, step)
        if isinstance(outcome, DraftRefused) and outcome.hold_reason.startswith(rules.GEMINI_QUOTA):
            quota_out.set()  # stop calling the provider for the rest of this batch
        return _changes_for(row, outcome, step)

    async def one(row: Row) -> None:
        async with gate:
            changes, failure = await guard.run(row, lambda: attempt(row))
            results[_cell(row, "hub_id")] = failure if changes is None else changes

    await asyncio.gather(*(one(row) for row in to_draft))
    # Keep the caller's row order (dicts preserve insertion order; gather finishes out of order).
    order = [_cell(row, "hub_id") for row in rows]
    return {hub_id: results[hub_id] for hub_id in order if hub_id in results}


def _summarise(changes: dict[str, dict[str, str]], summary: dict[str, Any]) -> None:
    for change in changes.values():
        if is_error_hold(change.get("hold_reason", "")):
            continue  # the row error boundary counts these under "errors" itself
        if change.get("outreach_status") == "drafted":
            key = "drafted"
        elif change.get("hold_reason"):
            key = "held"
        elif change.get("last_error"):
            key = "errors"
        else:
            key = "unchanged"
        summary[key] = summary.get(key, 0) + 1


def _chunks(rows: list[Row], size: int) -> Iterable[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _params(params: dict[str, Any]) -> tuple[int | None, set[str]]:
    """``max_prospects`` (a whole number >= 1, or absent) and ``prospect_ids`` (a list, or
    one comma-separated string as a Make.com text field sends it)."""
    raw_limit = params.get("max_prospects")
    limit: int | None = None
    if raw_limit not in (None, ""):
        try:
            limit = int(raw_limit)
        except (TypeError, ValueError):
            limit = 0
        if limit < 1 or isinstance(raw_limit, bool):
            raise BadRequest(
                f"max_prospects must be a whole number of at least 1, not {raw_limit!r}"
            )
    ids = params.get("prospect_ids") or []
    if isinstance(ids, str):
        ids = ids.split(",")
    if not isinstance(ids, list | tuple | set):
        raise BadRequest("prospect_ids must be a list of hub_id values")
    return limit, {str(i).strip() for i in ids if str(i).strip()}


def _select(services: Services, params: dict[str, Any], guard: RowGuard) -> list[Row]:
    limit, named = _params(params)
    store = services.store
    if named:
        return store.select(
            lambda row: _cell(row, "hub_id") in named and is_eligible(row, named=True), limit
        )
    return store.select(lambda row: is_eligible(row) and guard.may_try(row), limit)


async def run(ctx: StageContext) -> StageResult:
    services = ctx.services
    rows = await asyncio.to_thread(_select, services, ctx.params, ctx.rows)
    summary: dict[str, Any] = {"eligible": len(rows), "drafted": 0, "held": 0, "errors": 0}
    done = 0
    waiting: dict[str, dict[str, str]] = {}
    last_write = time.monotonic()

    async def write() -> None:
        nonlocal waiting, last_write
        changes, waiting = waiting, {}
        last_write = time.monotonic()
        if not changes:
            return
        report = await asyncio.to_thread(services.store.update, changes)
        _summarise({k: v for k, v in changes.items() if k in set(report.written)}, summary)
        # A row a person deleted meanwhile, or whose draft cells they filled in meanwhile,
        # keeps what they did; the counts say so.
        summary["missing"] = summary.get("missing", 0) + len(report.missing)
        summary["kept_person_edits"] = summary.get("kept_person_edits", 0) + sum(
            1 for cols in report.protected.values() if set(cols) & {"draft_subject", "draft_body"}
        )

    ctx.report_progress(0, len(rows))
    for chunk in _chunks(rows, CHUNK_ROWS):
        if ctx.is_cancelled():
            await write()  # what is drafted is kept
            ctx.check_cancelled()
        try:
            waiting.update(await draft_changes(services, chunk, guard=ctx.rows))
        except Exception:
            await write()  # the drafts made before the failure are kept, as chunk by chunk
            raise
        if (
            len(waiting) >= ctx.settings.sheets_chunk_rows
            or time.monotonic() - last_write >= WRITE_EVERY_SECONDS
        ):
            await write()
        done += len(chunk)
        ctx.report_progress(done, len(rows))
    await write()
    summary["drafter"] = getattr(services.drafter, "provider_name", "none")
    return StageResult(summary=summary)


async def compose_one(services: Services, hub_id: str) -> dict[str, Any]:
    """Draft one row now and write it; the row as it stands afterwards, plus the outcome.

    Raises ``NotFound`` for an unknown id and ``Conflict`` when both draft cells already hold
    text (a person's edits are final: clear both cells to compose again) or the row is past
    drafting (sent, replied, skip, ...).
    """
    row = await asyncio.to_thread(services.store.get, hub_id)
    if row is None:
        raise NotFound(f"no prospect with hub_id {hub_id!r}")
    status = _status(row)
    if status in PAST_DRAFTING:
        raise Conflict(f"prospect {hub_id} is {status}: composing a new draft would change nothing")
    if _cell(row, "draft_subject") and _cell(row, "draft_body"):
        raise Conflict(
            f"prospect {hub_id} already has a draft in draft_subject and draft_body, and the hub "
            "never overwrites a person's edits: clear both cells to compose a new one"
        )
    # A draft for a row without an address (or a no_email row) is kept, but the row does not
    # claim to be ready to send: draft_changes leaves its status alone.
    changes = (await draft_changes(services, [row]))[hub_id]
    report = await asyncio.to_thread(services.store.update, {hub_id: changes})
    if hub_id in report.missing:
        raise NotFound(f"prospect {hub_id} was deleted while it was being drafted")
    after = await asyncio.to_thread(services.store.get, hub_id) or row
    kept = [c for c in report.protected.get(hub_id, []) if c in ("draft_subject", "draft_body")]
    if "draft_subject" in changes or "draft_body" in changes:
        outcome = "kept_person_edit" if kept else "drafted"
    elif changes.get("hold_reason"):
        outcome = "held"
    else:
        outcome = "error"
    return {
        "hub_id": hub_id,
        "outcome": outcome,
        "drafter": getattr(services.drafter, "provider_name", "none"),
        "outreach_status": after.get("outreach_status", ""),
        "draft_subject": after.get("draft_subject", ""),
        "draft_body": after.get("draft_body", ""),
        "hold_reason": after.get("hold_reason", ""),
        "last_error": after.get("last_error", ""),
    }
