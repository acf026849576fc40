"""Build correctly signed webhook requests, with any field overridable (Stripe's generate_header).

    headers = standard_headers(body, secret=key, now=NOW)                 # valid
    headers = standard_headers(body, secret=key, now=NOW, timestamp="x")  # one field broken
    response = client_post_signed(client, url, {"keywords": ["art"]}, key=key, now=NOW)

and a recording ``accept`` callback: the hand-written fake at the boundary between the edge and
the hub's inbox (it dedupes by ``dedupe_key`` as the inbox does, and records every event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from webhooks.events import Acceptance, InboundEvent, Refused
from webhooks.signing import sign_hub, sign_standard

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_OMIT = object()


def _ts(now: datetime) -> int:
    return int(now.timestamp())


def standard_headers(
    body: bytes,
    *,
    secret: str,
    now: datetime = NOW,
    msg_id: str = "msg_2f1c9d",
    timestamp: Any = _OMIT,
    signature: Any = _OMIT,
    **extra: str | None,
) -> dict[str, str]:
    """Standard Webhooks headers; override ``timestamp``/``signature`` (None drops the header).

    ``timestamp`` is what is signed AND sent, unless ``signature`` is given verbatim.
    """
    ts = _ts(now) if timestamp is _OMIT else timestamp
    headers: dict[str, Any] = {"webhook-id": msg_id, "webhook-timestamp": ts}
    if signature is _OMIT:
        headers["webhook-signature"] = sign_standard(secret, msg_id, int(ts), body)
    else:
        headers["webhook-signature"] = signature
    headers.update(extra)
    return {k: str(v) for k, v in headers.items() if v is not None}


def hub_headers(
    body: bytes,
    *,
    key: str,
    now: datetime = NOW,
    timestamp: Any = _OMIT,
    signature: Any = _OMIT,
    **extra: str | None,
) -> dict[str, str]:
    """``X-Hub-Signature-256`` (+ ``X-Hub-Timestamp``; ``timestamp=None`` signs the bare body)."""
    ts = _ts(now) if timestamp is _OMIT else timestamp
    headers: dict[str, Any] = {"x-hub-timestamp": ts}
    if signature is _OMIT:
        headers["x-hub-signature-256"] = sign_hub(key, body, None if ts is None else int(ts))
    else:
        headers["x-hub-signature-256"] = signature
    headers.update(extra)
    return {k: str(v) for k, v in headers.items() if v is not None}


def client_post_signed(
    client,
    url: str,
    payload: Any = None,
    *,
    key: str,
    scheme: str = "standard",
    now: datetime = NOW,
    body: bytes | None = None,
    **overrides: Any,
):
    """POST ``payload`` as JSON (or ``body`` verbatim), correctly signed unless overridden."""
    raw = body if body is not None else json.dumps(payload if payload is not None else {}).encode()
    if scheme == "standard":
        headers = standard_headers(raw, secret=key, now=now, **overrides)
    elif scheme == "hub":
        headers = hub_headers(raw, key=key, now=now, **overrides)
    else:
        raise ValueError(f"unknown scheme {scheme!r}")
    headers.setdefault("content-type", "application/json")
    return client.post(url, content=raw, headers=headers)


@dataclass
class RecordingAccept:
    """A fake inbox: records events, answers a job id, dedupes by ``dedupe_key``.

    ``known_task_ids``: when set, a DataForSEO event for another task is refused with 404, as
    the hub does for tasks it never created. ``fail_with``: raise this instead (a broken inbox).
    """

    known_task_ids: set[str] | None = None
    fail_with: Exception | None = None
    events: list[InboundEvent] = field(default_factory=list)
    jobs_by_key: dict[str, str] = field(default_factory=dict)

    async def __call__(self, event: InboundEvent) -> Acceptance:
        if self.fail_with is not None:
            raise self.fail_with
        if (
            self.known_task_ids is not None
            and event.task_id is not None
            and event.task_id not in self.known_task_ids
        ):
            raise Refused(404, f"task {event.task_id} was not created by this hub", "unknown_task")
        self.events.append(event)
        if event.dedupe_key in self.jobs_by_key:
            return Acceptance(self.jobs_by_key[event.dedupe_key], duplicate=True)
        job_id = f"job-{len(self.jobs_by_key) + 1}"
        self.jobs_by_key[event.dedupe_key] = job_id
        return Acceptance(job_id, duplicate=False)


def webhook_app(accept, record, *, secret_keys: list[str], now: datetime = NOW, **config: Any):
    """A tiny Starlette app with only the webhook routes, as the hub will mount them."""
    from starlette.applications import Starlette

    from webhooks.routes import WebhookConfig, webhook_routes

    keys = secret_keys  # read through a callable on every request, as the hub rotates keys
    settings = WebhookConfig(secret_keys=lambda: keys, now=lambda: now, **config)
    return Starlette(routes=webhook_routes(settings, accept, record))
