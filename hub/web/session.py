"""Sign-in for the status page: an API key from ``HUB_API_KEYS``, remembered in a signed cookie.

- The cookie is Starlette's ``SessionMiddleware`` (itsdangerous-signed, ``HttpOnly``,
  ``SameSite=Lax``, ``Secure`` when ``HUB_PUBLIC_URL`` is https). Its data is signed, not
  encrypted, so it holds a *fingerprint* of the key, never the key. The fingerprint is checked
  against ``HUB_API_KEYS`` on every request: removing a key from the setting signs its sessions
  out.
- The signing secret is derived (HMAC) from the hub's newest secret key (``hub.state.keys``:
  ``HUB_SECRET_KEYS`` or the embedded key file), never a fixed string, and it is not the key
  itself, so a cookie can never be replayed as a webhook token or an unsubscribe link.
- CSRF: every session (even before sign-in) carries a random token; every form that changes
  something (sign-in, sign-out, cancel) must send it back. ``SameSite=Lax`` already keeps the
  cookie off cross-site POSTs; the token also covers older browsers and login CSRF.
- The key travels only in a POST body; it is never put in a URL, a log line or a page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from hub.api.auth import key_matches
from hub.state.keys import secret_keys_for

SESSION_COOKIE = "hub_session"
SESSION_MAX_AGE = 12 * 3600  # a working day; then sign in again
_SESSION_SALT = b"hub.web.session.v1"
_FINGERPRINT_SALT = b"hub.web.key-fingerprint.v1"


def session_secret(settings: Any) -> str:
    """The cookie-signing secret: HMAC of the hub's newest secret key with a fixed purpose."""
    newest = secret_keys_for(settings)[-1]
    return hmac.new(newest.encode(), _SESSION_SALT, hashlib.sha256).hexdigest()


def session_middleware(settings: Any) -> Middleware:
    return Middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.public_url.lower().startswith("https://"),
    )


def _fingerprint(secret: str, api_key: str) -> str:
    return hmac.new(secret.encode(), _FINGERPRINT_SALT + api_key.encode(), "sha256").hexdigest()


def configured_keys(settings: Any) -> list[str]:
    return [k for k in settings.api_keys if k]


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, presented: object) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not isinstance(presented, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def signed_in(request: Request, settings: Any) -> bool:
    """True when the session's key fingerprint matches a key configured now."""
    held = request.session.get("who")
    if not isinstance(held, str) or not held:
        return False
    secret = session_secret(settings)
    fingerprints = [_fingerprint(secret, key) for key in configured_keys(settings)]
    return key_matches(held, fingerprints)


def sign_in(request: Request, settings: Any, presented: str) -> bool:
    """Check ``presented`` against ``HUB_API_KEYS`` (constant time) and start a fresh session."""
    keys = configured_keys(settings)
    if not presented or not keys or not key_matches(presented, keys):
        return False
    # A new session (new CSRF token) on sign-in, so a token planted before sign-in is useless.
    request.session.clear()
    request.session["who"] = _fingerprint(session_secret(settings), presented)
    request.session["csrf"] = secrets.token_urlsafe(32)
    return True


def sign_out(request: Request) -> None:
    request.session.clear()
