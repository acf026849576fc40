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
from concurrent.futures import Future, ThreadPoolExecutor

from hub.mail.base import Mailer, SentMessage
from hub.mail.factory import build_mailer
from hub.mail.outbox import message_bytes
from hub.sending import message as msg
from hub.sending.ledger import Ledger
from hub.sending.ledger_schema import Intent, SendRecord
from hub.sending.limits import Hold, Limits, wait_interruptibly
from hub.sending.outcomes import HALTED, Halted, Outcome, Planned
from hub.sending.previews import PreviewClaims, write_preview
from hub.sending.reconcile import sent_changes, settle
from hub.sending.senders import Senders
from hub.sending.suppression import Suppression
from hub.state.leases import new_owner, owner_stopped
from sheets.columns import HUMAN_TERMINAL_STATUSES, Row

APPROVED_VALUES = frozenset({"true", "yes", "y", "1", "x", "✓", "✔", "☑", "checked"})


def is_approved(row: Row) -> bool:
    return (row.get("approved", "") or "").strip().lower() in APPROVED_VALUES


# Which rows a first send takes: the send stage, its slices and a single send all ask this.
SEND_STATUSES = frozenset({"drafted", "sending", "failed"})


def status_of(row: Row) -> str:
    return (row.get("outreach_status", "") or "").strip().lower()


def wants_send(row: Row, *, auto_send: bool, require_approval: bool) -> bool:
    status = status_of(row)
    if status in HUMAN_TERMINAL_STATUSES or not row.get("contact_email", "").strip():
        return False
    if status == "sending":  # an earlier run's intent: always settle it
        return True
    if status not in SEND_STATUSES and not (auto_send and status == "enriched"):
        return False
    return is_approved(row) or not require_approval


