"""A group of inbound deliveries written with a handful of statements instead of five each.

``EventsMixin.persist_inbound_many`` used to run every delivery in its own savepoint: a
SAVEPOINT, a SELECT for its dedupe key, an INSERT for its job, an INSERT for its inbox row and
a RELEASE, each a Python -> SQLite round trip (and, in the writer's thread, a turn at the GIL
against the event loop). Here one SELECT looks up every dedupe key of the group, and the jobs,
the expired keys and the inbox rows go in with one ``executemany`` each. The outcome is the
one the per-delivery path gives, item by item; whatever this path cannot decide the same way
(a key seen twice in the group with no window, an item that does not fit) raises
:class:`Fallback`, and the caller rolls back to its savepoint and takes the per-delivery path.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from hub.state.codec import dumps, iso, new_id


@dataclass(frozen=True)
class Persisted:
    """What :meth:`EventsMixin.persist_inbound` (or a group of them) did with a delivery."""

    job_id: str | None
    duplicate: bool
    inbox_seq: int | None  # None for a duplicate


# SQLite's default limit on ? parameters in one statement is 32,766 (999 before 3.32).
_KEYS_PER_SELECT = 500

INSERT_JOB = (
    "INSERT INTO jobs(id, job_type, status, params, source, parent_id, result, created_at, "
    "started_at, finished_at) VALUES(?,?,'pending',?,?,NULL,NULL,?,NULL,NULL)"
)
INSERT_INBOX = (
    "INSERT INTO inbox(dedupe_key, source, action, payload, job_id, task_id, tag, "
    "received_at, expires_at) VALUES(?,?,?,?,?,?,?,?,?)"
)


class Fallback(Exception):
    """This group needs the per-delivery path (its outcome would differ here)."""


def _seen(db: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[str | None, float]]:
    seen: dict[str, tuple[str | None, float]] = {}
    for start in range(0, len(keys), _KEYS_PER_SELECT):
        chunk = keys[start : start + _KEYS_PER_SELECT]
        rows = db.execute(
            "SELECT dedupe_key, job_id, expires_at FROM inbox WHERE dedupe_key IN "
            f"({','.join('?' * len(chunk))})",
            chunk,
        )
        seen.update((key, (job_id, expires_at)) for key, job_id, expires_at in rows)
    return seen


def persist_group_in(
    db: sqlite3.Connection, items: list[dict[str, Any]], now: float
) -> list[Persisted]:
    """Every item of ``items`` (the keyword arguments of ``persist_inbound``) persisted inside
    the caller's transaction, as ``persist_inbound_in`` would one after the other."""
    keys = list({item["dedupe_key"] for item in items if item.get("dedupe_key")})
    seen = _seen(db, keys) if keys else {}
    created = iso(now)
    expired: list[tuple[str]] = []
    jobs: list[tuple[Any, ...]] = []
    inbox: list[tuple[Any, ...]] = []
    # per item: ("new", index into inbox) or ("dup", job_id)
    outcome: list[tuple[str, Any]] = []
    first_in_group: dict[str, int] = {}
    for item in items:
        key = item.get("dedupe_key") or None
        window = item["window_seconds"]
        if not isinstance(window, int | float):
            raise Fallback  # the per-delivery path raises for this item alone
        if key is not None:
            if key in first_in_group:
                earlier = inbox[first_in_group[key]]
                if earlier[8] <= now:  # the earlier one is already past its window
                    raise Fallback
                outcome.append(("dup", earlier[4]))
                continue
            found = seen.get(key)
            if found is not None and found[1] > now:
                outcome.append(("dup", found[0]))
                continue
            if found is not None:  # the window passed: this one is a new request
                expired.append((key,))
        job, job_id = item.get("job"), item.get("job_id")
        if job is not None:
            job_id = new_id()
            jobs.append((job_id, job[0], dumps(job[1] or {}), item["source"], created))
        if key is not None:
            first_in_group[key] = len(inbox)
        outcome.append(("new", len(inbox)))
        inbox.append(
            (
                key,
                item["source"],
                item["action"],
                dumps(item["payload"]),
                job_id,
                item.get("task_id"),
                item.get("tag"),
                item["received_at"],
                now + max(window, 0),
            )
        )
    if expired:
        db.executemany("DELETE FROM inbox WHERE dedupe_key=?", expired)
    if jobs:
        db.executemany(INSERT_JOB, jobs)
    first_seq = 0
    if inbox:
        db.executemany(INSERT_INBOX, inbox)
        # One statement in one write transaction: AUTOINCREMENT gave consecutive seqs.
        first_seq = db.execute("SELECT last_insert_rowid()").fetchone()[0] - len(inbox) + 1
    return [
        Persisted(inbox[value][4], False, first_seq + value)
        if kind == "new"
        else Persisted(value, True, None)
        for kind, value in outcome
    ]
