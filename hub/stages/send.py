"""The ``send`` stage: first messages to approved, drafted rows, exactly once, within the limits.

Params: ``max_prospects``, ``auto_send`` (draft rows that have none, then send; approval
still applies unless ``HUB_REQUIRE_APPROVAL=false``), ``chunk_size`` (a fixed number of rows
per chunk; by default chunks are sized by time, see :mod:`hub.sending.chunking`). A dry run
on PostgreSQL is split into ``send_slice`` jobs that several workers run at once
(:mod:`hub.stages.slices`).

Rows go in chunks sized by time (:mod:`hub.sending.chunking`: as many sends as go out in
~12 s at the send gap; 500 rows in a dry run). Per chunk: the gap since the last send is
waited out, then one store read (fresh statuses for eligibility and suppression), then every
sendable row gets a committed ledger intent, then ONE sheet write marks them ``sending`` with
their Message-ID, then each is delivered (gap, final checks against the local suppression
table and the ledger, provider call), then ONE sheet write records the outcomes. A row that
must wait keeps its status and says why; a row the chunk did not reach in time is put back.
What else one row raises is held on it by the row error boundary (hub.stages.row_errors).
The per-message path (ledger, limits, provider) is the domain's: :mod:`hub.sending.path`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.sending import message as msg
from hub.sending.chunking import ChunkSizer
from hub.sending.limits import Hold
from hub.sending.outcomes import Outcome, Planned, summarise
from hub.sending.path import SendPath, is_approved, status_of, wants_send
from hub.sending.pipeline import ROW_ERROR, STOPPING_HOLDS, deliver_planned
from hub.sending.senders import identity_for
from hub.stages.autodraft import draft_missing
from hub.stages.base import StageContext, StageResult
from hub.stages.row_errors import RowGuard
from hub.stages.slices import fans_out, send_in_slices
from sheets.cells import BadCell, normalize_email
from sheets.columns import Row


async def run(ctx: StageContext) -> StageResult:
    if fans_out(ctx):  # a dry run on several workers
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


async def run_slice(ctx: StageContext) -> StageResult:
    """The ``send_slice`` stage: some rows of a dry-run send (``hub_ids``), beside the other
    slices (:mod:`hub.stages.slices` queues them)."""
    summary = await run_send(
        ctx.services, ctx.params, is_cancelled=ctx.is_cancelled,
        report_progress=ctx.report_progress,
    )  # fmt: skip
    ctx.check_cancelled()
    return StageResult(summary=summary, chain=False)


@dataclass
class _RunState:
    sizer: ChunkSizer
    guard: RowGuard
    stop: Hold | str | None = None  # no further row is planned
    halt: Hold | str | None = None  # no further planned row is delivered
    cancelled: bool = False
    outcomes: list[Outcome] = field(default_factory=list)
    # Messages per identity not yet in the ledger's count: planned this chunk (a dry run
    # writes no ledger, so its previews count for the whole run).
    by_identity: dict[str, int] = field(default_factory=dict)


async def run_send(
    services,
    params: dict[str, Any] | None = None,
    *,
    is_cancelled: Callable[[], bool] = lambda: False,
    report_progress: Callable[[int, int], None] = lambda done, total: None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    guard: Any = None,
) -> dict[str, Any]:
    params = params or {}
    settings, store = services.settings, services.store
    if guard is None:
        guard = RowGuard.for_settings("send", settings)
    auto_send = bool(params.get("auto_send", settings.auto_send))
    only = set(params.get("hub_ids") or [])

    def picked(row: Row) -> bool:
        if (only and row.get("hub_id") not in only) or not guard.may_try(row):
            return False
        return wants_send(row, auto_send=auto_send, require_approval=settings.require_approval)

    limit = params.get("max_prospects")
    # One read of the whole sheet: it picks the rows AND serves as the first chunk's fresh read.
    snapshot: list[Row] | None
    read_at, snapshot = time.monotonic(), await asyncio.to_thread(store.rows)
    rows = [row for row in snapshot if picked(row)]
    rows = rows[: int(limit)] if limit else rows
    if auto_send:
        drafted = await draft_missing(services, rows)
        if drafted is not rows:  # drafts were written: the snapshot is stale
            rows, snapshot = drafted, None
    ids = [row["hub_id"] for row in rows]

    path = SendPath(services, is_cancelled=is_cancelled, clock=clock, rng=rng)
    sizer = ChunkSizer.from_settings(settings, dry_run=path.dry_run, fixed=params.get("chunk_size"))
    state = _RunState(sizer, guard)
    queue, total, held_rest = deque(ids), len(ids), False
    try:
        while queue:
            if is_cancelled():
                state.cancelled = True
                break
            if isinstance(state.stop, Hold) and not held_rest:
                # The cap or the window closed: no later row can go this run. Say so on all
                # of them in big writes, and keep only rows in `sending` (to settle them).
                queue = deque(await _hold_rest(services, rows, list(queue), state))
                held_rest = True
                continue
            # The gap before the read, not after it: the read is then fresh when the message
            # goes (a `skip` typed during a 30-90 s gap is seen).
            if not await path.wait_gap():
                state.cancelled = True
                break
            if snapshot is None:
                read_at, snapshot = time.monotonic(), await asyncio.to_thread(store.rows)
            fresh = {r["hub_id"]: r for r in snapshot}
            path.suppression.refresh(snapshot)
            snapshot = None
            await _send_chunk(path, queue, fresh, picked, state, read_at)
            report_progress(total - len(queue), total)
    finally:
        await asyncio.to_thread(path.close)
    summary: dict[str, Any] = {"rows": total, "dry_run": path.dry_run}
    summary.update(summarise(state.outcomes))
    if isinstance(state.stop, Hold):
        summary["stopped"] = state.stop.reason
    if state.cancelled:
        summary["cancelled"] = True
    return summary


async def _send_chunk(
    path: SendPath,
    queue: deque[str],
    fresh: dict[str, Row],
    picked: Callable[[Row], bool],
    state: _RunState,
    read_at: float,
) -> None:
    """Take the next chunk's rows off ``queue`` (``fresh``: the sheet as read at ``read_at``,
    ``time.monotonic``); rows not reached in time go back on the queue."""
    store = path.services.store
    done: dict[str, Outcome] = {}
    planned: list[Planned] = []
    by_domain: dict[str, int] = {}
    if not path.dry_run:
        state.by_identity = {}
    rows_cap, sends_cap = state.sizer.rows(), state.sizer.sends()
    taken = 0
    while queue and taken < rows_cap and len(planned) < sends_cap:
        if isinstance(state.stop, Hold):
            break  # the rest is held in big writes by the caller
        hub_id = queue.popleft()
        taken += 1
        row = fresh.get(hub_id)
        if row is None or not picked(row):  # deleted, or a person changed it meanwhile
            continue
        got, failure = await state.guard.run(
            row, lambda row=row: _prepare(path, row, state, by_domain)
        )
        if failure is not None:
            got = Outcome(hub_id, 0, ROW_ERROR, failure)
        if isinstance(got, Planned):
            planned.append(got)
            domain, key = got.intent.recipient_domain, got.intent.identity
            by_domain[domain] = by_domain.get(domain, 0) + 1
            state.by_identity[key] = state.by_identity.get(key, 0) + 1
        elif got is not None:
            done[got.hub_id] = got

    # Write 1: the intents become visible in the sheet before any provider call.
    marks = {
        p.intent.hub_id: {
            "outreach_status": "sending",
            "message_id": p.intent.message_id,
            "hold_reason": "",
            "last_error": "",
        }
        for p in planned
    }
    writes = {h: o.changes for h, o in done.items() if o.changes} | marks
    report = await asyncio.to_thread(store.update, writes) if writes else None
    gone = set(report.missing) if report else set()
    if report:  # a person set skip/do_not_contact between our read and our write
        gone |= {h for h, cols in report.protected.items() if "outreach_status" in cols}

    results, put_back = await deliver_planned(path, planned, gone, marks, state, read_at)
    queue.extendleft(reversed(put_back))
    state.sizer.chunk_done()
    if put_back and isinstance(state.stop, Hold) and state.stop.kind == "daily_cap":
        state.stop = None  # the cap counted rows now put back: count again from the ledger
    state.outcomes.extend(o for o in done.values() if o.result != ROW_ERROR)
    # Write 2: the outcomes of this chunk.
    if results:
        await asyncio.to_thread(store.update, results)


async def _prepare(
    path: SendPath, row: Row, state: _RunState, by_domain: dict[str, int]
) -> Planned | Outcome | None:
    hub_id, status = row["hub_id"], status_of(row)
    settings = path.settings
    before = "drafted" if status == "sending" else status
    revert = {"outreach_status": before} if status == "sending" else {}

    def hold(result: str, reason: str) -> Outcome:
        return Outcome(hub_id, 0, result, {**revert, "hold_reason": reason})

    history = await path.settled(hub_id, 0)
    if history is not None:
        return path.repair(hub_id, 0, history)
    if settings.require_approval and not is_approved(row):
        return hold("review", "REVIEW:approval")
    try:
        email = normalize_email(row.get("contact_email", ""))
    except BadCell as exc:
        return hold("review", f"REVIEW:bad_email {exc}")
    reason = path.suppression.reason_for(email)
    if reason:
        return hold("suppressed", f"SKIP:{reason}")
    for column in ("draft_subject", "draft_body"):
        if not row.get(column, "").strip():
            return hold("review", f"REVIEW:blank_field {column}")
    content = msg.Content(
        email, row["draft_subject"], row["draft_body"], row.get("contact_name", "")
    )
    try:
        if path.dry_run and not path.senders.rotates:
            return await path.preview(row, content, 0)
        setup = path.setup_hold()
        if setup:
            return hold("review", setup)
        if state.stop is not None:
            return hold("held", _reason(state.stop))
        pending = state.by_identity
        key = await identity_for(path.ledger, path.limits, hub_id, pending)
        if isinstance(key, Hold):  # every identity is at its cap (or outside its window)
            state.stop = key
            return hold("held", key.reason)
        if path.dry_run:  # rotated and capped like a real run
            pending[key] = pending.get(key, 0) + 1
            return await path.preview(row, content, 0, identity=key)
        domain = email.rsplit("@", 1)[-1].lower()
        mine, theirs = pending.get(key, 0), by_domain.get(domain, 0)  # this chunk's, not counted
        wait = path.limits.hold_for(domain, pending_total=mine, pending_domain=theirs, identity=key)
        if wait is not None:
            if wait.kind in STOPPING_HOLDS and len(path.limits.rules) == 1:
                state.stop = wait
            return hold("held", wait.reason)
        undo = {"outreach_status": before}
        got = await path.plan(row, content, 0, revert=undo, failed_status="failed", identity=key)
    except msg.UnsafeHeader as exc:
        return hold("review", f"REVIEW:unsafe_header {exc.field}")
    except msg.MissingSetup as exc:
        return hold("review", exc.hold)
    return got if isinstance(got, Planned) or got.changes else None


async def _hold_rest(services, rows: list[Row], rest: list[str], state: _RunState) -> list[str]:
    """Write the stop's hold on every remaining row not in ``sending``; return the others."""
    hold = state.stop
    assert isinstance(hold, Hold)
    status = {r["hub_id"]: status_of(r) for r in rows}
    settle = [h for h in rest if status.get(h) == "sending"]
    waiting = [h for h in rest if status.get(h) != "sending"]
    size = services.settings.sheets_chunk_rows
    for first in range(0, len(waiting), size):
        batch = {h: {"hold_reason": hold.reason} for h in waiting[first : first + size]}
        await asyncio.to_thread(services.store.update, batch)
    state.outcomes.extend(Outcome(h, 0, "held") for h in waiting)
    return settle


def _reason(stop: Hold | str) -> str:
    return stop.reason if isinstance(stop, Hold) else stop
