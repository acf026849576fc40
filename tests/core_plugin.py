"""Test-only stages for the runner tests: real stage-shaped work over the local store.

A *marking stage* selects the rows whose marker column is empty (idempotent by row state, like
every real stage), works in chunks, writes each chunk in ONE ``store.update`` that increments
the marker (so a row processed twice reads "2"), checks for cancellation between chunks, and
optionally appends ``<column> <hub_id>`` lines to a log after each chunk (to spot a row handled
by two runs). ``python -m tests.core_plugin serve --port N`` is ``hub serve`` with these stages
registered over enrich and score (the restart test runs it as a subprocess).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub.stages.base import StageContext, StageResult
from hub.stages.registry import STAGES

MARKERS = {
    "enrich": "email_status",
    "score": "score",
    "draft": "draft_subject",
    "send": "message_id",
    "followup": "followups_sent",
    "check_replies": "reply_snippet",
}


class Tracker:
    """Counts how many jobs of each type run at once (the runner allows one per type)."""

    def __init__(self) -> None:
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.peak_total = 0
        self.runs: list[str] = []

    @contextlib.contextmanager
    def running(self, job_type: str, job_id: str) -> Iterator[None]:
        self.active[job_type] += 1
        self.runs.append(job_id)
        self.peak[job_type] = max(self.peak[job_type], self.active[job_type])
        self.peak_total = max(self.peak_total, sum(self.active.values()))
        try:
            yield
        finally:
            self.active[job_type] -= 1


def marking_stage(
    column: str,
    *,
    chunk: int = 10,
    delay: float = 0.0,
    chain: bool = False,
    log_path: Path | None = None,
    tracker: Tracker | None = None,
    gate: asyncio.Event | None = None,
):
    async def run(ctx: StageContext) -> StageResult:
        with tracker.running(ctx.job_type, ctx.job_id) if tracker else contextlib.nullcontext():
            ids = set(ctx.params.get("prospect_ids") or [])
            limit = ctx.params.get("max_prospects")

            def eligible(row: dict[str, str]) -> bool:
                return not row.get(column, "") and (not ids or row.get("hub_id") in ids)

            rows = await asyncio.to_thread(ctx.store.select, eligible, limit)
            done = 0
            ctx.report_progress(0, len(rows))
            for start in range(0, len(rows), chunk):
                ctx.check_cancelled()
                if gate is not None:  # the test decides when each chunk may proceed
                    await gate.wait()
                if delay:
                    await asyncio.sleep(delay)  # stands in for provider latency
                batch = rows[start : start + chunk]
                changes = {r["hub_id"]: {column: str(_int(r.get(column)) + 1)} for r in batch}
                await asyncio.to_thread(ctx.store.update, changes)
                if log_path is not None:
                    lines = "".join(f"{column} {r['hub_id']}\n" for r in batch)
                    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    try:
                        os.write(fd, lines.encode())
                    finally:
                        os.close(fd)
                done += len(batch)
                ctx.report_progress(done, len(rows))
            return StageResult(summary={"marked": done, "column": column}, chain=chain)

    return run


def _int(text: Any) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


@contextlib.contextmanager
def registered(stages: dict[str, Any]) -> Iterator[None]:
    """Put test stages in ``STAGES`` for the duration, then restore the real ones."""
    saved = {name: STAGES.get(name) for name in stages}
    STAGES.update(stages)
    try:
        yield
    finally:
        for name, fn in saved.items():
            if fn is None:
                STAGES.pop(name, None)
            else:
                STAGES[name] = fn


def _serve(argv: list[str]) -> None:
    from hub.cli import app

    data_dir = Path(os.environ["HUB_DATA_DIR"])
    delay = float(os.environ.get("HUB_TEST_MARK_DELAY", "0.02"))
    for job_type in ("enrich", "score"):
        STAGES[job_type] = marking_stage(
            MARKERS[job_type], delay=delay, log_path=data_dir / "marks.log"
        )
    app(["serve", *argv], standalone_mode=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit("usage: python -m tests.core_plugin serve [--port N]")
    _serve(sys.argv[2:])
