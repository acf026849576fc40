"""The app factory: the one place where store, state, runner, routes and webhooks meet."""

from __future__ import annotations

import contextlib
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.config import Settings, load_settings
from hub.services import Services, build_services
from sheets.csvio import import_csv


def load_demo_prospects(services: Services) -> int:
    """Fill an empty store with the bundled demo prospects (quickstart only)."""
    if services.store.rows():
        return 0
    demo = resources.files("hub.data").joinpath("demo_prospects.csv")
    with resources.as_file(demo) as path:
        return len(import_csv(services.store, path).added)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        built = services or build_services(settings)
        built.store.ensure_schema()
        if settings.load_demo:
            load_demo_prospects(built)
        app.state.services = built
        try:
            yield
        finally:
            if services is None:
                built.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)
