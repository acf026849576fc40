"""DataForSEO tasks a Make.com scenario posted: one discovery job each, opened on first sight.

The hub accepts results only for tasks it created; otherwise anyone could post rows into the
sheet. The shipped blueprint ``dataforseo-task-post`` has Make post the tasks, with callback
URLs whose token the hub minted for a job id in the ``make-dfs:<label>`` namespace
(``hub scenarios render``). That token is the hub's own grant, so under it a task the hub has
not seen is accepted once the callback shows it is a real SERP task: it is recorded in the task
book, bound to a ``discover`` job (source ``make``) opened for it, waiting, as if the hub had
posted it. From there it takes the normal path: rows appended once, job finished, enrich chained.

- postback: the body (already checked to be task_get-shaped and to hold the task) must name the
  search in the task's ``data.keyword`` and carry a final status; the job's params take the
  keyword and location from ``data``.
- pingback: no body, so the hub must fetch the task with task_get. Without DataForSEO
  credentials that is impossible: refused (409), saying so, and nothing is recorded.
"""

from __future__ import annotations

import logging
from typing import Any

from hub.discovery.ingest import task_query
from hub.discovery.tasks import CALLBACK_GRANT, known_task_job, task_book
from hub.providers.dataforseo import OK, TASK_NOT_READY
from webhooks.dataforseo import PINGBACK_ROUTE, canonical_make_job
from webhooks.events import Refused

log = logging.getLogger(__name__)

MAKE_SOURCE = "make"  # the job's source: DataForSEO tasks posted by a Make.com scenario

CANNOT_FETCH = (
    "the hub cannot fetch the results of a task it did not post without DataForSEO "
    "credentials: set DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD on the hub, or have the Make "
    "scenario post the task with postback_url and postback_data=advanced (the results then "
    "come with the callback)"
)


def callback_job(
    services,
    token_job_id: str,
    task_id: str,
    *,
    source: str,
    payload: Any,
    tag: str | None = None,
) -> str | None:
    """The job a DataForSEO callback belongs to, or None (the caller answers 404).

    A task the token's job posted, or one recorded earlier under the token's Make grant, is
    its job. An unknown task under a Make grant gets a new waiting ``discover`` job. Any other
    unknown task is None. :class:`Refused` says what to fix when a Make-granted callback cannot
    be used. Synchronous: SQLite on both sides (call it in a worker thread).
    """
    book = task_book(services)
    with book.lock:  # two first deliveries of one task open one job
        known = known_task_job(services, token_job_id, task_id)
        if known is not None:
            return known
        grant = canonical_make_job(token_job_id)
        if grant is None or book.get(task_id) is not None:
            return None  # not a Make grant, or a task of another job: the rule is unchanged
        keyword, location, language = _search_of(services, source, payload, task_id)
        params: dict[str, Any] = {
            "keywords": [keyword] if keyword else [],
            "locations": [location] if location else [],
            "dataforseo_task_id": task_id,
            CALLBACK_GRANT: grant,
        }
        if language:
            params["language"] = language
        if tag:
            params["tag"] = tag
        job_id = services.state.open_waiting_job(
            "discover",
            params,
            source=MAKE_SOURCE,
            summary={"mode": MAKE_SOURCE, "tasks_posted": 1},
        )
        book.record_job(job_id, {CALLBACK_GRANT: grant})
        if book.record_task(task_id, job_id, keyword, location):
            log.info("DataForSEO task %s posted by Make: opened discover job %s", task_id, job_id)
            return job_id
    # Another process recorded the task between our look and our write: its job stands.
    services.state.request_cancel(job_id)
    return known_task_job(services, token_job_id, task_id)


def _search_of(services, source: str, payload: Any, task_id: str) -> tuple[str, str, str]:
    """(keyword, location, language) of a Make-posted task, or :class:`Refused`."""
    if source == PINGBACK_ROUTE:
        if services.serp is None:
            raise Refused(409, f"task {task_id}: {CANNOT_FETCH}", code="cannot_fetch_task")
        return "", "", ""  # filled in once task_get answers (callbacks.process_callback)
    task = _task_in(payload, task_id)
    data = task.get("data")
    if not isinstance(data, dict) or not str(data.get("keyword") or "").strip():
        raise Refused(
            422,
            f"task {task_id} in the body has no data.keyword: expected the task_get answer "
            "of a SERP task (postback_data regular or advanced)",
        )
    if data.get("api", "serp") != "serp" or data.get("se_type", "organic") != "organic":
        raise Refused(
            422,
            f"task {task_id} is not a Google organic SERP task (data.api "
            f"{data.get('api')!r}, data.se_type {data.get('se_type')!r})",
        )
    code = task.get("status_code")
    if not isinstance(code, int):
        raise Refused(422, f"task {task_id} in the body has no numeric status_code")
    if code in TASK_NOT_READY:
        raise Refused(422, f"task {task_id} is not finished yet (status_code {code})")
    if code == OK and not isinstance(task.get("result"), list) and services.serp is None:
        raise Refused(409, f"task {task_id} came without results: {CANNOT_FETCH}",
                      code="cannot_fetch_task")  # fmt: skip
    keyword, location = task_query(task)
    return keyword, location, str(data.get("language_code") or "")


def _task_in(payload: Any, task_id: str) -> dict[str, Any]:
    tasks = payload.get("tasks") if isinstance(payload, dict) else None
    for task in tasks or []:
        if isinstance(task, dict) and task.get("id") == task_id:
            return task
    raise Refused(422, f"no task in the body has the id {task_id} given in the URL")
