"""The work a hub process does besides answering HTTP: the job runner, the periodic tick (with
the DataForSEO sweep) and outbound event delivery.

``hub serve`` runs it beside the web service; ``hub serve --no-worker`` does not (an edge that
only accepts and persists); ``hub worker`` runs only this. With PostgreSQL any number of each
share one hub: jobs are claimed once, and the tick runs once per period across them all.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hub.jobs.runner import JobRunner
from hub.providers.events_out import EventDelivery
from hub.stages.tick import tick_loop


class Background:
    def __init__(self, services: Any, runner: JobRunner):
        self.services = services
        self.runner = runner
        self.delivery = EventDelivery.from_settings(services.state, services.settings)
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        await self.runner.start()
        minutes = self.services.settings.tick_minutes
        self._tasks = [
            asyncio.create_task(tick_loop(self.services, self.runner, minutes)),
        ]
        if self.delivery is not None:
            self._tasks.append(asyncio.create_task(self.delivery.run()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.runner.stop()
        if self.delivery is not None:
            await self.delivery.aclose()
