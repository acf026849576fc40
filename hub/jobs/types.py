"""Job types: which stage runs a job of a type, and what a job leads to when it ends.

- Pipeline stages come from ``hub.stages``; jobs that are not stages but must be durable too
  register here with :func:`internal_stage`.
- A completed job's successor follows :data:`CHAIN` (discover/import -> enrich -> score ->
  draft -> send when auto-send is on) unless its result names one (:class:`ChainTo`); a
  finished job also gets a ``job.completed``/``job.failed`` event.
- :func:`open_waiting_job` opens a job for work someone else started.

Decisions only (plus that one insert): the runner (``hub.jobs.runner``) writes the successor and the
event in the same transaction that marks the job finished.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.errors import BadRequest, HubError
from hub.stages.base import JOB_TYPES, STAGES, StageContext, StageResult

# Jobs that are not pipeline stages but run through the runner so they are durable too
# (registered by hub.inbox and hub.tick with :func:`internal_stage`).
INTERNAL_STAGES: dict[str, Callable[[StageContext], Awaitable[StageResult]]] = {}


# Job types of which several may run at once, across processes: each job works on its own rows
# (the slices of a dry-run send, hub.sending.slices). Every other type runs one job at a time.
PARALLEL_TYPES = frozenset({"send_slice"})


def internal_stage(job_type: str):
    def register(fn):
        INTERNAL_STAGES[job_type] = fn
        return fn

    return register


def check_job_type(job_type: str) -> None:
    """Refuse a job type nothing can run, before it is queued."""
    if job_type not in JOB_TYPES and job_type not in INTERNAL_STAGES:
        raise BadRequest(f"unknown job type {job_type!r}; expected one of {JOB_TYPES}")


def stage_for(job_type: str) -> Callable[[StageContext], Awaitable[StageResult]]:
    fn = STAGES.get(job_type) or INTERNAL_STAGES.get(job_type)
    if fn is None:
        raise HubError(
            f"no stage is registered for job type {job_type!r} (not installed in this build)",
            code="stage_missing",
        )
    return fn


# discover -> enrich -> score -> draft (-> send with auto-send). import_rows is the inbox's
# internal job for rows that arrive by webhook: it chains like discovery.
CHAIN = {"discover": "enrich", "import_rows": "enrich", "enrich": "score", "score": "draft"}
# Params a chained job inherits from its parent.
INHERITED_PARAMS = ("auto_send", "prospect_ids")


@dataclass
class ChainTo(StageResult):
    """A result that names its successor explicitly (``row_changed`` -> that row's stage)."""

    next_job: tuple[str, dict[str, Any]] | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def next_job(
    job: dict[str, Any], result: StageResult, *, auto_send: bool
) -> tuple[str, dict] | None:
    """The job to queue after ``job`` completed with ``result``; ``auto_send`` is the
    setting (a draft job's own ``auto_send`` param also turns sending on)."""
    if isinstance(result, ChainTo):
        return result.next_job
    if not result.chain:
        return None
    params = job.get("params") or {}
    successor = CHAIN.get(job["job_type"])
    if job["job_type"] == "draft" and (truthy(params.get("auto_send")) or auto_send):
        successor = "send"
    if successor is None:
        return None
    return successor, {k: params[k] for k in INHERITED_PARAMS if k in params}


def finished_event(
    job: dict[str, Any], status: str, result: Any, error: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The outbound event for a job that ended with ``status`` (none for cancelled jobs)."""
    if status not in ("completed", "failed"):
        return None
    return (
        f"job.{status}",
        {
            "job_id": job["id"],
            "job_type": job["job_type"],
            "status": status,
            "source": job.get("source"),
            "parent_job_id": job.get("parent_id"),
            "result": result,
            "error": error,
        },
    )


def open_waiting_job(
    state: Any,
    job_type: str,
    params: dict[str, Any],
    *,
    source: str,
    summary: dict[str, Any] | None = None,
) -> str:
    """Create a job that starts out waiting for callbacks, as a stage returning
    ``waiting=True`` leaves it: for work someone else started (DataForSEO tasks a Make.com
    scenario posted). No stage ever runs for it; :meth:`JobRunner.finish_job` ends it and
    queues its successor like any other. Synchronous (call it in a worker thread)."""
    with state.tx() as db:
        job_id = state.insert_job_in(
            db, job_type, params, source=source, status="running", result=summary
        )
        # Same columns set_waiting leaves: running, waiting, no lease (so never runnable).
        db.execute("UPDATE jobs SET waiting=1, started_at=created_at WHERE id=?", (job_id,))
    return job_id
