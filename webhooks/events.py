"""The one normalised model of what came in through the edge, and the callbacks the hub hands us.

Every route (Make.com, DataForSEO postback/pingback) turns a verified request into one
:class:`InboundEvent` and passes it to an ``Accept`` callback, which persists it (durable inbox,
deduplicated by ``dedupe_key``) and answers with the job it created or found. Nothing reaches the
callback unless every check passed. Every delivery, refused or not, becomes a :class:`Delivery`
line for the status page (``RecordDelivery``). ``webhooks`` never imports ``hub``
(DESIGN.md §2): the hub imports this module, not the other way round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Source = Literal["make", "dataforseo_postback", "dataforseo_pingback"]
Verdict = Literal["accepted", "duplicate", "refused"]

# How long a dedupe record must be kept, per kind of key.
# Standard Webhooks retries keep the same webhook-id for hours to days: keep ids 7 days.
EXPLICIT_ID_WINDOW_SECONDS = 7 * 24 * 3600
# Without an id, two identical bodies for the same action within 10 minutes are one delivery
# (a Make HTTP module retried by a Break handler); later ones are meant (e.g. a daily "tick").
BODY_HASH_WINDOW_SECONDS = 600
# DataForSEO keeps task results 30 days; a task id is never reused.
DATAFORSEO_WINDOW_SECONDS = 30 * 24 * 3600

DATAFORSEO_ACTION = "dataforseo_result"


@dataclass(frozen=True)
class InboundEvent:
    source: str  # "make" | "dataforseo_postback" | "dataforseo_pingback"
    action: str  # a Make action (webhooks.tokens.MAKE_ACTIONS) or "dataforseo_result"
    # Validated JSON: a dict for Make actions; the task_get-shaped dict for a postback;
    # {} for a pingback.
    payload: Any
    # "make:wh:<webhook-id>" when a webhook-id/delivery id is given, else
    # "make:body:<action>:<sha256 of raw body>"; "dfs:<task_id>" for DataForSEO.
    dedupe_key: str
    dedupe_window_seconds: int
    received_at: datetime  # aware UTC
    job_id: str | None = None  # DataForSEO: the discovery job the token is bound to
    task_id: str | None = None
    tag: str | None = None
    # Which signature scheme verified the body ("standard" | "hub"), or None when unsigned.
    signature_scheme: str | None = None


@dataclass(frozen=True)
class Acceptance:
    job_id: str
    duplicate: bool


class Refused(Exception):
    """Raised by the accept callback to refuse an event that passed every edge check.

    Example: a DataForSEO postback for a task id the hub never created -> ``Refused(404, ...)``.
    ``status`` is meant to be a 4xx (the sender's request is wrong, or names something unknown).
    ``message`` is shown to the caller, so it says what is wrong and what to do, and never
    contains a secret. ``code`` is the machine-readable error code of the JSON answer.
    """

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODE_BY_STATUS.get(status, "refused")


_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    410: "gone",
    413: "body_too_large",
    422: "invalid_payload",
    429: "too_many_requests",
}


@dataclass(frozen=True)
class Delivery:
    """One line of the delivery log (the status page lists them)."""

    at: datetime
    route: str  # "make" | "dataforseo_postback" | "dataforseo_pingback"
    action: str  # the action when known, else "" (e.g. the token was not valid)
    verdict: str  # accepted | duplicate | refused
    status: int
    reason: str  # never echoes a secret, a token or a signature
    job_id: str | None = None


Accept = Callable[[InboundEvent], Awaitable[Acceptance]]
RecordDelivery = Callable[[Delivery], None]
