"""Turn classified inbound mail into row changes, suppressions and events (pure), and keep the
mailbox cursor durably so each check reads only mail that arrived since the last one.

A bounce or complaint finds its row first by our original Message-ID as the report quotes it
(its ``text/rfc822-headers``/``message/rfc822`` part or the copy a plain-text bounce appends),
since it often arrives in a thread of its own. Any message then tries ``gmail_thread_id``, then
the Message-IDs it refers to (``In-Reply-To``/``References`` against the row's ``message_id``);
a bounce or complaint last tries its failed or complaining recipient (``contact_email``).
A spam complaint suppresses the address at once, even when no row matches, and moves the row
to ``do_not_contact`` with ``hold_reason`` ``COMPLAINT:<feedback-type>``. Several messages for one row are applied oldest first; terminal
states (``bounced``, ``unsubscribed``, a person's ``skip``/``do_not_contact``) are never left,
so re-reading the same mail after a crash changes nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.mail.base import MailboxMessage
from hub.mail.classify import Classification, classify
from hub.state.database import SqliteDatabase, open_database
from sheets.columns import Row

log = logging.getLogger(__name__)

TERMINAL = frozenset({"bounced", "unsubscribed", "skip", "do_not_contact"})
# Statuses in which a row has mail out (or being sent) and so can receive answers.
WATCHED = frozenset({"sending", "sent", "replied"})
# Kinds that are reports about a message we sent: they quote it and name its recipient.
REPORTS = frozenset({"bounce_hard", "bounce_soft", "complaint"})


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class ReplyPlan:
    changes: dict[str, dict[str, str]] = field(default_factory=dict)  # hub_id -> columns
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (hub_id, ...)
    suppress: list[tuple[str, str, str]] = field(default_factory=list)  # (hub_id, email, reason)
    counts: Counter = field(default_factory=Counter)  # classification kind -> messages
    unmatched: int = 0
    # Messages our code could not read (a bug of ours, logged with its traceback): skipped,
    # so one odd message never holds the mailbox's cursor back for all the others.
    unreadable: list[str] = field(default_factory=list)


class RowIndex:
    """Rows by thread id, by the Message-IDs we sent and by contact address (one store read)."""

    def __init__(self, rows: Iterable[Row]):
        self.by_thread: dict[str, Row] = {}
        self.by_message_id: dict[str, Row] = {}
        self.by_email: dict[str, Row] = {}
        for row in rows:
            if (row.get("outreach_status", "") or "").strip().lower() not in WATCHED | TERMINAL:
                continue
            if thread := row.get("gmail_thread_id", "").strip():
                self.by_thread[thread] = row
            if message_id := row.get("message_id", "").strip().strip("<>"):
                self.by_message_id[message_id] = row
            if email := row.get("contact_email", "").strip().lower():
                self.by_email.setdefault(email, row)

    def find(self, message: MailboxMessage, found: Classification) -> Row | None:
        for quoted in found.original_message_ids:
            if row := self.by_message_id.get(quoted.strip("<>")):
                return row
        if message.thread_id in self.by_thread:
            return self.by_thread[message.thread_id]
        refs = f"{message.headers.get('in-reply-to', '')} {message.headers.get('references', '')}"
        for ref in reversed(refs.split()):
            if row := self.by_message_id.get(ref.strip().strip("<>")):
                return row
        if found.kind in REPORTS and found.recipient:
            return self.by_email.get(found.recipient)
        return None


def _transition(row: Row, found: Classification, now: datetime) -> dict[str, str]:
    """The columns one message changes on a row in its current state ({} = nothing)."""
    status = (row.get("outreach_status", "") or "").strip().lower()
    if status in TERMINAL or found.kind == "own":
        return {}
    at = iso(found.at or now)
    if found.kind == "complaint":
        # A spam complaint outranks a reply: never write to this person again.
        return {
            "outreach_status": "do_not_contact",
            "hold_reason": f"COMPLAINT:{found.feedback_type or 'abuse'}",
            "next_followup_at": "",
            "last_error": "",
        }
    if found.kind == "unsubscribe":
        return {
            "outreach_status": "unsubscribed",
            "hold_reason": "SKIP:unsubscribed",
            "next_followup_at": "",
            "replied_at": row.get("replied_at", "") or at,
            "reply_snippet": found.snippet,
            "last_error": "",
        }
    if found.kind == "bounce_hard":
        if status == "replied":
            return {}  # they answered: a later bounce (an old alias) does not undo that
        return {
            "outreach_status": "bounced",
            "hold_reason": "SKIP:bounced",
            "next_followup_at": "",
            "last_error": f"bounced {found.status_code}: {found.detail}".replace(" :", ":"),
        }
    if found.kind == "bounce_soft":
        # Temporary (RFC 3463 4.x.x): the receiving side keeps retrying; nothing to undo.
        return {
            "last_error": f"delivery delayed {found.status_code}: {found.detail}".replace(" :", ":")
        }
    if found.kind == "reply":
        if status == "replied":
            return {}  # the first reply's time and words stay
        return {
            "outreach_status": "replied",
            "replied_at": at,
            "reply_snippet": found.snippet,
            "next_followup_at": "",
            "hold_reason": "",
            "last_error": "",
        }
    if found.kind == "auto_reply" and status == "sent" and found.resume_at is not None:
        due = row.get("next_followup_at", "")
        if not due or due >= iso(found.resume_at):
            return {}  # no follow-up pending, or already later than the return date
        return {
            "next_followup_at": iso(found.resume_at),
            "hold_reason": f"HELD:out_of_office until {found.resume_at.date().isoformat()}",
        }
    return {}


_EVENTS = {"replied": "prospect.replied", "bounced": "prospect.bounced"}
_EVENTS["unsubscribed"] = "prospect.unsubscribed"
_EVENTS["do_not_contact"] = "prospect.complained"  # only a complaint moves a row there


def _complaint_suppressions(row: Row | None, found: Classification) -> list[tuple[str, str, str]]:
    """Every address a complaint names, suppressed whether or not the row changes (it may be
    terminal already, or unmatched): every future send and every identity skips them."""
    reason = f"complaint:{found.feedback_type or 'abuse'}"
    hub_id = row["hub_id"] if row is not None else ""
    emails = {found.recipient.strip().lower()}
    if row is not None:
        emails.add((row.get("contact_email", "") or "").strip().lower())
    return [(hub_id, email, reason) for email in sorted(emails) if email]


def plan_replies(
    rows: Iterable[Row],
    messages: Iterable[MailboxMessage],
    *,
    own_addresses: Iterable[str],
    now: datetime,
) -> ReplyPlan:
    plan = ReplyPlan()
    index = RowIndex(rows)
    own = list(own_addresses)
    oldest_first = sorted(messages, key=lambda m: m.internal_date or now)
    state: dict[str, Row] = {}  # hub_id -> the row as the plan has changed it so far
    for message in oldest_first:
        try:
            _plan_one(plan, index, state, message, own, now)
        except Exception:
            log.exception("could not read message %s; it is skipped", message.provider_id)
            plan.unreadable.append(message.provider_id)
    return plan


def _plan_one(
    plan: ReplyPlan,
    index: RowIndex,
    state: dict[str, Row],
    message: MailboxMessage,
    own: list[str],
    now: datetime,
) -> None:
    """Add one message's effect on its row to ``plan`` (``state``: rows as changed so far)."""
    found = classify(message, own_addresses=own, now=now)
    plan.counts[found.kind] += 1
    if found.kind == "own":
        return
    row = index.find(message, found)
    if found.kind == "complaint":
        plan.suppress.extend(_complaint_suppressions(row, found))
    if row is None:
        plan.unmatched += 1
        return
    hub_id = row["hub_id"]
    current = state.setdefault(hub_id, dict(row))
    changes = _transition(current, found, now)
    if not changes:
        return
    current.update(changes)
    plan.changes.setdefault(hub_id, {}).update(changes)
    new_status = changes.get("outreach_status")
    if new_status in _EVENTS:
        email = (row.get("contact_email", "") or found.recipient).strip().lower()
        plan.events.append((hub_id, _EVENTS[new_status], _payload(row, found, new_status)))
        if email and found.kind != "complaint":  # complaints were suppressed above
            plan.suppress.append((hub_id, email, new_status))


