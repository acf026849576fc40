"""``POST /webhooks/make/{token}``: a Make.com HTTP module asks the hub to do one action.

The token in the URL is a capability (``webhooks.tokens.make_action_token``) naming the action;
the body may also be signed with a key derived from ``HUB_SECRET_KEYS``
(``webhooks.tokens.body_signing_keys``), either Standard Webhooks or ``X-Hub-Signature-256``
(see ``webhooks.signing``). With ``require_signature`` an unsigned body is refused.

Checks, in order (each refusal names what to fix; nothing reaches ``accept`` before all pass):
token -> 401, body size -> 413, signature -> 401, JSON -> 400, payload for the action -> 422.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from starlette.requests import Request

from webhooks.base import (
    MAKE_RAW_HINT,
    Refusal,
    WebhookConfig,
    parse_json,
    read_body,
    require_keys,
)
from webhooks.events import BODY_HASH_WINDOW_SECONDS, EXPLICIT_ID_WINDOW_SECONDS, InboundEvent
from webhooks.make_payloads import PayloadError, validate_payload
from webhooks.signing import (
    MESSAGE_ID,
    STANDARD_ID,
    VerificationError,
    Verified,
    verify_signature,
)
from webhooks.tokens import TokenError, body_signing_keys, make_action_token, verify_make_token

ROUTE = "make"
PATH = "/webhooks/make/{token}"
# GitHub-style senders name a delivery this way (GitHub itself sends X-GitHub-Delivery).
DELIVERY_ID_HEADERS = (STANDARD_ID, "x-hub-delivery", "x-github-delivery")


def make_webhook_url(base_url: str, action: str, secret_keys: Sequence[str]) -> str:
    """The URL to paste into a Make HTTP module for ``action`` (signed with the newest key)."""
    return f"{base_url.rstrip('/')}/webhooks/make/{make_action_token(action, secret_keys)}"


@functools.lru_cache(maxsize=64)
def _verified_action(token: str, secret_keys: tuple[str, ...]) -> str:
    # A hub has one token per action (ten at most per key), and verifying it with itsdangerous
    # was ~7% of a webhook's CPU under load. Only valid tokens are cached (lru_cache does not
    # keep exceptions), and the keys are part of the cache key, so a removed key stops working
    # at once.
    return verify_make_token(token, secret_keys)


def action_for_token(token: str, secret_keys: Sequence[str]) -> str:
    try:
        return _verified_action(token, tuple(secret_keys))
    except TokenError as exc:
        raise Refusal(
            401,
            "invalid_token",
            "the token in this webhook URL is not valid (mistyped, truncated, or made with a "
            "key that was removed): copy the URL again with `hub webhook-url <action>`",
        ) from exc


def check_signature(
    body: bytes,
    headers: Mapping[str, str],
    config: WebhookConfig,
    secret_keys: Sequence[str],
    now: datetime,
    action: str,
) -> Verified | None:
    try:
        verified = verify_signature(
            body, headers, body_signing_keys(secret_keys), now, config.timestamp_tolerance
        )
    except VerificationError as exc:
        raise Refusal(401, "invalid_signature", f"signature refused: {exc}", action=action) from exc
    if verified is None and config.require_signature:
        raise Refusal(
            401,
            "signature_required",
            "this hub requires signed bodies (HUB_REQUIRE_SIGNATURE): send "
            "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body with the body-signing key> "
            '(Make: sha256(body; "hex"; key)), or Standard Webhooks headers',
            action=action,
        )
    return verified


def delivery_id(headers: Mapping[str, str], verified: Verified | None, action: str) -> str | None:
    """The sender's id for this delivery, if it gave one; a signed webhook-id wins."""
    if verified is not None and verified.message_id:
        return verified.message_id
    for name in DELIVERY_ID_HEADERS:
        value = headers.get(name, "").strip()
        if value:
            if not MESSAGE_ID.fullmatch(value):
                raise Refusal(
                    400,
                    "bad_request",
                    f"the {name} header must be 1-255 printable characters without spaces",
                    action=action,
                )
            return value
    return None


def to_event(
    action: str,
    body: bytes,
    payload: dict,
    explicit_id: str | None,
    verified: Verified | None,
    received_at: datetime,
) -> InboundEvent:
    if explicit_id:
        dedupe_key, window = f"make:wh:{explicit_id}", EXPLICIT_ID_WINDOW_SECONDS
    else:
        digest = hashlib.sha256(body).hexdigest()
        dedupe_key, window = f"make:body:{action}:{digest}", BODY_HASH_WINDOW_SECONDS
    return InboundEvent(
        source="make",
        action=action,
        payload=payload,
        dedupe_key=dedupe_key,
        dedupe_window_seconds=window,
        received_at=received_at,
        signature_scheme=verified.scheme if verified else None,
    )


def make_builder(config: WebhookConfig):
    async def build(request: Request) -> InboundEvent:
        now = config.now()
        secret_keys = require_keys(list(config.secret_keys()))
        action = action_for_token(request.path_params["token"], secret_keys)
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise Refusal(
                415,
                "unsupported_encoding",
                "send the body uncompressed (no Content-Encoding)",
                action=action,
            )
        body = await read_body(request, config.max_body_bytes, action=action)
        verified = check_signature(body, request.headers, config, secret_keys, now, action)
        explicit_id = delivery_id(request.headers, verified, action)
        data = parse_json(body, action=action, hint=MAKE_RAW_HINT) if body.strip() else {}
        try:
            payload = validate_payload(action, data)
        except PayloadError as exc:
            refusal = Refusal(422, "invalid_payload", exc.message, action=action)
            refusal.details = exc.fields
            raise refusal from exc
        return to_event(action, body, payload, explicit_id, verified, now)

    return build
