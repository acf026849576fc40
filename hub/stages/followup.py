"""The ``followup`` stage: replies in the same thread, ``HUB_FOLLOWUP_DAYS`` after the first
message. Params: ``max_prospects``, ``chunk_size`` (fixed rows per chunk; by default sized by
time, see :mod:`hub.sending.chunking`).

A follow-up is step n (1, 2, ...) of the same exactly-once path as the first message; its
text is drafted like a first message (``draft_changes(step=n)``) into the ledger intent, never
into the person's draft cells. It goes out as a reply: Gmail ``threadId``, ``In-Reply-To`` =
the last message we sent, ``References`` = the whole chain, subject ``Re: <first subject>``.

Immediately before each one the thread is read again and classified like ``check_replies``
does: a reply, a hard bounce or an unsubscribe cancels every pending follow-up of the row, as
do a suppression entry or a person setting ``skip``/``do_not_contact``; an out-of-office answer
postpones the follow-up past the return date instead.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.mail.base import MailboxMessage
from hub.replies.inbound import plan_replies
from hub.sending import message as msg
from hub.sending.chunking import ChunkSizer
from hub.sending.ledger_schema import SendRecord
from hub.sending.limits import Hold
from hub.sending.outcomes import Outcome, Planned, summarise
from hub.sending.path import SendPath, status_of
from hub.sending.pipeline import ROW_ERROR, STOPPING_HOLDS
from hub.sending.reconcile import followup_offsets
from hub.stages.base import StageContext, StageResult
from hub.stages.draft import draft_changes
from hub.stages.row_errors import RowGuard
from sheets.cells import BadCell, parse_time
from sheets.columns import Row


def is_due(row: Row, now: float) -> bool:
    if status_of(row) != "sent":
        return False
    try:
        due = parse_time(row.get("next_followup_at", ""), "next_followup_at")
    except BadCell:
        return False  # said on the row by bad_dates()
    return due is not None and due.timestamp() <= now


def bad_dates(rows: list[Row]) -> dict[str, dict[str, str]]:
    """Holds for sent rows whose ``next_followup_at`` a person made unreadable (``tomorrow``):
    no follow-up goes until the cell holds a date again, and the row says so."""
    holds: dict[str, dict[str, str]] = {}
    for row in rows:
        if status_of(row) != "sent":
            continue
        try:
            parse_time(row.get("next_followup_at", ""), "next_followup_at")
        except BadCell as exc:
            hold = f"REVIEW:bad_date {exc}"
            if row.get("hold_reason", "") != hold:
                holds[row["hub_id"]] = {"hold_reason": hold}
    return holds


# What the last-moment thread check does with each kind of answer: the same transitions as
# ``check_replies`` (hub.replies.inbound), so a row ends in the same state whichever sees the mail first.
STOPPING_STATUSES = frozenset({"replied", "bounced", "unsubscribed"})


def thread_verdict(path: SendPath, row: Row, thread: list[MailboxMessage]) -> dict[str, str]:
    """Row changes the thread's answers call for ({} = nothing new: go ahead and send).

    A reply, an unsubscribe in words or a hard bounce stop the follow-ups; an out-of-office
    answer moves the next follow-up past the return date; a soft bounce only notes the delay.
    """
    now = datetime.fromtimestamp(path.clock(), UTC)
    own = [msg.sender_email(path.settings), *(i.address for i in path.senders.identities)]
    plan = plan_replies([row], thread, own_addresses=own, now=now)
    return plan.changes.get(row["hub_id"], {})


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


async def run_followups(
    services,
    params: dict[str, Any] | None = None,
    *,
    is_cancelled: Callable[[], bool] = lambda: False,
    report_progress: Callable[[int, int], None] = lambda done, total: None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    before_thread_check: Callable[[Row], Any] | None = None,
    guard: Any = None,
) -> dict[str, Any]:
    """``before_thread_check`` is a seam for tests (a reply landing at the worst moment).

    Chunks are sized by time like the send job's (:mod:`hub.sending.chunking`); per chunk the
    gap is waited out, the sheet read once (a person's ``skip``/``do_not_contact``, other rows'
    suppressing statuses) and the outcomes written once.
    """
    params = params or {}
    store = services.store
    if guard is None:  # the job's row error boundary
        guard = RowGuard.for_settings("followup", services.settings)
    limit = params.get("max_prospects")
    now = clock()
    # One read of the whole sheet: it picks the due rows AND is the first chunk's fresh read.
    snapshot: list[Row] | None
    read_at, snapshot = time.monotonic(), await asyncio.to_thread(store.rows)
    rows = [row for row in snapshot if is_due(row, now) and guard.may_try(row)]
    unreadable = bad_dates(snapshot)
    if unreadable:
        await asyncio.to_thread(store.update, unreadable)
    ids = [r["hub_id"] for r in (rows[: int(limit)] if limit else rows)]
    path = SendPath(services, is_cancelled=is_cancelled, clock=clock, rng=rng)
    sizer = ChunkSizer.from_settings(
        services.settings, dry_run=path.dry_run, fixed=params.get("chunk_size")
    )
    queue = deque(ids)
    outcomes: list[Outcome] = []
    stop: list[Hold | str] = []  # no further row is planned
    halt: list[Hold | str] = []  # no further planned row is delivered
    try:
        while queue:
            if is_cancelled() or not await path.wait_gap():
                break
            if snapshot is None:
                read_at, snapshot = time.monotonic(), await asyncio.to_thread(store.rows)
            fresh = {r["hub_id"]: r for r in snapshot}
            path.suppression.refresh(snapshot)
            snapshot = None
            planned: list[Planned] = []
            writes: dict[str, dict[str, str]] = {}
            taken = 0
            while queue and taken < sizer.rows() and len(planned) < sizer.sends():
                row = fresh.get(queue.popleft())
                taken += 1
                if row is None:
                    continue
                got, failure = await guard.run(
                    row, lambda row=row, planned=planned: _prepare(path, row, stop, planned)
                )
                if failure is not None:
                    writes[row["hub_id"]] = failure
                elif isinstance(got, Planned):
                    planned.append(got)
                elif got is not None:
                    outcomes.append(got)
                    if got.changes:
                        writes[got.hub_id] = got.changes
            delivered, put_back = 0, []
            for item in planned:
                if delivered and not halt and sizer.overdue(read_at, wait=path.gap_left()):
                    # Past the chunk's time: the next chunk reads the sheet again first.
                    await path.back_out(item, None, "put_back")
                    put_back.append(item.intent.hub_id)
                    continue
                outcome, failure = await guard.run(
                    item.row,
                    lambda item=item: _deliver(path, item, halt, before_thread_check, sizer),
                )
                if outcome is None:
                    outcome = Outcome(item.intent.hub_id, item.intent.step, ROW_ERROR, failure)
                delivered += 1
                if halt and not stop:
                    stop.append(halt[0])
                if outcome.result != ROW_ERROR:
                    outcomes.append(outcome)
                if outcome.changes:
                    writes[outcome.hub_id] = outcome.changes
            queue.extendleft(reversed(put_back))
            sizer.chunk_done()
            if put_back and stop and isinstance(stop[0], Hold) and stop[0].kind == "daily_cap":
                stop.clear()  # the cap counted rows now put back: count again from the ledger
            if writes:  # one sheet write per chunk
                await asyncio.to_thread(store.update, writes)
            report_progress(len(ids) - len(queue), len(ids))
    finally:
        await asyncio.to_thread(path.close)
    summary: dict[str, Any] = {"rows": len(ids), "dry_run": path.dry_run}
    summary.update(summarise(outcomes))
    if unreadable:
        summary["bad_date"] = len(unreadable)
    stopped = (halt or stop)[:1]
    if stopped and isinstance(stopped[0], Hold):
        summary["stopped"] = stopped[0].reason
    return summary


async def _prepare(
    path: SendPath, row: Row, stop: list[Hold | str], planned: list[Planned]
) -> Planned | Outcome | None:
    hub_id = row["hub_id"]
    if not is_due(row, path.clock()):
        return None  # a person changed the row since it was selected
    history: list[SendRecord] = await asyncio.to_thread(path.ledger.history, hub_id)
    if not history or history[0].step != 0:
        return Outcome(hub_id, 0, "review", {"hold_reason": "REVIEW:no_send_record"})
    step = len(history)
    settled = await path.settled(hub_id, step)
    if settled is not None:
        return path.repair(hub_id, step, settled)
    if step > len(followup_offsets(path.settings)):
        return path.repair(hub_id, step, history)  # nothing left to send: clear the date
    first, last = history[0], history[-1]
    key = first.identity  # follow-ups go from the identity that sent the first message
    if key and key not in path.senders.by_key:  # never continue a thread from another inbox
        hold = f"REVIEW:sender_identity {key} is not in HUB_IDENTITIES_FILE"
        return Outcome(hub_id, step, "review", {"hold_reason": hold})
    pending = sum(1 for p in planned if p.intent.identity == key)
    reason = path.suppression.reason_for(first.recipient)
    if reason:
        changes = {"next_followup_at": "", "hold_reason": f"SKIP:{reason}"}
        return Outcome(hub_id, step, "suppressed", changes)
    threading = msg.Threading(
        thread_id=last.thread_id or first.thread_id,
        in_reply_to=last.message_id,
        references=" ".join(h.message_id for h in history[:-1]),
    )
    existing = await asyncio.to_thread(path.ledger.intent, hub_id, step)
    if existing is not None:  # keep the text already drafted for this step
        subject, body = existing.subject, existing.body
    else:
        drafted = await _draft(path, row, step)
        if isinstance(drafted, Outcome):
            return drafted
        subject, body = msg.reply_subject(first.subject), drafted
    content = msg.Content(first.recipient, subject, body, row.get("contact_name", ""))
    try:
        if path.dry_run:
            return await path.preview(row, content, step, threading, identity=key)
        setup = path.setup_hold()
        if setup:
            return Outcome(hub_id, step, "review", {"hold_reason": setup})
        if stop:
            return Outcome(hub_id, step, "held", {"hold_reason": _reason(stop[0])})
        wait = path.limits.hold_for(first.recipient_domain, pending_total=pending, identity=key)
        if wait is not None:
            if wait.kind in STOPPING_HOLDS and len(path.limits.rules) == 1:
                stop.append(wait)
            return Outcome(hub_id, step, "held", {"hold_reason": wait.reason})
        got = await path.plan(row, content, step, threading, revert={}, identity=key)
    except msg.UnsafeHeader as exc:
        return Outcome(hub_id, step, "review", {"hold_reason": f"REVIEW:unsafe_header {exc.field}"})
    except msg.MissingSetup as exc:
        return Outcome(hub_id, step, "review", {"hold_reason": exc.hold})
    return got


async def _draft(path: SendPath, row: Row, step: int) -> str | Outcome:
    hub_id = row["hub_id"]
    try:
        changes = draft_changes(path.services, [row], step=step)
        if inspect.isawaitable(changes):
            changes = await changes
    except Exception as exc:  # the drafter is down: this follow-up waits for the next run
        return Outcome(hub_id, step, "failed", {"last_error": f"draft follow-up: {exc}"})
    got = changes.get(hub_id, {})
    body = (got.get("draft_body") or "").strip()
    if not body:
        hold = got.get("hold_reason") or "REVIEW:blank_field draft_body"
        return Outcome(hub_id, step, "review", {"hold_reason": hold})
    return body


async def _deliver(
    path: SendPath,
    item: Planned,
    halt: list[Hold | str],
    before_thread_check: Callable[[Row], Any] | None,
    sizer: ChunkSizer,
) -> Outcome:
    if halt:
        return await path.back_out(item, halt[0], "held")
    if not await path.wait_gap(item.intent.identity):
        halt.append("")
        return await path.back_out(item, None, "cancelled")
    if before_thread_check is not None:
        hooked = before_thread_check(item.row)
        if inspect.isawaitable(hooked):
            await hooked
    mailer = path.senders.mailer(item.intent.identity)  # the thread is in that mailbox
    thread = await asyncio.to_thread(mailer.thread_messages, item.intent.thread_id)
    changes = thread_verdict(path, item.row, thread)
    status = changes.get("outreach_status", "")
    if status in STOPPING_STATUSES:
        await asyncio.to_thread(path.suppression.add, item.intent.recipient, status)
        outcome = await path.back_out(item, None, "cancelled")
        return Outcome(outcome.hub_id, outcome.step, status, changes)
    if changes.get("next_followup_at"):  # out of office: wait until they are back
        outcome = await path.back_out(item, None, "postponed")
        return Outcome(outcome.hub_id, outcome.step, "postponed", changes)
    wait = path.final_hold(item)
    if wait is not None:
        if isinstance(wait, Hold) and wait.kind in STOPPING_HOLDS and len(path.limits.rules) == 1:
            halt.append(wait)
        if isinstance(wait, str):  # suppressed meanwhile: no more follow-ups for this row
            await path.back_out(item, wait, "suppressed")
            changes = {"next_followup_at": "", "hold_reason": wait}
            return Outcome(item.intent.hub_id, item.intent.step, "suppressed", changes)
        return await path.back_out(item, wait, "held")
    started = time.monotonic()
    outcome = await path.deliver(item)
    sizer.observe(time.monotonic() - started)
    if outcome.result == "quota":
        halt.append("HELD:gmail_quota")
    return outcome


def _reason(stop: Hold | str) -> str:
    return stop.reason if isinstance(stop, Hold) else stop
