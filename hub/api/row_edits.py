"""``PATCH /api/prospects/{hub_id}`` and ``POST /api/prospects/approve``: a person's edits.

The body names human-editable columns only (``sheets/human_edits.py``); a hub-owned column or
a bad value answers 422 naming each column, and nothing is written. ``If-Unmodified-Since``
(an HTTP date) or ``updated_at`` in the body (the row's ``updated_at`` as you read it) answers
409 when the row changed after that moment, instead of overwriting the newer edit.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.api.auth import bearer_token
from hub.api.body import parse, read_json_body
from hub.api.errors import Invalid
from hub.api.prospects import prospect_of, row_for
from hub.rows import actions
from hub.rows.filter import RowFilter, normal_status
from sheets.human_edits import parse_time

PRECONDITION_FIELD = "updated_at"


class ApproveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hub_ids: list[str] | None = Field(None, max_length=10_000)
    status: str | None = Field(None, max_length=64)
    hold_reason: str | None = Field(None, max_length=200)
    q: str | None = Field(None, max_length=200)


class EditBody(BaseModel):
    """For /openapi.json: the columns a person may set (plus any user column)."""

    model_config = ConfigDict(extra="allow")
    approved: bool | str | None = Field(None, description="TRUE / FALSE (or true / false)")
    outreach_status: str | None = Field(
        None,
        description="skip or do_not_contact; from those, back to pending, enriched or drafted",
    )
    contact_email: str | None = Field(None, description="one address; empty clears it")
    contact_name: str | None = None
    draft_subject: str | None = Field(None, description="one line")
    draft_body: str | None = None
    notes: str | None = None
    updated_at: str | None = Field(
        None, description="precondition: the row's updated_at as you read it (409 if newer)"
    )


def actor(request: Request) -> str:
    """The API key's fingerprint (BearerAuth already checked the key)."""
    return actions.api_key_actor(bearer_token(request.headers.get("authorization", "")) or "")


def _unmodified_since(request: Request, body: dict[str, Any]) -> datetime | None:
    moments: list[datetime] = []
    header = request.headers.get("if-unmodified-since")
    if header is not None:
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is None:
            raise Invalid(
                "If-Unmodified-Since must be an HTTP date such as 'Fri, 04 Dec 2026 15:00:00 GMT'",
                [{"field": "If-Unmodified-Since", "message": "not an HTTP date"}],
            )
        moments.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if PRECONDITION_FIELD in body:
        given = body.pop(PRECONDITION_FIELD)
        moment = parse_time(given) if isinstance(given, str) else None
        if moment is None:
            raise Invalid(
                "updated_at must be the row's updated_at as you read it (ISO 8601)",
                [{"field": PRECONDITION_FIELD, "message": "not an ISO 8601 time"}],
            )
        moments.append(moment)
    return min(moments) if moments else None


async def patch_prospect(request: Request) -> JSONResponse:
    hub_id = request.path_params["hub_id"]
    body = await read_json_body(request)
    since = _unmodified_since(request, body)
    services = request.app.state.services
    result = await asyncio.to_thread(
        actions.edit_row, services, hub_id, body, actor(request), unmodified_since=since
    )
    row = await asyncio.to_thread(services.store.get, hub_id)
    return JSONResponse(
        {
            "hub_id": hub_id,
            "changed": {c: {"before": b, "after": a} for c, (b, a) in result.changed.items()},
            "message": result.message(),
            "prospect": prospect_of(row) if row is not None else None,
        }
    )


async def approve(request: Request) -> JSONResponse:
    params = await parse(request, ApproveParams)
    where = RowFilter(
        q=(params.q or "").strip(),
        status=normal_status(params.status) if params.status else "",
        hold=(params.hold_reason or "").strip(),
    )
    if params.hub_ids and not where.empty:
        raise Invalid(
            "give hub_ids or a filter (status, hold_reason, q), not both",
            [{"field": "hub_ids", "message": "not together with a filter"}],
        )
    if not params.hub_ids and where.empty:
        raise Invalid(
            "name the rows to approve: hub_ids, or a filter (status, hold_reason, q)",
            [{"field": "hub_ids", "message": "required when there is no filter"}],
        )
    result = await asyncio.to_thread(
        actions.approve_rows,
        request.app.state.services,
        actor(request),
        hub_ids=params.hub_ids or (),
        where=where,
    )
    return JSONResponse({**result.as_json(), "message": result.message()})


async def history(request: Request) -> JSONResponse:
    """The row's changes made through the hub (API, status page, CLI), newest first."""
    hub_id = request.path_params["hub_id"]
    services = request.app.state.services
    await row_for(request)  # 404 for an unknown hub_id
    changes = await asyncio.to_thread(actions.changes_of, services.settings, hub_id)
    return JSONResponse(
        {
            "hub_id": hub_id,
            "changes": [
                {
                    "at": datetime.fromtimestamp(c.at, UTC).isoformat().replace("+00:00", "Z"),
                    "by": c.actor,
                    "column": c.column,
                    "before": c.before,
                    "after": c.after,
                }
                for c in changes
            ],
        }
    )


routes = [
    Route("/prospects/approve", approve, methods=["POST"]),
    Route("/prospects/{hub_id}", patch_prospect, methods=["PATCH"]),
    Route("/prospects/{hub_id}/history", history, methods=["GET"]),
]
