"""Reading a JSON request body with a size cap, and validating parameters with pydantic.

``Request.body()`` has no size limit, so the body is read from the stream and refused past
``HUB_MAX_BODY_BYTES``. Query parameters and the JSON body are merged (the body wins), so the
old system's ``?max_prospects=10`` and a JSON ``{"max_prospects": 10}`` both work.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from hub.api.errors import Invalid, PayloadTooLarge, invalid_from
from hub.errors import BadRequest
from webhooks.base import MAX_JSON_DEPTH, json_too_deep

Model = TypeVar("Model", bound=BaseModel)

# Parameters that may repeat in a query string (?prospect_ids=a&prospect_ids=b).
LIST_PARAMS = ("prospect_ids", "keywords", "locations")


async def read_json_body(request: Request) -> dict[str, Any]:
    limit = request.app.state.services.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        raise BadRequest("the client disconnected before the body was complete") from exc
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    if json_too_deep(raw):
        raise BadRequest(
            f"the JSON body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            "send a flatter body",
            code="json_too_deep",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(
            "the body is not valid JSON (send Content-Type: application/json)",
            code="invalid_json",
        ) from exc
    if not isinstance(data, dict):
        raise Invalid(
            "the body must be a JSON object", [{"field": "body", "message": "expected an object"}]
        )
    return data


def query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if key in LIST_PARAMS:
            items = [part.strip() for v in values for part in v.split(",") if part.strip()]
            params[key] = items
        else:
            params[key] = values[-1]
    return params


async def parse(request: Request, model: type[Model], *, body: bool = True) -> Model:
    data = query_params(request)
    if body and request.method in ("POST", "PUT", "PATCH"):
        data.update(await read_json_body(request))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc) from exc
