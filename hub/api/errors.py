"""The ONE place where errors become HTTP answers: ``{"error": {"code", "message"}}``.

``HubError`` subclasses carry their status; pydantic validation errors become 422 naming each
field; anything else is a 500 that says nothing about internals (the log has the traceback).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from hub.errors import HubError

log = logging.getLogger("hub.api")


class PayloadTooLarge(HubError):
    status = 413
    code = "body_too_large"


class Invalid(HubError):
    """422: the request is well-formed JSON but a field is wrong; ``fields`` names each one."""

    status = 422
    code = "invalid_request"

    def __init__(self, message: str, fields: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.fields = fields or []


def error_response(
    status: int, code: str, message: str, fields: list[dict[str, str]] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    headers = {"WWW-Authenticate": 'Bearer realm="hub"'} if status == 401 else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def invalid_from(exc: ValidationError, *, where: str = "") -> Invalid:
    fields = []
    for problem in exc.errors(include_url=False):
        name = ".".join(str(part) for part in problem["loc"]) or where or "body"
        fields.append({"field": name, "message": problem["msg"]})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return Invalid(f"invalid request: {summary}", fields)


async def hub_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(exc.status, exc.code, exc.message, getattr(exc, "fields", None))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return await hub_error(request, invalid_from(exc))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s: unexpected error", request.method, request.url.path)
    return error_response(500, "internal_error", "the hub failed to handle this request")


EXCEPTION_HANDLERS = {
    HubError: hub_error,
    ValidationError: validation_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
