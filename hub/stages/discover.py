"""The ``discover`` stage: keywords x locations -> DataForSEO -> new pending rows.

Params: ``keywords`` (list or comma-separated), ``locations`` (default United States),
``max_results`` (1-700, DataForSEO's ``depth``), ``live`` (answer now via live/advanced instead
of task_post + callbacks), ``language`` (default ``en``).

Without ``live`` the stage posts the tasks with signed postback/pingback URLs and returns
``waiting``: the job finishes when the last task's callback (or the recovery sweep) is in.
Without DataForSEO credentials the job fails with a message naming DATAFORSEO_LOGIN.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hub.discovery.exclusions import Exclusions
from hub.discovery.ingest import append_rows, task_rows
from hub.discovery.plan import NO_DATAFORSEO, DiscoveryRequest, NotConfigured
from hub.discovery.tasks import task_book
from hub.errors import ProviderError
from hub.providers.dataforseo import OK, TASK_CREATED, explain
from hub.stages.base import StageContext, StageResult
from hub.state.keys import secret_keys_for
from webhooks.dataforseo import dataforseo_callback_urls

LIVE_CONCURRENCY = 4  # DataForSEO allows 30 simultaneous live requests; stay well below


async def _run_live(ctx: StageContext, request: DiscoveryRequest) -> StageResult:
    serp = ctx.services.serp
    exclusions = Exclusions.from_settings(ctx.settings)
    tasks = request.tasks(ctx.job_id)
    gate = asyncio.Semaphore(LIVE_CONCURRENCY)
    done = 0

    async def one(task: dict[str, Any]) -> dict[str, Any]:
        nonlocal done
        async with gate:
            ctx.check_cancelled()
            answer = await serp.live(task)
        done += 1
        ctx.report_progress(done, len(tasks))
        return answer

    answers = await asyncio.gather(*(one(t) for t in tasks))
    rows: list[dict[str, str]] = []
    found = excluded = refused = 0
    failures: list[str] = []
    for answer in answers:
        for task in answer.get("tasks") or []:
            if task.get("status_code") != OK:
                failures.append(explain(task.get("status_code"), task.get("status_message", "")))
                continue
            serp_rows = task_rows(task, ctx.job_id, exclusions, max_results=request.max_results)
            rows.extend(serp_rows.rows)
            found += serp_rows.found
            excluded += len(serp_rows.excluded)
            refused += len(serp_rows.refused)
    if failures and not rows and len(failures) == len(tasks):
        raise ProviderError("DataForSEO", f"every live search failed; first: {failures[0]}")
    report = await asyncio.to_thread(append_rows, ctx.store, rows)
    summary = {
        "mode": "live",
        "tasks": len(tasks),
        "found": found,
        "added": len(report.added),
        "duplicates": len(report.duplicates),
        "excluded": excluded,
    }
    if refused:  # results whose host is an IP literal or junk: never prospects
        summary["bad_domain"] = refused
    if failures:
        summary["failures"] = failures[:20]
    return StageResult(summary=summary)


async def _post_tasks(ctx: StageContext, request: DiscoveryRequest) -> StageResult:
    settings = ctx.settings
    # The same keys the webhook routes verify with (HUB_SECRET_KEYS, else the embedded key).
    keys = secret_keys_for(settings)
    callback = dataforseo_callback_urls(settings.base_url(), ctx.job_id, keys)
    urls = {"postback_url": callback.postback_url, "pingback_url": callback.pingback_url}
    book = task_book(ctx.services)
    await asyncio.to_thread(book.record_job, ctx.job_id, {"max_results": request.max_results})
    tasks = request.tasks(ctx.job_id, **urls)
    answered = await ctx.services.serp.task_post(tasks)
    created, refused = 0, []
    for (keyword, location), task in zip(request.pairs(), answered, strict=False):
        task_id = str(task.get("id") or "")
        if task.get("status_code") == TASK_CREATED and task_id:
            await asyncio.to_thread(book.record_task, task_id, ctx.job_id, keyword, location)
            created += 1
        else:
            error = explain(task.get("status_code"), str(task.get("status_message") or ""))
            refused.append(f"{keyword} / {location}: {error}")
            # Kept as a failed task so the job's final summary names it.
            await asyncio.to_thread(
                book.record_task,
                task_id or f"refused-{ctx.job_id}-{len(refused)}",
                ctx.job_id,
                keyword,
                location,
                status="failed",
                error=error,
            )
    if not created:
        first = refused[0] if refused else "no task was accepted"
        raise ProviderError("DataForSEO", f"no task was created; {first}")
    summary: dict[str, Any] = {"mode": "task_post", "tasks_posted": created}
    if refused:
        summary["tasks_refused"] = refused[:20]
    return StageResult(summary=summary, waiting=True)


async def run(ctx: StageContext) -> StageResult:
    request = DiscoveryRequest.from_params(ctx.params)
    if ctx.services.serp is None:
        raise NotConfigured(NO_DATAFORSEO)
    if request.live:
        return await _run_live(ctx, request)
    return await _post_tasks(ctx, request)
