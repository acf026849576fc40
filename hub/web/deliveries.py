"""Deliveries: the last inbound webhooks and callbacks (with why a refused one was refused) and
the outbound event log with its retries.

The reasons come from ``webhooks`` already free of secrets (a token, signature or key is never
part of one); the page still shortens them, so a long payload error cannot flood it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INBOUND_LIMIT = 200
OUTBOUND_LIMIT = 50
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Inbound:
    at: str
    route: str
    action: str
    verdict: str  # accepted | duplicate | refused
    status: int
    reason: str
    job_id: str


@dataclass(frozen=True)
class Outbound:
    id: str
    event_type: str
    status: str  # pending | delivered | dead | local
    attempts: int
    created_at: float
    next_attempt_at: float | None  # only while pending
    last_status: str  # the last attempt's HTTP status, or its error
    last_error: str


def _short(text: str | None) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def inbound(state: Any, limit: int = INBOUND_LIMIT) -> list[Inbound]:
    return [
        Inbound(
            at=d["at"],
            route=d["route"],
            action=d["action"] or "",
            verdict=d["verdict"],
            status=d["status"],
            reason=_short(d["reason"]),
            job_id=d["job_id"] or "",
        )
        for d in state.list_deliveries(limit)
    ]


def _last_attempts(state: Any, event_ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """The last attempt of each event, in one query (the event queue keeps one row per attempt)."""
    if not event_ids:
        return {}
    marks = ",".join("?" * len(event_ids))
    rows = state.query(
        "SELECT event_id, status_code, error FROM outbox_attempts WHERE seq IN "
        f"(SELECT MAX(seq) FROM outbox_attempts WHERE event_id IN ({marks}) GROUP BY event_id)",
        event_ids,
    )
    return {r["event_id"]: (r["status_code"], r["error"]) for r in rows}


def outbound(state: Any, limit: int = OUTBOUND_LIMIT) -> list[Outbound]:
    events = state.list_events(limit)
    last = _last_attempts(state, [e["id"] for e in events])
    shown = []
    for e in events:
        code, error = last.get(e["id"], (None, None))
        if code is not None:
            last_status = f"HTTP {code}"
        elif error:
            last_status = _short(error)
        else:
            last_status = "not tried yet" if e["status"] == "pending" else "—"
        shown.append(
            Outbound(
                id=e["id"],
                event_type=e["event_type"],
                status=e["status"],
                attempts=e["attempts"],
                created_at=e["created_at"],
                next_attempt_at=e["next_attempt_at"] if e["status"] == "pending" else None,
                last_status=last_status,
                last_error=_short(e["last_error"]),
            )
        )
    return shown
