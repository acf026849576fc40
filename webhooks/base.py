"""What every webhook route shares: configuration, a capped body reader, and the hand-over flow.

A route's job is: check the request, build one ``InboundEvent``, hand it to ``accept``, answer.
Checks raise :class:`Refusal` (a 4xx with a code and a message that says what to fix); the flow
in :func:`handle` turns it into a JSON error, records every delivery, and guarantees that
``accept`` sees only requests that passed every check.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webhooks.events import Accept, Delivery, InboundEvent, RecordDelivery, Refused

log = logging.getLogger("webhooks")

MIB = 1024 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebhookConfig:
    # A callable, so HUB_SECRET_KEYS can rotate while the server runs.
    secret_keys: Callable[[], list[str]]
    require_signature: bool = False
    # Make.com's own custom webhooks cap payloads at 5 MB; our actions need far less.
    max_body_bytes: int = MIB
    # A DataForSEO postback is gzip; 700 SERP results decompress to a few MB at most.
    max_decompressed_bytes: int = 32 * MIB
    timestamp_tolerance: int = 300
    now: Callable[[], datetime] = field(default=utc_now)


class Refusal(Exception):
    """A request the edge refuses before anything is handed over; always a 4xx (or 503)."""

    def __init__(self, status: int, code: str, message: str, *, action: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.action = action
        self.details: list[dict[str, str]] = []


def require_keys(secret_keys: list[str], *, action: str = "") -> list[str]:
    """The configured keys; without any, the routes are off (a server setting, not bad input)."""
    keys = [key for key in secret_keys if key]
    if not keys:
        raise Refusal(
            503,
            "not_configured",
            "webhooks are disabled on this hub: set HUB_SECRET_KEYS and restart",
            action=action,
        )
    return keys


def error_response(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["fields"] = details
    return JSONResponse({"error": error}, status_code=status)


def job_body(job_id: str) -> dict[str, Any]:
    return {"job_id": job_id, "status_url": f"/api/jobs/{job_id}/status"}


def accepted_response(job_id: str) -> Response:
    """202 with ``job_body``: the same bytes JSONResponse renders, without json.dumps for an id
    that needs no escaping (the answer to every accepted webhook)."""
    if not (job_id.isascii() and job_id.isalnum()):
        return JSONResponse(job_body(job_id), status_code=202)
    content = f'{{"job_id":"{job_id}","status_url":"/api/jobs/{job_id}/status"}}'
    return Response(content.encode(), status_code=202, media_type="application/json")


async def read_body(request: Request, limit: int, *, action: str = "") -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (``Request.body()`` has no limit).

    Reads the ASGI messages itself rather than through ``Request.stream()``: the async
    generator cost as much as the rest of the read for a webhook's one-message body.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Refusal(
                400, "bad_request", "the Content-Length header is not a number", action=action
            )
        if int(declared) > limit:
            raise _too_large(limit, action)  # refuse before reading a byte
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise Refusal(
                400,
                "bad_request",
                "the client disconnected before the body was complete",
                action=action,
            )
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit, action)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int, action: str) -> Refusal:
    return Refusal(
        413,
        "body_too_large",
        f"the request body is larger than {limit} bytes; send fewer items per request",
        action=action,
    )


# Arrays and objects inside each other. Payloads from Make and DataForSEO nest a dozen levels
# at most; Python's parser gives up near 1,000 (RecursionError) and so would every later step
# that walks or stores the payload, so a clear limit is refused before parsing.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays/objects more than ``limit`` deep (strings ignored).

    All in C-speed bytes operations: a body with few brackets is let through at once; else
    strings are removed, then only the brackets kept, and innermost pairs are removed once per
    level. Unbalanced brackets answer False (the parser reports invalid JSON)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(_ONE_KIND, _NOT_BRACKETS)
    if brackets.count(b"[") != brackets.count(b"]"):
        return False
    for _ in range(limit):
        inner = brackets.replace(b"[]", b"")
        if not inner or inner == brackets:
            return False
        brackets = inner
    return True


# The Make-side cause of a body that is not JSON (only said on Make's routes).
MAKE_RAW_HINT = (
    "; in Make, set the HTTP module's body type to Raw with content type JSON (application/json)"
)


def parse_json(body: bytes, *, action: str = "", hint: str = "") -> Any:
    """The body as JSON, or a 400 that says why: too deep (naming the limit), or not JSON
    (``hint``: what to change at the sender)."""
    if json_too_deep(body):
        raise Refusal(
            400,
            "json_too_deep",
            f"the JSON body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            "send a flatter body",
            action=action,
        )
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise Refusal(
            400, "invalid_json", f"the body is not valid JSON (UTF-8){hint}", action=action
        ) from exc


Build = Callable[[Request], Awaitable[InboundEvent]]


async def handle(
    request: Request,
    *,
    route: str,
    build: Build,
    accept: Accept,
    record: RecordDelivery,
    now: Callable[[], datetime],
) -> Response:
    """Run the checks in ``build``, hand the event over, answer, and record the delivery."""
    try:
        event = await build(request)
    except Refusal as refusal:
        _record(
            record,
            Delivery(now(), route, refusal.action, "refused", refusal.status, refusal.message),
        )
        log.info("webhook %s refused (%s): %s", route, refusal.status, refusal.message)
        return error_response(refusal.status, refusal.code, refusal.message, refusal.details)
    try:
        acceptance = await accept(event)
    except Refused as refused:
        _record(
            record, Delivery(now(), route, event.action, "refused", refused.status, refused.message)
        )
        log.info("webhook %s refused by the hub (%s): %s", route, refused.status, refused.message)
        return error_response(refused.status, refused.code, refused.message)
    except Exception:
        # Not bad input: the hub could not persist the event. Say so, so the sender retries.
        log.exception("webhook %s: the hub failed to accept an event", route)
        message = "the hub could not store this delivery; retry later"
        _record(record, Delivery(now(), route, event.action, "refused", 503, message))
        response = error_response(503, "unavailable", message)
        response.headers["Retry-After"] = "30"
        return response
    verdict = "duplicate" if acceptance.duplicate else "accepted"
    reason = "same event as an earlier delivery" if acceptance.duplicate else "queued"
    _record(
        record,
        Delivery(
            now(),
            route,
            event.action,
            verdict,
            200 if acceptance.duplicate else 202,
            reason,
            acceptance.job_id,
        ),
    )
    if acceptance.duplicate:
        return JSONResponse({**job_body(acceptance.job_id), "duplicate": True}, status_code=200)
    return accepted_response(acceptance.job_id)


def _record(record: RecordDelivery, delivery: Delivery) -> None:
    # The delivery log is for the status page; failing to write it must not change the answer.
    try:
        record(delivery)
    except Exception:
        log.exception("could not record a webhook delivery")
