"""The ``check_replies`` stage: read new mail, find its rows, mark replies, bounces and
unsubscribes, push follow-ups past an out-of-office return date.

Its cost grows with new mail, not with the rows ever sent: the mailer reads only what arrived
since the durable cursor (Gmail ``history.list``), the store is read once and only when there
is new mail, and every change is written in one ``store.update``. The cursor moves only after
the write, so a crash re-reads the same mail, which is harmless (transitions are idempotent).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hub.config.identities import load_identities
from hub.mail.base import MailerError
from hub.mail.factory import Mailers
from hub.replies.inbound import WATCHED, MailboxCursor, plan_replies
from hub.sending.suppression import Suppression
from hub.stages.base import StageContext, StageResult


def _own_addresses(ctx: StageContext) -> list[str]:
    settings = ctx.settings
    mailer = ctx.services.mailer
    own = [settings.gmail_sender, settings.sender_address, getattr(mailer, "sender", "")]
    if settings.identities_file:  # every identity's address is ours
        own += [identity.address for identity in load_identities(settings)]
    return [a for a in own if a]


def _mailbox_key(ctx: StageContext) -> str:
    mailer = ctx.services.mailer
    return f"{mailer.provider_name}:{getattr(mailer, 'sender', '') or ctx.settings.gmail_sender}"


def _suppress(ctx: StageContext, entries: list[tuple[str, str, str]]) -> int:
    """Record bounced/unsubscribed/replied/complained addresses in the suppression list."""
    if not entries:
        return 0
    suppression = Suppression(ctx.settings, ctx.store)
    try:
        for _hub_id, email, reason in entries:
            suppression.add(email, reason, overriding=reason.startswith("complaint"))
    finally:
        suppression.close()
    return len(entries)


def _first_send(ctx: StageContext) -> datetime | None:
    """When the earliest message still awaiting an answer went out: the first check reads the
    mailbox from then, so a reply that came before any check ran is not missed."""
    sent = [
        row.get("last_sent", "")
        for row in ctx.store.rows()
        if (row.get("outreach_status", "") or "").strip().lower() in WATCHED
    ]
    stamps = [s for s in sent if s]
    if not stamps:
        return None
    try:
        return datetime.fromisoformat(min(stamps).replace("Z", "+00:00"))
    except ValueError:
        return None


def _mailboxes(ctx: StageContext):
    """(cursor key, mailer) of every sending identity's mailbox: a reply arrives where its
    row's first message came from. Without an identities file, the one mailer."""
    primary = ctx.services.mailer
    if not ctx.settings.identities_file:
        return [(_mailbox_key(ctx), primary)], None
    mailers = Mailers(ctx.settings, load_identities(ctx.settings), primary)
    boxes = [(f"{m.provider_name}:{i.address}", m) for i, m in mailers.each()]
    return boxes, mailers


async def run(ctx: StageContext) -> StageResult:
    if ctx.services.mailer is None:
        return StageResult(summary={"skipped": "no mailer configured"}, chain=False)
    boxes, built = _mailboxes(ctx)
    cursors = MailboxCursor.from_settings(ctx.settings)
    try:
        if len(boxes) == 1:
            return StageResult(summary=await _check(ctx, cursors, *boxes[0]), chain=False)
        each = {key: await _check(ctx, cursors, key, mailer) for key, mailer in boxes}
        summary: dict = {
            "new_messages": sum(s.get("new_messages", 0) for s in each.values()),
            "rows_changed": sum(s.get("rows_changed", 0) for s in each.values()),
            "mailboxes": each,
        }
        return StageResult(summary=summary, chain=False)
    finally:
        cursors.close()
        if built is not None:
            built.close()


async def _check(ctx: StageContext, cursors: MailboxCursor, key: str, mailer) -> dict:
    """Read one mailbox's new mail and apply it to the rows; the cursor moves after the write."""
    cursor = cursors.get(key)
    start = None if cursor else await asyncio.to_thread(_first_send, ctx)
    try:
        batch = await asyncio.to_thread(mailer.inbound_since, cursor, start=start)
    except MailerError as exc:
        # Nothing was changed; the next check starts from the same cursor.
        return {"error": str(exc), "quota": exc.quota}
    summary: dict = {"new_messages": len(batch.messages), "rows_changed": 0}
    ctx.report_progress(0, len(batch.messages))
    if batch.messages:
        ctx.check_cancelled()
        rows = await asyncio.to_thread(ctx.store.rows)
        plan = plan_replies(
            rows, batch.messages, own_addresses=_own_addresses(ctx), now=datetime.now(UTC)
        )
        written: set[str] = set()
        if plan.changes:
            report = await asyncio.to_thread(ctx.store.update, plan.changes)
            written = set(report.written)
            summary["missing_rows"] = len(report.missing)
        summary["rows_changed"] = len(written)
        # A complaint's address is suppressed even when its row was not written.
        suppress = [e for e in plan.suppress if e[0] in written or e[2].startswith("complaint")]
        summary["suppressed"] = await asyncio.to_thread(_suppress, ctx, suppress)
        for hub_id, event_type, payload in plan.events:
            if hub_id in written:
                ctx.emit(event_type, payload)
        summary["kinds"] = dict(plan.counts)
        summary["unmatched"] = plan.unmatched
        if plan.unreadable:  # skipped (see the log): the cursor still moves past them
            summary["unreadable"] = plan.unreadable
        ctx.report_progress(len(batch.messages), len(batch.messages))
    cursors.set(key, batch.cursor)
    return summary
