"""Rows that are not moving: stuck in ``sending``, on hold (counted per reason), or failed.

A row is ``sending`` from the moment its send intent is written until the outcome is; a send
job keeps rows there for minutes (the gap between messages is 30-90 s, 20 rows a chunk). So a
``sending`` row is *stuck* only when it has not changed for :data:`STUCK_AFTER` and no send or
follow-up job holds a live lease: then a crash left its outcome unknown, and only the next
send run settles it (Sent-mailbox search by Message-ID before anything is sent again).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from hub.config import Settings
from hub.doctor.report import Finding, error, ok, warn
from hub.rows.filter import hold_group, normal_status
from sheets.columns import Row

AREA = "rows"
STUCK_AFTER = timedelta(minutes=10)
SEND_JOB_TYPES = ("send", "followup")
SHOWN_IDS = 5

HOLD_FIXES = {
    "REVIEW:sender_address": "set HUB_SENDER_ADDRESS (the postal address of the footer); the "
    "next send run takes these rows",
    "REVIEW:public_url": "set HUB_PUBLIC_URL to the hub's public address (unsubscribe links "
    "point there); the next send run takes these rows",
    "REVIEW:secret_keys": "set HUB_SECRET_KEYS (unsubscribe links are signed with it)",
    "REVIEW:approval": "tick `approved` on the rows you want sent",
    "REVIEW:blank_field": "fill the field hold_reason names, then clear hold_reason",
    "REVIEW:contact_email": "correct contact_email on these rows",
    "REVIEW:bad_email": "correct contact_email (hold_reason says what is wrong); the next run "
    "takes the row",
    "NO_EMAIL:bad_domain": "correct domain (last_error says what is wrong); the next enrich run "
    "takes the row",
    "REVIEW:gemini_blocked": "write draft_subject/draft_body by hand for these rows",
    "REVIEW:bad_output": "write the draft by hand, or clear hold_reason to draft again",
    "REVIEW:bad_subject": "write the subject by hand, or clear hold_reason to draft again",
    "REVIEW:unsafe_header": "remove line breaks from the field hold_reason names",
    "HELD:daily_cap": "nothing: they go when the rolling 24 h cap frees up (HUB_DAILY_CAP)",
    "HELD:send_window": "nothing: they go when HUB_SEND_WINDOW opens",
    "HELD:gmail_quota": "nothing: the next send run tries again once Gmail's quota frees up",
    "HELD:hunter_quota": "top up the Hunter plan or wait for its monthly reset; the next "
    "enrich run tries again",
    "HELD:gemini_quota": "wait for the Gemini quota to reset (or raise it); the next draft "
    "run tries again",
}


def running_send_jobs(settings: Settings, now: float | None = None) -> list[str]:
    """Ids of send/follow-up jobs whose lease is live (read from the state DB, if any)."""
    now = time.time() if now is None else now
    if settings.uses_postgres:
        return _running_send_jobs_in_postgres(settings, now)
    if not settings.state_db_path.exists():
        return []  # the doctor does not create it
    from hub.state.sqlite import State

    state = State(settings.state_db_path)
    try:
        return [
            job["id"]
            for job_type in SEND_JOB_TYPES
            for job in state.list_jobs(job_type=job_type, status="running")
            if (job.get("lease_expires") or 0) > now
        ]
    finally:
        state.close()


def _running_send_jobs_in_postgres(settings: Settings, now: float) -> list[str]:
    """The same question asked of the shared database, read-only: opening the state would
    apply pending migrations, and the doctor changes nothing."""
    import psycopg

    from hub.state.migrate import database_version

    try:
        with psycopg.connect(settings.database_url.get_secret_value(), connect_timeout=5) as conn:
            if database_version(conn) == 0:
                return []  # no hub tables yet: no jobs
            found = conn.execute(
                "SELECT id FROM jobs WHERE job_type = ANY(%s) AND status = 'running'"
                " AND lease_expires > %s ORDER BY seq",
                (list(SEND_JOB_TYPES), now),
            ).fetchall()
    except psycopg.Error:
        return []  # the database findings say why it cannot be read
    return [job_id for (job_id,) in found]


def check_rows(
    rows: list[Row], *, send_jobs: list[str], now: datetime | None = None
) -> list[Finding]:
    now = now or datetime.now(UTC)
    statuses = Counter(normal_status(r.get("outreach_status", "")) for r in rows)
    found = [ok(AREA, f"{len(rows)} row(s): " + _counts(statuses) if rows else "no rows yet")]
    found += _sending(rows, send_jobs, now)
    found += _holds(rows)
    found += _failed(rows)
    return found


def _counts(statuses: Counter) -> str:
    return ", ".join(f"{status} {n}" for status, n in statuses.most_common())


def _age(row: Row, now: datetime) -> timedelta | None:
    text = row.get("updated_at", "").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return now - moment


def _sending(rows: list[Row], send_jobs: list[str], now: datetime) -> list[Finding]:
    sending = [r for r in rows if normal_status(r.get("outreach_status", "")) == "sending"]
    if not sending:
        return []
    if send_jobs:
        return [ok(AREA, f"{len(sending)} row(s) in sending while job(s) "
                         f"{', '.join(send_jobs)} run")]  # fmt: skip
    stuck = []
    for row in sending:
        age = _age(row, now)
        if age is None or age >= STUCK_AFTER:  # no timestamp: nothing says it is recent
            stuck.append((age, row))
    if not stuck:
        return [ok(AREA, f"{len(sending)} row(s) in sending, changed in the last few minutes")]
    # Oldest first; rows without a timestamp after them.
    stuck.sort(key=lambda item: (item[0] is not None, item[0] or timedelta(0)), reverse=True)
    ids = ", ".join(row.get("hub_id", "?") for _, row in stuck[:SHOWN_IDS])
    more = f" and {len(stuck) - SHOWN_IDS} more" if len(stuck) > SHOWN_IDS else ""
    oldest = stuck[0][0]
    since = f"for {_duration(oldest)}" if oldest is not None else "with no updated_at"
    return [
        error(
            AREA,
            f"{len(stuck)} row(s) stuck in sending {since} and no send job running "
            f"({ids}{more}): a send was interrupted and its outcome is unknown",
            "run `hub run send` (or let the next send job run): it first looks for each of "
            "these messages in the Sent mailbox and never sends one twice",
        )
    ]


def _duration(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def _holds(rows: list[Row]) -> list[Finding]:
    groups = Counter(hold_group(r.get("hold_reason", "")) for r in rows)
    groups.pop("", None)
    found: list[Finding] = []
    for reason, n in sorted(groups.items(), key=lambda item: (-item[1], item[0])):
        kind = reason.split(":", 1)[0]
        message = f"{n} row(s) on hold: {reason}"
        if kind == "REVIEW":
            fix = HOLD_FIXES.get(reason, "filter the sheet on hold_reason, fix these rows and "
                                         "clear hold_reason")  # fmt: skip
            found.append(warn(AREA, message + " (waiting for a person)", fix))
        elif kind == "ERROR" or reason == "NO_EMAIL:bad_domain":  # a row in trouble (issue 11)
            fix = HOLD_FIXES.get(reason, "read last_error (`hub sheet status` lists these rows); "
                                 "after HUB_ROW_MAX_ATTEMPTS tries a row waits for you to change it")  # fmt: skip
            found.append(warn(AREA, message, fix))
        elif kind == "HELD":
            found.append(ok(AREA, message, HOLD_FIXES.get(reason, "nothing: the next run "
                                                                  "tries again")))  # fmt: skip
        else:  # SKIP:... and the like: the row is done on purpose
            found.append(ok(AREA, message))
    return found


def _failed(rows: list[Row]) -> list[Finding]:
    failed = [r for r in rows if normal_status(r.get("outreach_status", "")) == "failed"]
    if not failed:
        return []
    errors = Counter(r.get("last_error", "").strip()[:160] or "(no last_error)" for r in failed)
    common, n = errors.most_common(1)[0]
    return [
        warn(
            AREA,
            f"{len(failed)} row(s) failed; most often ({n}): {common}",
            "fix the cause named in last_error; the next run of the stage retries failed rows",
        )
    ]
