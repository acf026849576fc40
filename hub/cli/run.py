"""``hub run <stage>``: run one pipeline stage now, in this process, through the job runner;
``hub jobs``: list recent jobs.

The job is recorded in the state DB like any other and takes its type's lease, so it never
runs beside the server's job of the same type (it waits for it). No successor is chained: the
command does exactly the stage it names.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import console, err_console, settings_or_exit

app = typer.Typer(help="Run one pipeline stage now, in this process.", no_args_is_help=True)

# command name -> job type
STAGE_COMMANDS = {
    "enrich": "enrich",
    "score": "score",
    "draft": "draft",
    "send": "send",
    "followup": "followup",
    "check-replies": "check_replies",
}


async def run_stage(services: Any, job_type: str, params: dict[str, Any]) -> dict[str, Any]:
    from hub.jobs.runner import JobRunner

    runner = JobRunner(services)
    services.runner = runner
    with Progress(
        TextColumn(f"{job_type}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task(job_type, total=None)

        def on_progress(processed: int, total: int) -> None:
            progress.update(task, completed=processed, total=total or None)

        return await runner.run_inline(job_type, params, on_progress)


def summary_table(job: dict[str, Any]) -> Table:
    table = Table(title=f"{job.get('job_type')} job {job.get('id')}", show_header=False)
    table.add_row("status", str(job.get("status")))
    table.add_row("rows", f"{job.get('processed', 0)} / {job.get('total', 0)}")
    for key, value in (job.get("result") or {}).items():
        table.add_row(str(key), str(value))
    if job.get("error"):
        table.add_row("error", str(job["error"]))
    return table


def _command(job_type: str):
    def command(
        max_prospects: int = typer.Option(None, "--max", min=1, help="At most this many rows."),
        auto_send: bool = typer.Option(False, "--auto-send", help="Pass auto_send to the stage."),
        prospect_ids: list[str] = typer.Option(None, "--id", help="Only this hub_id (repeat)."),
    ) -> None:
        from hub.app import build_services

        params: dict[str, Any] = {}
        if max_prospects:
            params["max_prospects"] = max_prospects
        if auto_send:
            params["auto_send"] = True
        if prospect_ids:
            params["prospect_ids"] = list(prospect_ids)
        from hub.state.keys import adopt_secret_keys

        settings = settings_or_exit()
        adopt_secret_keys(settings)  # unsubscribe links need the same key as the server
        services = build_services(settings)
        try:
            services.store.ensure_schema()
            job = asyncio.run(run_stage(services, job_type, params))
        finally:
            services.close()
        console.print(summary_table(job))
        if job.get("status") != "completed":
            raise typer.Exit(1)

    command.__doc__ = f"Run the {job_type} stage over the eligible rows now."
    return command


for _name, _job_type in STAGE_COMMANDS.items():
    app.command(_name)(_command(_job_type))


def jobs(
    job_type: str = typer.Option(None, "--type", help="Only this job type."),
    status: str = typer.Option(None, "--status", help="pending|running|completed|failed|cancelled"),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
) -> None:
    """List recent jobs (newest first)."""
    from hub.state.factory import open_state

    settings = settings_or_exit()
    state = open_state(settings)
    try:
        found = state.list_jobs(job_type, status, limit=limit)
    finally:
        state.close()
    table = Table("id", "type", "status", "rows", "created", "source", "error")
    for job in found:
        table.add_row(
            job["id"],
            job["job_type"],
            job["status"] + (" (waiting)" if job["waiting"] else ""),
            f"{job['processed']}/{job['total']}",
            job["created_at"] or "",
            job["source"],
            (job["error"] or "")[:60],
        )
    console.print(table if found else "no jobs yet")
