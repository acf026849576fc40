"""Google's OAuth 2.0 token endpoint (``POST https://oauth2.googleapis.com/token``), emulated.

Two grants, as the real google-auth sends them:

- ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (RFC 7523) from service accounts: the
  ``assertion`` is an RS256 JWT signed with the key in the service-account JSON; we check the
  signature against the test key's public key (by ``kid``), ``aud`` (the token URL),
  ``iat``/``exp`` (at most one hour apart, not in the future or past) and ``scope``.
- ``refresh_token`` (RFC 6749 §6) from installed-app users (Gmail): form fields ``client_id``,
  ``client_secret``, ``refresh_token``; a revoked or unknown token answers Google's
  ``400 {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}``.

Access tokens it issues are checked by the other emulators with :meth:`OAuthEmulator.check_bearer`.

    oauth = OAuthEmulator(public_keys=google_keys.public_keys(),
                          refresh_tokens={"1//rt": RefreshGrant("cid", "secret", "user@x")})
    with serve_in_thread(oauth.app) as server:
        token_uri = server.url + "/token"
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google refuses assertions valid for longer than an hour, and tolerates small clock skew.
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300
ACCESS_TOKEN_LIFETIME = 3599


@dataclass
class RefreshGrant:
    """A refresh token the emulator accepts: who it belongs to and which client may use it."""

    client_id: str
    client_secret: str
    principal: str = "user@example.com"
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/gmail.modify",)


@dataclass
class AccessToken:
    token: str
    principal: str  # service account client_email, or the user behind a refresh token
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass
class OAuthEmulator:
    public_keys: Mapping[str, RSAPublicKey] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshGrant] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, AccessToken] = {}
        self.revoked_refresh_tokens: set[str] = set()
        self.requests: Counter[str] = Counter()  # grant type -> count (also "total")
        self.app = Starlette(routes=[Route("/token", self._token, methods=["POST"])])

    # --- what tests and the other emulators call -------------------------------------------
    def revoke(self, token: str) -> None:
        """Revoke a refresh token (the user removed access) or an access token."""
        with self._lock:
            if token in self.tokens:
                self.tokens[token].revoked = True
            else:
                self.revoked_refresh_tokens.add(token)

    def expire_access_tokens(self) -> None:
        """Make every issued access token stale, so clients must refresh (401 first)."""
        with self._lock:
            for issued in self.tokens.values():
                issued.expires_at = self.clock() - 1

    def token_info(self, token: str) -> AccessToken | None:
        with self._lock:
            issued = self.tokens.get(token)
        if issued is None or issued.revoked or issued.expires_at <= self.clock():
            return None
        return issued

    def is_valid(self, token: str) -> bool:
        return self.token_info(token) is not None

    def bearer_info(self, request: Request) -> AccessToken | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return self.token_info(token.strip())

    def check_bearer(self, request: Request) -> bool:
        return self.bearer_info(request) is not None

    # --- the endpoint -----------------------------------------------------------------------
    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        grant_type = str(form.get("grant_type", ""))
        with self._lock:
            self.requests["total"] += 1
            self.requests[grant_type] += 1
        if grant_type == JWT_BEARER:
            return self._jwt_bearer(str(form.get("assertion", "")), request)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _jwt_bearer(self, assertion: str, request: Request) -> JSONResponse:
        try:
            header, claims, signing_input, signature = _split_jwt(assertion)
        except ValueError:
            return _error(400, "invalid_grant", "Invalid JWT: malformed assertion.")
        key = self.public_keys.get(str(header.get("kid", "")))
        if header.get("alg") != "RS256" or key is None:
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
        if urlsplit(str(claims.get("aud", ""))).path != request.url.path:
            return _error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        now = self.clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp - iat > MAX_ASSERTION_LIFETIME
            or iat > now + CLOCK_SKEW
            or exp < now - CLOCK_SKEW
        ):
            return _error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = tuple(str(claims.get("scope", "")).split())
        if not scopes:
            return _error(400, "invalid_scope", "Empty or missing scope not allowed.")
        issued = self._issue(str(claims.get("sub") or claims.get("iss", "")), scopes)
        return JSONResponse(
            {
                "access_token": issued.token,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "token_type": "Bearer",
            }
        )

    def _refresh(self, form: Mapping[str, object]) -> JSONResponse:
        refresh_token = str(form.get("refresh_token", ""))
        grant = self.refresh_tokens.get(refresh_token)
        if grant is None or refresh_token in self.revoked_refresh_tokens:
            return _error(400, "invalid_grant", "Token has been expired or revoked.")
        if form.get("client_id") != grant.client_id:
            return _error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != grant.client_secret:
            return _error(401, "invalid_client", "Unauthorized")
        issued = self._issue(grant.principal, grant.scopes)
        return JSONResponse(
            {
                "access_token": issued.token,
                "expires_in": ACCESS_TOKEN_LIFETIME,
                "scope": " ".join(grant.scopes),
                "token_type": "Bearer",
            }
        )

    def _issue(self, principal: str, scopes: tuple[str, ...]) -> AccessToken:
        issued = AccessToken(
            token="ya29.emu-" + secrets.token_urlsafe(24),
            principal=principal,
            scopes=scopes,
            expires_at=self.clock() + ACCESS_TOKEN_LIFETIME,
        )
        with self._lock:
            self.tokens[issued.token] = issued
        return issued


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _split_jwt(assertion: str) -> tuple[dict, dict, bytes, bytes]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("a JWT has three parts")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("undecodable JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("JWT header and claims must be objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature
