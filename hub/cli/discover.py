"""``hub discover "art blog" --location "United States" [--live] [--max N]``.

Runs the discover stage in this process through the job runner (recorded like any job). With
``--live`` DataForSEO answers at once; otherwise the tasks are posted with callbacks to the
hub's public URL and this command also polls ``tasks_ready`` itself, so it works whether or not
a server is there to receive the callbacks. Ends with a table per keyword and location.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import typer
from rich.table import Table

from hub.cli.common import console, err_console, progress_bar, settings_or_exit
from hub.discovery.plan import NO_DATAFORSEO


async def _wait_for_tasks(services, runner, job_id: str, wait_seconds: float, poll: float):
    from hub.discovery.sweep import collect_ready
    from hub.discovery.tasks import task_book

    book = task_book(services)
    total = len(book.job_tasks(job_id))
    deadline = time.monotonic() + wait_seconds
    with progress_bar("waiting for DataForSEO", total) as advance:
        done = sum(1 for t in book.job_tasks(job_id) if t.status != "posted")
        advance(done)
        while done < total and time.monotonic() < deadline:
            await collect_ready(services, runner, job_id)
            now_done = sum(1 for t in book.job_tasks(job_id) if t.status != "posted")
            advance(now_done - done)
            done = now_done
            if done < total:
                await asyncio.sleep(poll)  # DataForSEO takes seconds to minutes per task
    return runner.get(job_id) or {}


async def _discover(services, params: dict[str, Any], wait_seconds: float, poll: float):
    from hub.cli.run import run_stage

    job = await run_stage(services, "discover", params)
    if job.get("status") == "running" and job.get("waiting"):
        job = await _wait_for_tasks(services, services.runner, job["id"], wait_seconds, poll)
    return job


def _task_table(services, job_id: str) -> Table | None:
    from hub.discovery.tasks import task_book

    tasks = task_book(services).job_tasks(job_id)
    if not tasks:
        return None
    table = Table("keyword", "location", "status", "found", "added", "duplicates", "excluded")
    for t in tasks:
        status = t.status if not t.error else f"{t.status}: {t.error}"
        table.add_row(
            t.keyword, t.location, status, str(t.found), str(t.added), str(t.duplicates),
            str(t.excluded),
        )  # fmt: skip
    return table


def discover(
    keywords: list[str] = typer.Argument(..., help='Search terms, e.g. "art blog".'),
    locations: list[str] = typer.Option(
        None, "--location", help="Where to search (repeat); default United States."
    ),
    live: bool = typer.Option(False, "--live", help="Answer now (live/advanced), no callbacks."),
    max_results: int = typer.Option(100, "--max", min=1, max=700, help="Results per search."),
    wait_minutes: float = typer.Option(30, "--wait-minutes", help="How long to wait for tasks."),
    poll_seconds: float = typer.Option(10, "--poll-seconds", hidden=True),
) -> None:
    """Find prospects with DataForSEO and add them as pending rows (de-duplicated by domain)."""
    from hub.app import build_services
    from hub.cli.run import summary_table

    settings = settings_or_exit()
    if not settings.uses_dataforseo:
        err_console.print(f"[red]cannot discover:[/red] {NO_DATAFORSEO}")
        raise typer.Exit(2)
    params: dict[str, Any] = {"keywords": keywords, "max_results": max_results, "live": live}
    if locations:
        params["locations"] = locations
    services = build_services(settings)
    try:
        services.store.ensure_schema()
        job = asyncio.run(_discover(services, params, wait_minutes * 60, poll_seconds))
        tasks = _task_table(services, job.get("id", ""))
    finally:
        services.close()
    console.print(summary_table(job))
    if tasks is not None:
        console.print(tasks)
    if job.get("status") == "running":
        console.print(
            "still waiting for DataForSEO: the server (or the next run) collects the rest"
        )
    elif job.get("status") != "completed":
        raise typer.Exit(1)
