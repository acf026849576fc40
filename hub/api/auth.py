"""Bearer keys for ``/api`` (``HUB_API_KEYS``, comma-separated; several keys allow rotation).

Never open by default: with no key configured every call is refused with a 401 that says to
set ``HUB_API_KEYS``. Keys are compared in constant time, against every configured key, so
neither the key nor its position in the list leaks through timing.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.errors import error_response


def key_matches(presented: str, keys: list[str]) -> bool:
    given = presented.encode()
    matched = False
    for key in keys:
        # no early exit: every key is compared whatever the outcome
        matched |= hmac.compare_digest(given, key.encode())
    return matched


def bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_bearer(authorization: str | None, keys: list[str]) -> str | None:
    """None when allowed, else the reason (which never echoes the presented key)."""
    keys = [k for k in keys if k]
    if not keys:
        return "the REST API is disabled: set HUB_API_KEYS (comma-separated keys) and restart"
    if not authorization:
        return "missing Authorization header: send 'Authorization: Bearer <key>'"
    token = bearer_token(authorization)
    if token is None:
        return "the Authorization header must be 'Bearer <key>'"
    if not key_matches(token, keys):
        return "the API key is not valid (check HUB_API_KEYS)"
    return None


class BearerAuth:
    """ASGI middleware for the ``/api`` mount: nothing behind it runs without a valid key,
    so an unauthenticated request never has its body read or anything queued."""

    def __init__(self, app: ASGIApp, keys: Callable[[], list[str]]):
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        problem = check_bearer(authorization, self.keys())
        if problem is not None:
            await error_response(401, "unauthorized", problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)