def _payload(row: Row, found: Classification, status: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "hub_id": row["hub_id"],
        "domain": row.get("domain", ""),
        "contact_email": row.get("contact_email", ""),
        "gmail_thread_id": row.get("gmail_thread_id", ""),
        "status": status,
        "at": iso(found.at) if found.at else "",
    }
    if found.snippet:
        payload["snippet"] = found.snippet
    if found.status_code:
        payload["bounce_status"] = found.status_code
    if found.feedback_type:
        payload["feedback_type"] = found.feedback_type
    return payload


class MailboxCursor:
    """Where the last check stopped reading the mailbox (a small table in the hub's database:
    the state DB, or PostgreSQL with ``HUB_DATABASE_URL`` so any worker continues from it)."""

    def __init__(self, db: Any):
        """``db``: the hub's database (:func:`hub.state.database.open_database`) or the path of
        a SQLite file."""
        if isinstance(db, str | Path):
            db = SqliteDatabase(db)
        self._db = db

    @classmethod
    def from_settings(cls, settings: Any) -> MailboxCursor:
        return cls(open_database(settings))

    def get(self, mailbox: str) -> str | None:
        found = self._db.execute(
            "SELECT cursor FROM mailbox_cursor WHERE mailbox=?", (mailbox,)
        ).fetchone()
        return found[0] if found else None

    def set(self, mailbox: str, cursor: str) -> None:
        self._db.execute(
            "INSERT INTO mailbox_cursor(mailbox, cursor, updated_at) VALUES(?, ?, ?) "
            "ON CONFLICT(mailbox) DO UPDATE SET cursor=excluded.cursor, "
            "updated_at=excluded.updated_at",
            (mailbox, cursor, iso(datetime.now(UTC))),
        )

    def close(self) -> None:
        self._db.close()
