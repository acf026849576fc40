"""The REST API under ``/api`` (bearer keys), plus ``/healthz``, ``/readyz`` and ``/openapi.json``.

One module per resource (``jobs``, ``prospects``, ``stats``); errors become JSON in one place
(``hub.api.errors``); authentication wraps the whole mount (``hub.api.auth``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from hub.api import jobs, prospects, row_edits, stats
from hub.api.auth import BearerAuth
from hub.api.errors import EXCEPTION_HANDLERS, error_response
from hub.api.openapi import openapi

__all__ = ["EXCEPTION_HANDLERS", "api_routes"]


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks: dict[str, str] = {}
    for name, probe in (("store", services.store.header), ("state", services.state.ping)):
        try:
            await asyncio.wait_for(asyncio.to_thread(probe), timeout=10)
            checks[name] = "ok"
        except Exception as exc:  # the type is enough; a message could carry a path or id
            checks[name] = f"unreachable ({type(exc).__name__})"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def api_not_found(request: Request) -> JSONResponse:
    return error_response(
        404, "not_found", f"no such endpoint: {request.method} {request.url.path}"
    )


def api_routes(api_keys: Callable[[], list[str]]) -> list[BaseRoute]:
    api = Mount(
        "/api",
        routes=[*jobs.routes, *row_edits.routes, *prospects.routes, *stats.routes],
        middleware=[Middleware(BearerAuth, keys=api_keys)],
    )
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        api,
    ]
