"""The app factory and composition root: the one place where store, state, providers, runner,
routes and webhooks meet (:func:`build_services` fills the plain ``Services`` container).

Start-up (lifespan): build the services (store, durable state, providers), migrate the sheet's
header, start the background work (``hub.jobs.background``: the job runner, which resumes unfinished
jobs, the tick loop, the outbound event delivery loop) unless ``worker=False`` (``hub serve
--no-worker``), and re-process DataForSEO callbacks persisted but not processed before a crash.
Routes: ``/healthz``, ``/readyz``, ``/openapi.json``, ``/api`` (bearer keys), the webhook routes
(``/webhooks/...``, capability tokens signed with ``HUB_SECRET_KEYS`` or the embedded key file),
``/u/{token}`` (unsubscribe, ``hub.unsubscribe``) and the status page (``hub.web``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from importlib import resources
from typing import Any

from starlette.applications import Starlette

from hub import unsubscribe
from hub.api import EXCEPTION_HANDLERS, api_routes
from hub.config import Settings, load_settings
from hub.drafting.factory import build_drafter
from hub.enrich import build_enricher
from hub.inbox import Inbox
from hub.jobs.background import Background
from hub.jobs.runner import JobRunner
from hub.mail.factory import build_mailer
from hub.providers.dataforseo import build_serp
from hub.services import Services
from hub.state.factory import open_state
from hub.state.keys import adopt_secret_keys
from hub.web import routes as status_page
from sheets.csvio import import_csv
from sheets.local import LocalStore
from sheets.store import ProspectStore
from webhooks.events import Acceptance, Delivery, InboundEvent
from webhooks.routes import WebhookConfig, webhook_routes

log = logging.getLogger("hub.app")

__all__ = ["build_services", "build_store", "create_app", "load_demo_prospects"]


def load_demo_prospects(services: Services) -> int:
    """Fill an empty store with the bundled demo prospects (quickstart only)."""
    if services.store.rows():
        return 0
    demo = resources.files("hub.data").joinpath("demo_prospects.csv")
    with resources.as_file(demo) as path:
        return len(import_csv(services.store, path).added)


def build_store(settings: Settings) -> ProspectStore:
    """The Google Sheet when ``HUB_SHEET_ID`` is set, else the local store: in PostgreSQL
    when ``HUB_DATABASE_URL`` is set (shared by every process), else in SQLite."""
    # The Google and PostgreSQL backends are imported only when chosen: gspread and psycopg
    # are slow to import, and the embedded default needs neither.
    if settings.uses_google_sheet:
        from sheets.google import GoogleSheetStore

        return GoogleSheetStore.from_settings(settings)
    if settings.uses_postgres:
        from sheets.postgres import PostgresStore

        return PostgresStore(settings.database_url.get_secret_value())
    return LocalStore(settings.local_store_path)


def build_services(settings: Settings, *, store: ProspectStore | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = Services(settings=settings, store=store or build_store(settings))
    services.state = open_state(settings)  # jobs, inbox, events: durable
    services.mailer = build_mailer(settings)
    services.drafter = build_drafter(settings)
    services.serp = build_serp(settings)
    services.enricher = build_enricher(settings)
    return services


class _LiveServices:
    """Stands in for the services while routes are built (they exist only once the lifespan
    has started); attribute access is forwarded to the real ones at request time."""

    def __init__(self, app: Starlette):
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app.state.services, name)


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
        built = services or build_services(settings)
        if built.state is None:
            built.state = open_state(settings)
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
        *unsubscribe.routes(_LiveServices(app)),
        *status_page.routes(settings),  # the status page (GET /)
    ]
    app.router.routes.extend(routes)
    app.state.secret_keys = keys
    return app
