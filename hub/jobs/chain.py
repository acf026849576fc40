"""What a job leads to when it ends: its successor in the chain, and its outbound event.

- A completed job's successor follows :data:`CHAIN` (discover/import -> enrich -> score ->
  draft -> send when auto-send is on) unless its result names one (:class:`ChainTo`); a
  finished job also gets a ``job.completed``/``job.failed`` event.

Decisions only: the runner (``hub.jobs.runner``) writes the successor and the event in the same
transaction that marks the job finished. Which stage runs a job is :mod:`hub.stages.registry`'s.
"""

from __future__ import annotations

from typing import Any

from hub.stages.base import ChainTo, StageResult

# discover -> enrich -> score -> draft (-> send with auto-send). import_rows (rows that
# arrive by webhook) chains like discovery.
CHAIN = {"discover": "enrich", "import_rows": "enrich", "enrich": "score", "score": "draft"}
# Params a chained job inherits from its parent.
INHERITED_PARAMS = ("auto_send", "prospect_ids")


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
