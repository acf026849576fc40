"""The security cases every inbound endpoint must pass (django-anymail's ``webhook_cases.py``).

Each case sends one request that must be refused, then asserts: the right 4xx (never a 5xx),
a JSON ``{"error": {"code", "message"}}`` whose message says what is wrong, no secret in the
answer or the delivery log, and NOTHING handed to the hub (``accepted()`` stays empty).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar

import pytest
from starlette.testclient import TestClient

from tests.helpers_signing import NOW, RecordingAccept

OLD_KEY = "key-2025-rotated-out-soon"
NEW_KEY = "key-2026-current"
WRONG_KEY = "key-nobody-configured"


@dataclass(frozen=True)
class Req:
    """One request to send: ``method`` and ``url`` (path + query), headers, raw body."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


class WebhookSecurityCases:
    """Abstract base: subclass it as ``class TestXxxSecurity(WebhookSecurityCases)``.

    Hooks a subclass implements:

    * ``build_app(self, accept, record) -> ASGI app`` — the app under test, wired to the
      recording ``accept`` callback and ``record`` list (for ``/api``: your app, however your
      inbox reaches the store; then override ``accepted()`` to return what was stored).
    * ``authenticated(self, body, *, key=NEW_KEY, **overrides) -> Req`` — a request that passes
      every check when ``body`` is valid; ``key`` is the secret to authenticate with (a URL token,
      a body signature or a bearer key); ``overrides`` break one field (scheme-specific names,
      e.g. ``timestamp=...``, ``signature=...``).
    * ``unauthenticated(self, body) -> Req`` — the same request with no credentials at all.
    * ``valid_body(self) -> bytes`` and ``wrong_types_body(self) -> bytes`` (valid JSON whose
      fields have the wrong types) — only if ``has_body``.

    Optional:

    * ``malformed_credentials(self, body) -> dict[str, Req]`` — named requests whose credential
      header is unparseable (``garbage``, ``v1,not-base64!!``, a non-numeric timestamp, ...).
    * ``dated(self, body, when: datetime) -> Req | None`` — credentials signed at ``when``;
      return None (the default) when the scheme carries no timestamp: old/future cases skip.
    * class flags ``has_body`` (False for a GET), ``credential_word`` (a word the refusal of bad
      credentials contains: "signature", "token", "key"), ``credentials_cover_body`` (False when
      only a URL token authenticates, so a changed body is not detectable), ``accepts_gzip`` (bad gzip and gzip bomb
      cases), ``unauthenticated_status`` (401), and the limits ``max_body_bytes`` /
      ``max_decompressed_bytes`` the app must be built with.

    The keys the app must be configured with are ``[OLD_KEY, NEW_KEY]`` (oldest first), and its
    clock must read ``NOW``.
    """

    has_body: ClassVar[bool] = True
    credential_word: ClassVar[str] = "signature"  # named in the refusal of bad credentials
    credentials_cover_body: ClassVar[bool] = True  # False when only the URL is authenticated
    accepts_gzip: ClassVar[bool] = False
    unauthenticated_status: ClassVar[int] = 401
    max_body_bytes: ClassVar[int] = 64 * 1024
    max_decompressed_bytes: ClassVar[int] = 512 * 1024
    secret_keys: ClassVar[list[str]] = [OLD_KEY, NEW_KEY]
    now: ClassVar[datetime] = NOW

    # --- hooks ---------------------------------------------------------------------------
    def build_app(self, accept, record):  # pragma: no cover - abstract
        raise NotImplementedError

    def authenticated(self, body: bytes, *, key: str = NEW_KEY, **overrides: Any) -> Req:
        raise NotImplementedError  # pragma: no cover - abstract

    def unauthenticated(self, body: bytes) -> Req:
        raise NotImplementedError  # pragma: no cover - abstract

    def valid_body(self) -> bytes:
        return b""

    def wrong_types_body(self) -> bytes:
        return b""

    def malformed_credentials(self, body: bytes) -> dict[str, Req]:
        return {}

    def dated(self, body: bytes, when: datetime) -> Req | None:
        return None

    def accepted(self) -> list[Any]:
        return self.accept.events

    # --- plumbing --------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _app(self):
        self.accept = RecordingAccept()
        self.deliveries: list[Any] = []
        with TestClient(self.build_app(self.accept, self.deliveries.append)) as client:
            self.client = client
            yield

    def send(self, request: Req):
        return self.client.request(
            request.method, request.url, headers=request.headers, content=request.content
        )

    def assert_refused(self, response, status: int | tuple[int, ...], *words: str) -> dict:
        statuses = status if isinstance(status, tuple) else (status,)
        assert response.status_code in statuses, (response.status_code, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"]
        message = error["message"].lower()
        for word in words:
            assert word.lower() in message, (word, error["message"])
        for secret in (*self.secret_keys, WRONG_KEY):
            assert secret not in response.text
        assert self.accepted() == [], "a refused request reached the hub"
        if self.deliveries:  # the /api subclass may not log deliveries
            last = self.deliveries[-1]
            assert (last.verdict, last.status) == ("refused", response.status_code)
            assert not any(secret in last.reason for secret in (*self.secret_keys, WRONG_KEY))
        return error

    def _body(self) -> bytes:
        return self.valid_body() if self.has_body else b""

    def _require_body(self):
        if not self.has_body:
            pytest.skip("this endpoint takes no body")

    # --- the cases ---------------------------------------------------------------------------
    def test_valid_request_is_accepted(self):
        response = self.send(self.authenticated(self._body()))
        assert response.status_code == 202, response.text
        assert response.json()["job_id"]
        assert len(self.accepted()) == 1

    def test_rotated_key_still_accepted(self):
        response = self.send(self.authenticated(self._body(), key=OLD_KEY))
        assert response.status_code == 202, response.text
        assert len(self.accepted()) == 1

    def test_missing_credentials_refused(self):
        response = self.send(self.unauthenticated(self._body()))
        self.assert_refused(response, self.unauthenticated_status, self.credential_word)

    def test_wrong_key_refused(self):
        response = self.send(self.authenticated(self._body(), key=WRONG_KEY))
        self.assert_refused(response, 401, self.credential_word)

    def test_old_credentials_refused(self):
        request = self.dated(
            self._body(), datetime.fromtimestamp(NOW.timestamp() - 301, NOW.tzinfo)
        )
        if request is None:
            pytest.skip("this scheme carries no timestamp")
        self.assert_refused(self.send(request), 401, "too old")

    def test_future_credentials_refused(self):
        request = self.dated(
            self._body(), datetime.fromtimestamp(NOW.timestamp() + 301, NOW.tzinfo)
        )
        if request is None:
            pytest.skip("this scheme carries no timestamp")
        self.assert_refused(self.send(request), 401, "future")

    def test_credentials_within_tolerance_accepted(self):
        request = self.dated(
            self._body(), datetime.fromtimestamp(NOW.timestamp() - 299, NOW.tzinfo)
        )
        if request is None:
            pytest.skip("this scheme carries no timestamp")
        assert self.send(request).status_code == 202

    def test_malformed_credentials_refused(self):
        variants = self.malformed_credentials(self._body())
        if not variants:
            pytest.skip("no credential header to malform")
        for name, request in variants.items():
            response = self.send(request)
            assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
            self.assert_refused(response, response.status_code, self.credential_word)

    def test_body_changed_after_signing_refused(self):
        self._require_body()
        if not self.credentials_cover_body:
            pytest.skip("only the URL is authenticated")
        request = self.authenticated(self.valid_body())
        tampered = replace(request, content=request.content + b" ")
        self.assert_refused(self.send(tampered), 401, self.credential_word)

    def test_oversized_body_refused(self):
        self._require_body()
        body = b'{"padding": "' + b"x" * self.max_body_bytes + b'"}'
        self.assert_refused(self.send(self.authenticated(body)), 413, "larger than")

    def test_oversized_streamed_body_refused(self):
        """Without Content-Length (chunked), the cap still holds: we count what we read."""
        self._require_body()
        request = self.authenticated(b"x" * (self.max_body_bytes + 1))
        chunks = [request.content[i : i + 8192] for i in range(0, len(request.content), 8192)]
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        response = self.client.request(
            request.method, request.url, headers=headers, content=iter(chunks)
        )
        self.assert_refused(response, 413, "larger than")

    def test_invalid_json_refused(self):
        self._require_body()
        for body in (b"{not json", b'{"a": 1', '{"a": "\xe9"}'.encode("latin-1"), b"[" * 50_000):
            self.assert_refused(self.send(self.authenticated(body)), 400, "JSON")

    def test_wrong_types_refused(self):
        self._require_body()
        self.assert_refused(self.send(self.authenticated(self.wrong_types_body())), 422)

    def test_bad_gzip_refused(self):
        if not self.accepts_gzip:
            pytest.skip("this endpoint takes no gzip")
        good = gzip.compress(self.valid_body())
        for body in (
            b"\x1f\x8b" + b"\x00" * 40,
            good[: len(good) // 2],
            good[:-4] + b"\x00\x00\x00\x00",
        ):
            self.assert_refused(self.send(self.authenticated(body)), 400, "gzip")

    def test_gzip_bomb_refused(self):
        if not self.accepts_gzip:
            pytest.skip("this endpoint takes no gzip")
        # Valid JSON that inflates to 16x the cap while staying far below the body cap.
        inner = b'{"tasks": [], "padding": "' + b" " * (16 * self.max_decompressed_bytes) + b'"}'
        bomb = gzip.compress(inner, compresslevel=9)
        assert len(bomb) < self.max_body_bytes
        self.assert_refused(self.send(self.authenticated(bomb)), 413, "decompressed")

    def test_refusals_are_logged_without_secrets(self):
        self.send(self.authenticated(self._body(), key=WRONG_KEY))
        self.send(self.unauthenticated(self._body()))
        if not self.deliveries:
            pytest.skip("this endpoint keeps no delivery log")
        text = json.dumps([d.reason for d in self.deliveries])
        assert all(d.verdict == "refused" for d in self.deliveries)
        assert not any(secret in text for secret in (*self.secret_keys, WRONG_KEY))
