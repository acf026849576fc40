"""The one exactly-once send path, shared by the send stage, the follow-up stage and the API.

For every message (DESIGN.md §5):
1. :func:`~hub.sending.reconcile.settle` -- a step the ledger (or the Sent mailbox, for an
   attempt with an unknown outcome) knows as sent is never sent again;
2. ``plan``: the intent with its pre-made Message-ID is committed to the ledger; the caller then
   writes ``sending`` + ``message_id`` to the sheet, for a whole chunk in one write;
3. right before the call: suppression (own table, at once) and limits are checked again and
   ``attempted_at`` is committed;
4. the provider call; the ledger records the send, the caller writes ``sent`` to the sheet.
An ambiguous failure (timeout, 5xx after the request went out) is searched for at once; when
not found the row stays ``sending`` and the next run settles it before sending.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from hub.mail.base import Mailer
from hub.sending import message as msg
from hub.sending.ledger import Intent, Ledger, SendRecord, new_owner
from hub.sending.limits import Hold, Limits
from hub.sending.reconcile import sent_changes, settle
from hub.sending.senders import Senders
from hub.sending.suppression import Suppression
from sheets.columns import Row

APPROVED_VALUES = frozenset({"true", "yes", "y", "1", "x", "✓", "✔", "☑", "checked"})


def is_approved(row: Row) -> bool:
    return (row.get("approved", "") or "").strip().lower() in APPROVED_VALUES


@dataclass
class Outcome:
    """What happened to one row's step; ``changes`` are the row columns to write."""

    hub_id: str
    step: int
    result: str  # sent, reconciled, dry_run, held, suppressed, review, failed, unknown, busy
    changes: dict[str, str] = field(default_factory=dict)


@dataclass
class Planned:
    """A message whose intent is durable; not yet handed to the provider."""

    row: Row
    intent: Intent
    revert: dict[str, str]  # the row's columns to restore if we back out before the call
    threading: msg.Threading | None = None
    failed_status: str = ""  # outreach_status when the provider refuses ("" keeps it)
    # Built once, when planned (its Date is the composition time, as RFC 5322 allows).
    message: EmailMessage | None = None


def _mailer(services) -> Mailer:
    if services.mailer is None:
        from hub.mail.factory import build_mailer

        services.mailer = build_mailer(services.settings)
    return services.mailer


