"""The one registry of job types: every job the runner runs is a stage listed here.

- The seven pipeline stages (:data:`PIPELINE`): discover -> enrich -> score -> draft -> send,
  then follow-ups and reply checks on their own schedule. ``POST /api/jobs/{stage}``,
  ``hub run`` and a Make.com action may start any of them.
- ``import_rows``, ``row_changed`` and ``tick``: Make.com actions that are not pipeline stages
  but run durably through the runner all the same (:data:`MAKE_ACTIONS`).
- ``send_slice``: some rows of a dry-run send, queued by the ``send`` stage itself; the one type
  of which several jobs may run at once (:data:`PARALLEL_TYPES`).

What chains to what is :mod:`hub.jobs.chain`'s; how a stage is called is :mod:`hub.stages.base`.
"""

from __future__ import annotations

from functools import wraps

from hub.errors import BadRequest, HubError
from hub.stages import (
    check_replies,
    discover,
    draft,
    enrich,
    followup,
    import_rows,
    row_changed,
    score,
    send,
    tick,
)
from hub.stages.base import StageContext, StageFn, StageResult
from hub.stages.slices import SLICE_TYPE

PIPELINE = ("discover", "enrich", "score", "draft", "send", "followup", "check_replies")
# What a Make.com scenario may ask for (the ``action`` of a signed webhook).
MAKE_ACTIONS = (*PIPELINE, "import_rows", "row_changed", "tick")
# Job types of which several may run at once, across processes: each job works on its own rows
# (the slices of a dry-run send). Every other type runs one job at a time.
PARALLEL_TYPES = frozenset({SLICE_TYPE})


def _counted(fn: StageFn) -> StageFn:
    """The stage, with the rows its row error boundary caught added to its summary."""

    @wraps(fn)
    async def counted(ctx: StageContext) -> StageResult:
        result = await fn(ctx)
        caught = ctx.rows.errors if ctx._rows is not None else 0
        if caught:
            result.summary["errors"] = result.summary.get("errors", 0) + caught
        return result

    return counted


STAGES: dict[str, StageFn] = {
    job_type: _counted(fn)
    for job_type, fn in (
        ("discover", discover.run),
        ("enrich", enrich.run),
        ("score", score.run),
        ("draft", draft.run),
        ("send", send.run),
        ("followup", followup.run),
        ("check_replies", check_replies.run),
        ("import_rows", import_rows.run),
        ("row_changed", row_changed.run),
        ("tick", tick.run),
        (SLICE_TYPE, send.run_slice),
    )
}


def check_job_type(job_type: str) -> None:
    """Refuse a job type nothing can run, before it is queued."""
    if job_type not in PIPELINE and job_type not in STAGES:
        raise BadRequest(f"unknown job type {job_type!r}; expected one of {PIPELINE}")


def stage_for(job_type: str) -> StageFn:
    fn = STAGES.get(job_type)
    if fn is None:
        raise HubError(
            f"no stage is registered for job type {job_type!r} (not installed in this build)",
            code="stage_missing",
        )
    return fn
