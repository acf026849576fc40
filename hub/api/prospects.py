"""``/api/prospects``: list and read rows, enrich by hand, compose or send one row now.

**Prospect and row** (stated here once): the API's *prospect* is the code's *row*, one row of
the prospect store (:class:`sheets.store.ProspectStore`, the Google Sheet or the local store).
A prospect is the row as the store gives it, every column under its header name
(:func:`prospect_of`); its id is the row's ``hub_id`` (``/api/prospects/{hub_id}``), and a job's
``prospect_ids`` parameter lists ``hub_id`` values. Everywhere below the API (stages, sending,
the store) the word is "row".
"""

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
from sheets.columns import Row


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
    prospects = [prospect_of(row) for row in page]
    return JSONResponse(
        {"prospects": prospects, "total": len(rows), "limit": query.limit, "offset": query.offset}
    )


def prospect_of(row: Row) -> dict[str, str]:
    """The prospect a row is shown as: the row itself, every column by its header name."""
    return dict(row)


async def row_for(request: Request) -> Row:
    """The row the ``{hub_id}`` of the path names; 404 when no row has that ``hub_id``."""
    hub_id = request.path_params["hub_id"]
    row = await asyncio.to_thread(request.app.state.services.store.get, hub_id)
    if row is None:
        raise NotFound(f"no prospect with id {hub_id!r}")
    return row


async def get_prospect(request: Request) -> JSONResponse:
    return JSONResponse(prospect_of(await row_for(request)))


async def compose(request: Request) -> JSONResponse:
    """Draft this row now (drafts are only written into empty draft cells)."""
    await row_for(request)  # 404 before anything else
    services = request.app.state.services
    return JSONResponse(await compose_one(services, request.path_params["hub_id"]))


async def send(request: Request) -> JSONResponse:
    """Send this row now, through the same exactly-once path as the send stage."""
    await row_for(request)  # 404 before anything else
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