class SendPath:
    def __init__(
        self,
        services,
        *,
        is_cancelled: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ):
        self.services = services
        self.settings = services.settings
        self.mailer = _mailer(services)
        self.senders = Senders(self.settings, self.mailer)
        self.ledger = Ledger.from_settings(self.settings)
        self.suppression = Suppression(self.settings, services.store)
        self.limits = Limits(
            self.settings, self.ledger, clock=clock, rng=rng, identities=self.senders.identities
        )
        self.is_cancelled = is_cancelled
        self.clock = clock
        self.owner = new_owner()

    @property
    def dry_run(self) -> bool:
        return bool(self.mailer.dry_run)

    def close(self) -> None:
        """Give back claims on intents this job planned but never attempted."""
        self.ledger.release_owner(self.owner)
        self.ledger.close()
        self.suppression.close()
        self.senders.close()

    # --- checks shared by both stages ---------------------------------------------------------
    def setup_hold(self) -> str | None:
        """A real send needs a postal address and an unsubscribe link reachable from outside
        (``HUB_PUBLIC_URL``; the default ``http://127.0.0.1:8000`` would be a dead link)."""
        if self.dry_run:
            return None
        if not (self.settings.sender_address or "").strip():
            return "REVIEW:sender_address"
        if not self.settings.public_url:
            return "REVIEW:public_url"
        return None

    async def settled(self, hub_id: str, step: int) -> list[SendRecord] | None:
        """The row's send history when this step already went out, else None."""
        if await settle(self.ledger, self.senders.mailer, hub_id, step) is None:
            return None
        return await asyncio.to_thread(self.ledger.history, hub_id)

    def repair(self, hub_id: str, step: int, history: list[SendRecord]) -> Outcome:
        return Outcome(hub_id, step, "reconciled", sent_changes(self.settings, history))

    def build(
        self,
        row: Row,
        intent_like: Intent | None,
        content: msg.Content,
        step: int,
        threading: msg.Threading | None = None,
        identity: str = "",
    ):
        """The message (raises UnsafeHeader / MissingSetup) and its Message-ID, sent from
        the identity keyed ``identity`` (an existing intent keeps its own)."""
        sender = self.senders.sender(intent_like.identity if intent_like else identity)
        if intent_like:
            message_id = intent_like.message_id
        else:
            message_id = msg.new_message_id(self.settings, sender=sender[1])
        link = msg.unsubscribe_url(self.settings, row["hub_id"])
        built = msg.build_message(
            self.settings, content, message_id=message_id, unsubscribe_link=link,
            threading=threading, sender=sender,
        )  # fmt: skip
        return built, message_id

    async def preview(
        self, row: Row, content: msg.Content, step: int, threading=None, identity: str = ""
    ) -> Outcome:
        """Dry run: write the .eml preview (one file per row and step); the status stays."""
        hub_id = row["hub_id"]
        built, _ = self.build(row, None, content, step, threading, identity)
        sent = await asyncio.to_thread(
            self.mailer.send,
            built,
            thread_id=threading.thread_id if threading else None,
            preview_name=f"{hub_id}-{step}",
        )
        changes = {"hold_reason": f"DRY_RUN {sent.provider_id}", "last_error": ""}
        if not (self.settings.sender_address or "").strip():
            changes["last_error"] = "dry run: set HUB_SENDER_ADDRESS before sending for real"
        return Outcome(hub_id, step, "dry_run", changes)

    async def plan(
        self,
        row: Row,
        content: msg.Content,
        step: int,
        threading=None,
        *,
        revert: dict[str, str],
        failed_status: str = "",
        identity: str = "",
    ) -> Planned | Outcome:
        """Commit the intent (or take over an abandoned one, keeping its Message-ID and
        identity)."""
        hub_id = row["hub_id"]
        existing = await asyncio.to_thread(self.ledger.intent, hub_id, step)
        if existing is not None and existing.attempted_at is not None:
            # It may have gone out: it is sent again only as it was (the ledger keeps it).
            content = _content_of(existing, row)
        built, message_id = self.build(row, existing, content, step, threading, identity)
        intent = await asyncio.to_thread(
            self.ledger.plan,
            hub_id=hub_id,
            step=step,
            message_id=message_id,
            recipient=content.to,
            subject=content.subject,
            body=content.body,
            thread_id=threading.thread_id if threading else "",
            owner=self.owner,
            identity=existing.identity if existing else identity,
        )
        if intent is None:
            return Outcome(hub_id, step, "busy")
        mine = _content_of(intent, row)
        if (intent.message_id, intent.identity, mine) != (
            message_id,
            _key(existing, identity),
            content,
        ):
            # Another job changed the intent between our read and our commit (rare): build
            # what the ledger now holds.
            built, _ = self.build(row, intent, mine, step, threading)
        return Planned(row, intent, revert, threading, failed_status, built)

    # --- the provider call ------------------------------------------------------------------------
    def gap_left(self, identity: str | None = None) -> float:
        """Seconds of the send gap still to wait before the next provider call (of
        ``identity``; without it, of whichever identity may go first)."""
        return self.senders.gap_left(identity)

    async def wait_gap(self, identity: str | None = None) -> bool:
        """Wait out the gap since the last provider call; False when cancelled meanwhile."""
        from hub.sending.limits import wait_interruptibly

        return await wait_interruptibly(self.gap_left(identity), self.is_cancelled)

    def final_hold(self, planned: Planned) -> Hold | str | None:
        """Checked right before the call: suppression (its table is read now) and limits."""
        intent = planned.intent
        reason = self.suppression.reason_for(intent.recipient)
        return (
            f"SKIP:{reason}"
            if reason
            else self.limits.hold_for(intent.recipient_domain, identity=intent.identity)
        )

    async def deliver(self, planned: Planned) -> Outcome:
        """Hand one planned message to the provider, exactly once."""
        intent = planned.intent
        hub_id, step = intent.hub_id, intent.step
        built = planned.message
        if built is None:
            content = _content_of(intent, planned.row)
            built, _ = self.build(planned.row, intent, content, step, planned.threading)
        mailer = self.senders.mailer(intent.identity)
        thread_id = planned.threading.thread_id if planned.threading else None

        def send_and_record() -> Exception | list[SendRecord] | None:
            # One worker-thread hop for the claim, the call and its record (each hop is a
            # wake-up the scheduler may delay on a busy machine).
            if not self.ledger.mark_attempt(hub_id, step, self.owner):
                return None
            try:
                sent = mailer.send(built, thread_id=thread_id)
            except Exception as exc:  # handled on the loop below
                return exc
            self.ledger.record_sent(intent, provider_id=sent.provider_id, thread_id=sent.thread_id)
            return self.ledger.history(hub_id)

        try:
            history = await asyncio.to_thread(send_and_record)
        finally:
            self.senders.called(intent.identity, self.limits.next_gap(intent.identity))
        if history is None:
            return Outcome(hub_id, step, "busy")
        if isinstance(history, Exception):  # not a MailerError: a timeout, a dropped line...
            ambiguous, quota = getattr(history, "ambiguous", True), getattr(history, "quota", False)
            return await self._failed(planned, history, ambiguous=ambiguous, quota=quota)
        return Outcome(hub_id, step, "sent", sent_changes(self.settings, history))

    async def _failed(self, planned: Planned, exc: Exception, *, ambiguous: bool, quota: bool):
        intent = planned.intent
        hub_id, step = intent.hub_id, intent.step
        text = _short(exc)
        if ambiguous:
            history = await self.settled(hub_id, step)
            if history is not None:
                return self.repair(hub_id, step, history)
            await asyncio.to_thread(self.ledger.release, hub_id, step, self.owner, not_sent=False)
            note = f"unknown outcome ({text}); Sent mail is searched before any retry"
            return Outcome(hub_id, step, "unknown", {"last_error": note})
        await asyncio.to_thread(self.ledger.release, hub_id, step, self.owner, not_sent=True)
        if quota:
            changes = {**planned.revert, "hold_reason": "HELD:gmail_quota", "last_error": text}
            return Outcome(hub_id, step, "quota", changes)
        changes = {**planned.revert, "hold_reason": "", "last_error": text}
        if planned.failed_status:
            changes["outreach_status"] = planned.failed_status
        return Outcome(hub_id, step, "failed", changes)

    async def back_out(self, planned: Planned, hold: Hold | str | None, result: str) -> Outcome:
        """Nothing was handed to the provider: drop the intent and restore the row."""
        intent = planned.intent
        await asyncio.to_thread(
            self.ledger.release, intent.hub_id, intent.step, self.owner, not_sent=True
        )
        reason = hold.reason if isinstance(hold, Hold) else (hold or "")
        changes = {**planned.revert, "hold_reason": reason}
        return Outcome(intent.hub_id, intent.step, result, changes)


def _content_of(intent: Intent, row: Row) -> msg.Content:
    """The message as the ledger holds it (a retried send is the same message)."""
    return msg.Content(intent.recipient, intent.subject, intent.body, row.get("contact_name", ""))


def _key(existing: Intent | None, identity: str) -> str:
    return existing.identity if existing else identity


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    return counts


async def send_one(services, hub_id: str) -> dict[str, Any]:
    """``POST /api/prospects/{id}/send``: send (or preview) this row's first message now,
    through the same exactly-once path and limits as the send job (no gap: one message).

    Raises ``NotFound`` for an unknown id and ``Conflict`` naming what to fix when the row
    cannot be sent. A row already sent answers with its state (``result=already_sent``).
    """
    from hub.errors import Conflict, NotFound
    from hub.sending.runner import run_send, wants_send

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
