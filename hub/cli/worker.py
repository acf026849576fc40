"""``hub worker``: the job runner, the tick and event delivery, without the web service.

Beside ``hub serve --no-worker`` edges, on any number of machines, all on one
``HUB_DATABASE_URL``: jobs are claimed once across them, the tick runs once per period.
Stops on SIGTERM/SIGINT, handing its unfinished jobs back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import typer

from hub.cli.common import console, settings_or_exit
from hub.cli.db import ready_or_exit


def worker() -> None:
    """Run jobs (and the tick, and event delivery) for a hub on PostgreSQL."""
    settings = settings_or_exit()
    if not settings.uses_postgres:
        console.print(
            "[red]hub worker needs HUB_DATABASE_URL:[/red] it runs the jobs other hub "
            "processes queue, which only a shared database can hold (on one machine, "
            "`hub serve` runs its jobs itself)"
        )
        raise typer.Exit(2)
    ready_or_exit(settings)  # the database: reachable, its schema not newer than this hub
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    console.print("Outreach Hub worker: running jobs from the shared database")
    asyncio.run(run_worker(settings))


async def run_worker(settings) -> None:
    from hub.app import build_services
    from hub.jobs.background import Background
    from hub.jobs.runner import JobRunner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    services = await asyncio.to_thread(build_services, settings)
    try:
        await asyncio.to_thread(services.store.ensure_schema)
        runner = JobRunner(services)
        services.runner = runner
        background = Background(services, runner)
        await background.start()
        try:
            await stop.wait()
        finally:
            await background.stop()
    finally:
        services.close()
