"""Capability tokens in URLs: an itsdangerous-signed payload, salted per purpose.

``HUB_SECRET_KEYS`` is a list, oldest first and newest last: tokens are signed with the newest
key and verified against all, so keys rotate without breaking URLs already pasted into Make.
Tokens carry ids and action names only, never an e-mail address (they are signed, not
encrypted).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

MAKE_SALT = "hub.make-webhook.v1"
DATAFORSEO_SALT = "hub.dataforseo-callback.v1"
UNSUBSCRIBE_SALT = "hub.unsubscribe.v1"

MAKE_ACTIONS = (
    "discover",
    "import_rows",
    "enrich",
    "score",
    "draft",
    "send",
    "followup",
    "check_replies",
    "tick",
    "row_changed",
)


class TokenError(Exception):
    """The token is missing, forged, for another purpose or expired; the message says which."""


def _keys(secret_keys: Sequence[str]) -> list[str]:
    keys = [k for k in secret_keys if k]
    if not keys:
        raise TokenError("no secret key configured (HUB_SECRET_KEYS)")
    return keys


def sign(payload: Any, secret_keys: Sequence[str], salt: str) -> str:
    return URLSafeSerializer(_keys(secret_keys), salt=salt).dumps(payload)


def sign_timed(payload: Any, secret_keys: Sequence[str], salt: str) -> str:
    return URLSafeTimedSerializer(_keys(secret_keys), salt=salt).dumps(payload)


def verify(token: str, secret_keys: Sequence[str], salt: str) -> Any:
    try:
        return URLSafeSerializer(_keys(secret_keys), salt=salt).loads(token)
    except BadSignature as exc:
        raise TokenError(
            "the token in the URL is not valid (forged, truncated, or for another key)"
        ) from exc


def verify_timed(token: str, secret_keys: Sequence[str], salt: str, max_age: int) -> Any:
    try:
        return URLSafeTimedSerializer(_keys(secret_keys), salt=salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:  # a subclass of BadSignature: catch it first
        raise TokenError("the link has expired") from exc
    except BadSignature as exc:
        raise TokenError("the link is not valid") from exc


def make_action_token(action: str, secret_keys: Sequence[str]) -> str:
    if action not in MAKE_ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(MAKE_ACTIONS)}")
    return sign({"a": action}, secret_keys, MAKE_SALT)


def verify_make_token(token: str, secret_keys: Sequence[str]) -> str:
    """The action a Make.com webhook token grants."""
    data = verify(token, secret_keys, MAKE_SALT)
    action = data.get("a") if isinstance(data, dict) else None
    if action not in MAKE_ACTIONS:
        raise TokenError("the token names no known action")
    return action


@functools.lru_cache(maxsize=16)  # derived on every signed webhook; keys are few
def body_signing_key(secret_key: str) -> str:
    """The key a Make scenario uses to sign bodies (``sha256(text; "hex"; key)``).

    Derived from a secret key so the master key itself never has to be pasted into Make;
    one derived key per secret key, so rotation works the same way as for tokens.
    """
    return hmac.new(secret_key.encode(), b"hub.body-signing.v1", hashlib.sha256).hexdigest()


def body_signing_keys(secret_keys: Sequence[str]) -> list[str]:
    return [body_signing_key(k) for k in _keys(secret_keys)]
