"""Small helpers shared by the state modules: JSON in TEXT columns, timestamps, ids, a job
row as a dict."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds (``2025-01-31T09:00:00.123Z``)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str = "") -> str:
    """32 hex digits, as a uuid4's hex: the milliseconds since the epoch (12), then 80 random
    bits (20).

    Time-ordered so that a new job or event id lands at the end of its UNIQUE index: random
    uuid4 ids put every job of a webhook group commit on a different index page, and writing
    those pages was half the cost of the COMMIT.
    """
    return f"{prefix}{int(time.time() * 1000):012x}{os.urandom(10).hex()}"


def job_from_row(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job_type": row["job_type"],
        "status": row["status"],
        "waiting": bool(row["waiting"]),
        "params": loads(row["params"], {}),
        "source": row["source"],
        "parent_id": row["parent_id"],
        "processed": row["processed"],
        "total": row["total"],
        "result": loads(row["result"]),
        "error": row["error"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "attempts": row["attempts"],
        "cancel_requested": bool(row["cancel_requested"]),
        "lease_owner": row["lease_owner"],
        "lease_expires": row["lease_expires"],
    }
