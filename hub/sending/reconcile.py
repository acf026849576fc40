"""Settle a step whose outcome is unknown before anything is sent again (DESIGN.md §5).

A step is *settled* when the ledger records it as sent, or when its intent was handed to the
provider (``attempted_at``) and the Sent mailbox holds it -- by ``rfc822msgid:`` first, then by
recipient + time window + subject, because Gmail may replace a client-supplied Message-ID.
An intent that was never attempted needs no search: the provider never saw it.

Also here: the row columns that describe a sent step, so the sheet can always be repaired
from the ledger (the ledger is the source of truth when a sheet write failed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hub.mail.base import Mailer
from hub.sending.ledger import Ledger
from hub.sending.ledger_schema import Intent, SendRecord

# Gmail's clock and ours may differ; search a little before the attempt.
SEARCH_SLACK = timedelta(minutes=10)


async def settle(
    ledger: Ledger, mailer: Mailer | Callable[[str], Mailer], hub_id: str, step: int
) -> SendRecord | None:
    """The record of this step if it went out (found now or before), else None. ``mailer``
    may pick the mailer by the intent's sending identity (its Sent folder is searched)."""

    def read() -> tuple[SendRecord | None, Intent | None]:  # one worker-thread hop, not two
        return ledger.sent(hub_id, step), ledger.intent(hub_id, step)

    record, intent = await asyncio.to_thread(read)
    if record is not None:
        return record
    if intent is None or intent.attempted_at is None:
        return None
    if not isinstance(mailer, Mailer):
        mailer = mailer(intent.identity)
    if mailer.dry_run:
        return None
    found = await asyncio.to_thread(
        mailer.find_sent,
        rfc822_message_id=intent.message_id,
        to=intent.recipient,
        subject=intent.subject,
        since=datetime.fromtimestamp(intent.attempted_at, UTC) - SEARCH_SLACK,
    )
    if found is None:
        return None
    return await asyncio.to_thread(
        ledger.record_sent,
        intent,
        provider_id=found.provider_id,
        thread_id=found.thread_id,
        how="reconciled",
    )


def iso(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_days(start: datetime, days: int, *, business: bool) -> datetime:
    if not business:
        return start + timedelta(days=days)
    moment, left = start, days
    while left > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def followup_offsets(settings) -> list[int]:
    """``HUB_FOLLOWUP_DAYS`` as integers (days after the *first* message)."""
    offsets: list[int] = []
    for text in settings.followup_days:
        try:
            offsets.append(int(str(text).strip()))
        except ValueError as exc:
            raise ValueError(
                f"HUB_FOLLOWUP_DAYS has {text!r}: expected whole days like '3,7'"
            ) from exc
    return offsets


def next_followup_at(settings, first_sent_at: float, steps_done: int) -> str:
    """When follow-up ``steps_done + 1`` is due ("" when no more are configured)."""
    offsets = followup_offsets(settings)
    if steps_done >= len(offsets):
        return ""
    first = datetime.fromtimestamp(first_sent_at, UTC)
    return iso(add_days(first, offsets[steps_done], business=settings.followup_business_days))


def sent_changes(settings, history: list[SendRecord]) -> dict[str, str]:
    """The row columns that say what the ledger knows was sent (first message + follow-ups)."""
    if not history:
        return {}
    first, last = history[0], history[-1]
    followups = len(history) - 1
    return {
        "outreach_status": "sent",
        "message_id": first.message_id,
        "gmail_thread_id": first.thread_id,
        "last_sent": iso(last.sent_at),
        "followups_sent": str(followups),
        "next_followup_at": next_followup_at(settings, first.sent_at, followups),
        "hold_reason": "",
        "last_error": "",
        # the identity that sent it (only named ones: the implicit identity leaves it empty)
        **({"sender_identity": first.identity} if first.identity else {}),
    }
