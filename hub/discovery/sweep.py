"""Recovering DataForSEO tasks whose postback/pingback never came (part of the periodic tick).

DataForSEO gives a callback one try with a 10 s timeout and never retries, so a restart or a
network blip loses it. Tasks still ``posted`` after ``HUB_DISCOVERY_SWEEP_MINUTES`` are looked
up: ``tasks_ready`` says which are finished, ``task_get`` fetches them, and they go through the
same path a postback takes (so the job finishes the same way). A task ``tasks_ready`` does not
list is still fetched once it is much older (``tasks_ready`` only lists tasks not collected yet).
"""

from __future__ import annotations

import asyncio
import logging
import time

from hub.discovery.callbacks import finish_if_complete, handle_task_answer
from hub.discovery.tasks import task_book
from hub.errors import ProviderError
from hub.services import JobQueue

log = logging.getLogger(__name__)

# Past this many sweep periods a task is fetched even if tasks_ready does not list it.
FETCH_ANYWAY_FACTOR = 6
MAX_FETCHES_PER_SWEEP = 200


async def sweep_lost_tasks(
    services, runner: JobQueue, *, older_than_seconds: float | None = None
) -> int:
    """Fetch overdue tasks; returns how many tasks were ingested or marked failed."""
    book = task_book(services)
    # Jobs whose last task came in just before a crash, before the job was finished.
    for job_id in await asyncio.to_thread(book.unfinished_jobs_without_open_tasks):
        await finish_if_complete(services, runner, job_id)
    if services.serp is None:
        return 0
    if older_than_seconds is None:
        older_than_seconds = services.settings.discovery_sweep_minutes * 60
    overdue = await asyncio.to_thread(book.overdue, older_than_seconds)
    if not overdue:
        return 0
    try:
        ready = {entry.get("id") for entry in await services.serp.tasks_ready()}
    except ProviderError as exc:
        log.warning("tasks_ready failed during the sweep: %s", exc)
        ready = set()
    oldest_cutoff = older_than_seconds * FETCH_ANYWAY_FACTOR
    now = time.time()
    recovered = 0
    for record in overdue[:MAX_FETCHES_PER_SWEEP]:
        if record.task_id not in ready and now - record.posted_at < oldest_cutoff:
            continue
        try:
            answer = await services.serp.task_get(record.task_id)
        except ProviderError as exc:
            log.warning("task_get %s failed during the sweep: %s", record.task_id, exc)
            continue
        if await handle_task_answer(services, runner, record.job_id, record.task_id, answer):
            recovered += 1
    return recovered


async def collect_ready(services, runner: JobQueue, job_id: str) -> int:
    """Fetch the tasks of one job that DataForSEO lists as ready (``hub discover`` polls this
    when no server is there to receive the callbacks). Returns how many changed state."""
    book = task_book(services)
    waiting = {
        t.task_id for t in await asyncio.to_thread(book.job_tasks, job_id) if t.status == "posted"
    }
    if not waiting:
        return 0
    ready = {entry.get("id") for entry in await services.serp.tasks_ready()}
    changed = 0
    for task_id in sorted(waiting & ready):
        answer = await services.serp.task_get(task_id)
        if await handle_task_answer(services, runner, job_id, task_id, answer):
            changed += 1
    return changed
