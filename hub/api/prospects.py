"""``/api/prospects``: list and read rows, enrich by hand, compose or send one row now."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.body import parse
from hub.api.jobs import stage_endpoint
from hub.errors import NotFound
from hub.stages.draft import compose_one
from hub.stages.send_one import send_one


class ListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = Field(None, max_length=64)
    has_email: bool | None = None
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


def matches(row: dict[str, str], query: ListParams) -> bool:
    if query.status and (row.get("outreach_status", "") or "pending") != query.status:
        return False
    return query.has_email is None or bool(row.get("contact_email", "")) == query.has_email


async def list_prospects(request: Request) -> JSONResponse:
    query = await parse(request, ListParams, body=False)
    store = request.app.state.services.store
    rows = await asyncio.to_thread(store.select, lambda row: matches(row, query))
    page = rows[query.offset : query.offset + query.limit]
    return JSONResponse(
        {"prospects": page, "total": len(rows), "limit": query.limit, "offset": query.offset}
    )


async def _row(request: Request) -> dict[str, str]:
    hub_id = request.path_params["hub_id"]
    row = await asyncio.to_thread(request.app.state.services.store.get, hub_id)
    if row is None:
        raise NotFound(f"no prospect with id {hub_id!r}")
    return row


async def get_prospect(request: Request) -> JSONResponse:
    return JSONResponse(await _row(request))


async def compose(request: Request) -> JSONResponse:
    """Draft this row now (drafts are only written into empty draft cells)."""
    await _row(request)  # 404 before anything else
    services = request.app.state.services
    return JSONResponse(await compose_one(services, request.path_params["hub_id"]))


async def send(request: Request) -> JSONResponse:
    """Send this row now, through the same exactly-once path as the send stage."""
    await _row(request)  # 404 before anything else
    services = request.app.state.services
    return JSONResponse(await send_one(services, request.path_params["hub_id"]))


routes = [
    Route("/prospects", list_prospects, methods=["GET"]),
    # the old system's ``POST /api/prospects/enrich?max_prospects=&prospect_ids=``
    Route("/prospects/enrich", stage_endpoint("enrich"), methods=["POST"]),
    Route("/prospects/{hub_id}", get_prospect, methods=["GET"]),
    Route("/prospects/{hub_id}/compose", compose, methods=["POST"]),
    Route("/prospects/{hub_id}/send", send, methods=["POST"]),
]
