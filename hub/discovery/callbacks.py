"""Handling a finished DataForSEO task, whichever way it reached us.

A postback carries the ``task_get`` JSON; a pingback only says "done" (we fetch it with
``task_get``); the recovery sweep fetches tasks whose callback never came. All three end in
:func:`handle_task_answer`, which ingests a task once (a second delivery finds it ``done`` and
adds nothing), and finishes the job when its last task is in.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub.discovery.exclusions import Exclusions
from hub.discovery.ingest import append_rows, task_query, task_rows
from hub.discovery.tasks import Counts, TaskBook, task_book
from hub.providers.dataforseo import OK, TASK_NOT_READY, explain
from hub.services import JobQueue

log = logging.getLogger(__name__)


def _find_task(answer: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    for task in answer.get("tasks") or []:
        if isinstance(task, dict) and task.get("id") == task_id:
            return task
    return None


def _ingest_once(services, book: TaskBook, job_id: str, task: dict[str, Any]) -> bool:
    """Synchronous (runs in a worker thread): append the task's rows and mark it done."""
    task_id = task["id"]
    with book.lock:
        record = book.get(task_id)
        if record is None or record.status != "posted":
            return False  # unknown, or already ingested/failed: a duplicate delivery
        params = book.job_params(job_id)
        serp = task_rows(
            task,
            job_id,
            Exclusions.from_settings(services.settings),
            max_results=params.get("max_results"),
        )
        report = append_rows(services.store, serp.rows)
        return book.mark_done(
            task_id,
            Counts(
                found=serp.found,
                added=len(report.added),
                duplicates=len(report.duplicates),
                excluded=len(serp.excluded),
            ),
        )


async def handle_task_answer(
    services, runner: JobQueue, job_id: str, task_id: str, answer: dict[str, Any]
) -> bool:
    """Ingest or fail one task from a task_get-shaped answer. True if the task changed state."""
    book = task_book(services)
    task = _find_task(answer, task_id)
    if task is None:
        log.warning("DataForSEO answer for job %s does not contain task %s", job_id, task_id)
        return False
    code = task.get("status_code")
    if code in TASK_NOT_READY:
        return False  # not finished yet: a later callback or sweep picks it up
    if code != OK:
        changed = await asyncio.to_thread(
            book.mark_failed, task_id, explain(code, str(task.get("status_message") or ""))
        )
    else:
        changed = await asyncio.to_thread(_ingest_once, services, book, job_id, task)
    if changed:
        await finish_if_complete(services, runner, job_id)
    return changed


def job_summary(book: TaskBook, job_id: str) -> tuple[dict[str, Any], str | None]:
    """The job's result, and an error when no task delivered anything."""
    tasks = book.job_tasks(job_id)
    done = [t for t in tasks if t.status == "done"]
    failed = [t for t in tasks if t.status == "failed"]
    summary: dict[str, Any] = {
        "tasks": len(tasks),
        "tasks_done": len(done),
        "tasks_failed": len(failed),
        "found": sum(t.found for t in done),
        "added": sum(t.added for t in done),
        "duplicates": sum(t.duplicates for t in done),
        "excluded": sum(t.excluded for t in done),
    }
    if failed:
        summary["failures"] = [
            {"keyword": t.keyword, "location": t.location, "error": t.error} for t in failed[:20]
        ]
    error = None
    if tasks and not done:
        error = f"every DataForSEO task failed; first: {failed[0].error}"
    return summary, error


async def finish_if_complete(services, runner: JobQueue, job_id: str) -> bool:
    book = task_book(services)
    if not await asyncio.to_thread(book.claim_finish, job_id):
        return False
    summary, error = await asyncio.to_thread(job_summary, book, job_id)
    await runner.finish_job(job_id, summary, error=error)
    return True


async def process_callback(services, runner: JobQueue, event) -> None:
    """Entry point for a DataForSEO postback/pingback ``InboundEvent`` (webhooks.events)."""
    job_id, task_id = event.job_id, event.task_id
    book = task_book(services)
    record = await asyncio.to_thread(book.get, task_id) if task_id else None
    if record is None or record.job_id != job_id:
        log.warning("ignoring a DataForSEO callback for unknown task %s (job %s)", task_id, job_id)
        return
    if record.status != "posted":
        return  # already in: a repeated delivery changes nothing, and costs no task_get
    answer = event.payload if isinstance(event.payload, dict) else {}
    task = _find_task(answer, task_id)
    incomplete = task is None or (task.get("status_code") == OK and task.get("result") is None)
    if event.source == "dataforseo_pingback" or incomplete:
        if services.serp is None:
            log.warning("pingback for task %s but DataForSEO is not configured", task_id)
            return
        answer = await services.serp.task_get(task_id)
    if not record.keyword and (fetched := _find_task(answer, task_id)) is not None:
        # A Make-posted task first seen by its pingback: its search is known only now.
        await asyncio.to_thread(book.fill_query, task_id, *task_query(fetched))
    await handle_task_answer(services, runner, job_id, task_id, answer)
