"""Jobs on the status page: running and queued jobs with their progress, recent jobs with
their result or error, and ``GET /events/jobs``, a server-sent event stream of the same.

Progress lives in the jobs table (the runner writes it about four times a second, see
``hub.jobs.runner``), so the stream polls the state DB — which also shows jobs run by the CLI in
another process — and sends a snapshot only when it changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from hub.api.jobs import job_status
from hub.state.jobs import TERMINAL

ACTIVE_LIMIT = 50
RECENT_LIMIT = 15
POLL_SECONDS = 0.25  # the runner's progress throttle: polling faster shows nothing new
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies do not close an idle stream
# A stream ends after this long and the browser reconnects (EventSource does it by itself):
# an open stream would otherwise hold a server that is shutting down (uvicorn waits for it).
STREAM_SECONDS = 10.0
RECONNECT_MS = 500


def summary_text(result: Any) -> str:
    """A job's result as one readable line: ``scored: 30, held: 2``."""
    if result is None or result == {}:
        return ""
    if isinstance(result, dict):
        parts = []
        for key, value in result.items():
            if isinstance(value, dict | list):
                value = json.dumps(value, separators=(",", ":"), default=str)
            parts.append(f"{key}: {value}")
        text = ", ".join(parts)
    else:
        text = str(result)
    return text if len(text) <= 300 else text[:299] + "…"


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """The API's job shape (``hub.api.jobs.job_status``), plus what the page shows."""
    status = job_status(job)
    return {
        "id": status["job_id"],
        "job_type": status["job_type"],
        "status": status["status"],
        "waiting": bool(job.get("waiting")),
        "cancel_requested": bool(job.get("cancel_requested")),
        "processed": status["progress"]["processed"],
        "total": status["progress"]["total"],
        "percent": status["progress"]["percent"],
        "summary": summary_text(status["result"]),
        "error": status["error"] or "",
        "source": status["source"],
        "created_at": status["created_at"],
        "finished_at": status["finished_at"] or "",
        "cancellable": status["status"] not in TERMINAL,
    }


def jobs_snapshot(state: Any) -> dict[str, list[dict[str, Any]]]:
    running = state.list_jobs(status="running", limit=ACTIVE_LIMIT)
    pending = state.list_jobs(status="pending", limit=ACTIVE_LIMIT)
    latest = state.list_jobs(limit=RECENT_LIMIT * 2)
    recent = [j for j in latest if j["status"] in TERMINAL][:RECENT_LIMIT]
    return {
        "active": [job_view(j) for j in [*running, *pending]],
        "recent": [job_view(j) for j in recent],
    }


def sse(event: str, data: Any) -> str:
    # One "data:" line: json.dumps never emits a raw newline, which would end the field.
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def job_stream(
    state: Any,
    *,
    poll: float = POLL_SECONDS,
    lifetime: float = STREAM_SECONDS,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[str]:
    """Snapshots of the jobs whenever they change, for ``lifetime`` seconds."""
    loop = asyncio.get_running_loop()
    clock = clock or loop.time
    started = clock()
    yield f"retry: {RECONNECT_MS}\n\n"
    last_sent, last_beat = None, started
    while clock() - started < lifetime:
        snapshot = await asyncio.to_thread(jobs_snapshot, state)
        if snapshot != last_sent:
            yield sse("jobs", snapshot)
            last_sent, last_beat = snapshot, clock()
        elif clock() - last_beat >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_beat = clock()
        await asyncio.sleep(poll)
