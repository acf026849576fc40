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

from hub.cli.common import console, exit_with, settings_or_exit
from hub.config.identities import identity_secrets
from hub.jobs.background import Background
from hub.jobs.runner import JobRunner
from hub.redact import RedactingFilter, known_secrets
from hub.services import Services
from hub.startup import StartupError, prepare


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
    secrets = known_secrets(settings) + identity_secrets(settings)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(levelname)s %(name)s: %(message)s",
        force=True,  # replaces the redacted last-resort handler of hub.cli.main
    )
    for handler in logging.getLogger().handlers:  # no secret in any line it writes
        handler.addFilter(RedactingFilter(secrets=secrets))
    try:  # database, store, sign-in: each failure one line, within HUB_STARTUP_TIMEOUT
        services = prepare(settings, extra_secrets=secrets)
    except StartupError as exc:
        exit_with(str(exc), exc.exit_code)
    console.print("Outreach Hub worker: running jobs from the shared database")
    asyncio.run(run_worker(services))


async def run_worker(services: Services) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
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