def _mailer(services) -> Mailer:
    if services.mailer is None:
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
        self.previews = PreviewClaims.on_several_machines(self.settings, self.owner)
        # The one thread provider calls run on, in order (see submit).
        self._sending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-send")

    @property
    def dry_run(self) -> bool:
        return bool(self.mailer.dry_run)

    def close(self) -> None:
        """Give back claims on intents this job planned but never attempted."""
        self._sending.shutdown(wait=True)
        self.ledger.release_owner(self.owner)
        owner_stopped(self.owner)  # what it still holds may be taken over at once
        self.ledger.close()
        self.suppression.close()
        self.senders.close()
        if self.previews is not None:
            self.previews.close()

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
        file = await write_preview(self, built, hub_id, step, threading)
        if file is None:  # another machine is writing this step's preview right now
            return Outcome(hub_id, step, "busy")
        changes = {"hold_reason": f"DRY_RUN {file}", "last_error": ""}
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

        def check_and_commit() -> Intent | None:  # one worker-thread hop
            existing = self.ledger.intent(hub_id, step)
            wanted = content
            if existing is not None and existing.attempted_at is not None:
                # It may have gone out: it goes again only as it was (the ledger keeps it).
                wanted = _content_of(existing, row)
            key = existing.identity if existing else identity
            sender = self.senders.sender(key)
            # Checked now (a bad header holds the row before any intent); the message is
            # built right before its call, from the intent (see submit).
            msg.checked_fields(self.settings, wanted, sender, threading)
            if existing is not None:
                message_id = existing.message_id
            else:
                message_id = msg.new_message_id(self.settings, sender=sender[1])
            return self.ledger.plan(
                hub_id=hub_id,
                step=step,
                message_id=message_id,
                recipient=wanted.to,
                subject=wanted.subject,
                body=wanted.body,
                thread_id=threading.thread_id if threading else "",
                owner=self.owner,
                identity=key,
            )

        intent = await asyncio.to_thread(check_and_commit)
        if intent is None:
            return Outcome(hub_id, step, "busy")
        return Planned(row, intent, revert, threading, failed_status)

    # --- the provider call ------------------------------------------------------------------------
    def back_to_back(self) -> bool:
        """No identity waits between sends (``HUB_SEND_GAP_SECONDS=0``: tests, benches)."""
        return all(rule.gap.high == 0 for rule in self.limits.rules.values())

    def gap_left(self, identity: str | None = None) -> float:
        """Seconds of the send gap still to wait before the next provider call (of
        ``identity``; without it, of whichever identity may go first)."""
        return self.senders.gap_left(identity)

    async def wait_gap(self, identity: str | None = None) -> bool:
        """Wait out the gap since the last provider call; False when cancelled meanwhile."""

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
        """Hand one planned message to the provider, exactly once, and record it."""
        sent = await self.hand_over(planned, final_checks=False)
        assert not isinstance(sent, Hold | str | Halted)  # no final checks asked for here
        return sent if isinstance(sent, Outcome) else await self.record(planned, sent)

    async def hand_over(
        self, planned: Planned, *, final_checks: bool = True
    ) -> Hold | str | Halted | Outcome | SentMessage:
        got = await asyncio.wrap_future(self.submit(planned, final_checks=final_checks))
        return await self.outcome_of(planned, got)

    def submit(
        self,
        planned: Planned,
        *,
        go: Callable[[], bool] = lambda: True,
        final_checks: bool = True,
        answer_awaited: Callable[[], None] | None = None,
    ) -> Future:
        """Queue the final checks (:meth:`final_hold`), the claim (``attempted_at``) and the
        provider call, in that order, on the job's one sending thread: one hop, so the
        checks run right before the call; queued behind a message in flight, it starts the
        moment that one ends, without a round trip through the event loop. ``go`` is asked
        first, in that thread: False skips the message (:data:`HALTED`); ``answer_awaited``
        is passed to the mailer (the caller's cue to prepare the next message).

        The future's result, for :meth:`outcome_of`: the hold when a final check says wait
        (nothing claimed), ``None`` when another job holds the claim, the exception of a
        failed call, else what the provider kept -- the message went out and still needs
        :meth:`record`; until then the ledger counts it by its ``attempted_at`` (caps see
        it), and a crash leaves it to reconciliation."""
        intent = planned.intent
        hub_id, step = intent.hub_id, intent.step
        if planned.message is None:  # raises UnsafeHeader / MissingSetup (checked when planned)
            content = _content_of(intent, planned.row)
            planned.message, _ = self.build(planned.row, intent, content, step, planned.threading)
        built = planned.message
        wire = message_bytes(built)  # serialised here, while the message before is in flight
        mailer = self.senders.mailer(intent.identity)
        thread_id = planned.threading.thread_id if planned.threading else None

        def check_claim_and_call() -> object:
            if not go():
                return HALTED
            wait = self.final_hold(planned) if final_checks else None
            if wait is not None:
                return wait
            started = time.monotonic()
            try:
                if not self.ledger.mark_attempt(hub_id, step, self.owner):
                    return None
                try:
                    return mailer.send(
                        built, thread_id=thread_id, wire=wire, answer_awaited=answer_awaited
                    )
                except Exception as exc:  # handled on the loop, by outcome_of
                    return exc
            finally:
                self.senders.called(intent.identity, self.limits.next_gap(intent.identity))
                planned.call_seconds = time.monotonic() - started

        return self._sending.submit(check_claim_and_call)

    async def outcome_of(
        self, planned: Planned, got: object
    ) -> Hold | str | Halted | Outcome | SentMessage:
        """What a :meth:`submit` came to: a failed call is settled (an ambiguous one is
        searched for in Sent at once) into an Outcome; the rest as they are."""
        if isinstance(got, Hold | str | Halted | SentMessage | Outcome):
            return got
        intent = planned.intent
        if got is None:
            return Outcome(intent.hub_id, intent.step, "busy")
        assert isinstance(got, Exception)
        # Not a MailerError: a timeout, a dropped line... (ambiguous unless it says otherwise)
        ambiguous, quota = getattr(got, "ambiguous", True), getattr(got, "quota", False)
        return await self._failed(planned, got, ambiguous=ambiguous, quota=quota)

    async def record(self, planned: Planned, sent: SentMessage) -> Outcome:
        """The provider took the message: move the intent into ``sends``."""
        intent = planned.intent

        def record_and_read() -> list[SendRecord]:
            self.ledger.record_sent(intent, provider_id=sent.provider_id, thread_id=sent.thread_id)
            return self.ledger.history(intent.hub_id)

        history = await asyncio.to_thread(record_and_read)
        return Outcome(intent.hub_id, intent.step, "sent", sent_changes(self.settings, history))

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


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"
