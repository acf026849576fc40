"""The app factory: the one place where store, state, runner, routes and webhooks meet.

Start-up (lifespan): build the services (store, durable state, providers), migrate the sheet's
header, start the background work (``hub.background``: the job runner, which resumes unfinished
jobs, the tick loop, the outbound event delivery loop) unless ``worker=False`` (``hub serve
--no-worker``), and re-process DataForSEO callbacks persisted but not processed before a crash.
Routes: ``/healthz``, ``/readyz``, ``/openapi.json``, ``/api`` (bearer keys), the webhook routes
(``/webhooks/...``, capability tokens signed with ``HUB_SECRET_KEYS`` or the embedded key file),
and ``/u/{token}`` (unsubscribe) when ``hub.unsubscribe`` is part of the build.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

import hub.inbox  # registers the internal import_rows / row_changed jobs
import hub.tick  # noqa: F401 - registers the internal tick job
from hub.api import EXCEPTION_HANDLERS, api_routes
from hub.background import Background
from hub.config import Settings, load_settings
from hub.inbox import Inbox
from hub.jobs.runner import JobRunner
from hub.services import Services, build_services
from hub.state.factory import open_state
from hub.state.keys import adopt_secret_keys, secret_keys_for
from sheets.csvio import import_csv
from webhooks.events import Acceptance, Delivery, InboundEvent
from webhooks.routes import WebhookConfig, webhook_routes

log = logging.getLogger("hub.app")

__all__ = ["create_app", "load_demo_prospects", "secret_keys_for"]


def load_demo_prospects(services: Services) -> int:
    """Fill an empty store with the bundled demo prospects (quickstart only)."""
    if services.store.rows():
        return 0
    demo = resources.files("hub.data").joinpath("demo_prospects.csv")
    with resources.as_file(demo) as path:
        return len(import_csv(services.store, path).added)


class _LiveServices:
    """Stands in for the services while routes are built (they exist only once the lifespan
    has started); attribute access is forwarded to the real ones at request time."""

    def __init__(self, app: Starlette):
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app.state.services, name)


def _optional_routes(module: str, services: Any) -> list[BaseRoute]:
    try:
        factory = importlib.import_module(module).routes
    except (ImportError, AttributeError):
        log.info("%s is not part of this build; its routes are not mounted", module)
        return []
    return list(factory(services))


# Young-generation collections: CPython's 700 allocations let a collection run every ~16
# webhooks, each walking every object of the requests in flight (and promoting them, which
# fed the full collections). 10,000 keeps cyclic garbage to a few MB at most.
GC_YOUNG_THRESHOLD = 10_000


def tune_gc_for_serving() -> None:
    """Once per process, after start-up: freeze the start-up heap and collect young objects
    less often.

    Why (webhook benchmark, py-spy and gc callbacks): every full collection walked the whole
    start-up heap again (modules, provider clients, pydantic schemas): 11 in 10 s under load,
    44 ms each, every connection stalled meanwhile; with the young collections the garbage
    collector took 8% of the event loop. Frozen objects are never collected; they live as
    long as the process anyway. Once per process: a test process that starts many apps
    freezes only what the first one left.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
        young, older, oldest = gc.get_threshold()
        gc.set_threshold(max(GC_YOUNG_THRESHOLD, young), older, oldest)


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, worker: bool = True
) -> Starlette:
    settings = settings or load_settings()
    # read (or created) once, and adopted into settings so every module signs alike
    keys = adopt_secret_keys(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # An edge runs no jobs: no wake-ups to listen for (every group commit NOTIFYs).
        built = services or build_services(settings, listen=worker)
        if built.state is None:
            built.state = open_state(settings, listen=worker)
        await asyncio.to_thread(built.store.ensure_schema)
        if settings.load_demo:
            await asyncio.to_thread(load_demo_prospects, built)
        runner = JobRunner(built)
        built.runner = runner
        inbox = Inbox(built, runner)
        app.state.services, app.state.runner, app.state.inbox = built, runner, inbox
        # Without the worker this process is an edge: it persists deliveries and queues their
        # jobs (runner.submit), and `hub worker` processes run them.
        background = Background(built, runner) if worker else None
        if background is not None:
            await background.start()
        await inbox.resume_unprocessed()
        tune_gc_for_serving()
        try:
            yield
        finally:
            if background is not None:
                await background.stop()
            await inbox.drain()
            if services is None:
                built.close()

    async def accept(event: InboundEvent) -> Acceptance:
        return await app.state.inbox.accept(event)

    def record(delivery: Delivery) -> None:
        app.state.inbox.record(delivery)

    webhook_config = WebhookConfig(
        secret_keys=lambda: keys,
        require_signature=settings.require_signature,
        max_body_bytes=settings.max_body_bytes,
    )
    app = Starlette(lifespan=lifespan, exception_handlers=EXCEPTION_HANDLERS)
    routes = [
        # Webhooks first: they are most of the traffic, and routes are tried in order.
        *webhook_routes(webhook_config, accept, record),
        *api_routes(lambda: settings.api_keys),
        *_optional_routes("hub.unsubscribe", _LiveServices(app)),
        *_optional_routes("hub.web.routes", settings),  # the status page (GET /)
    ]
    app.router.routes.extend(routes)
    app.state.secret_keys = keys
    return app
