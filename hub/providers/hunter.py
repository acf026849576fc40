"""Hunter.io v2 client: domain-search and email-verifier, inside Hunter's rate limits.

Hunter's status codes mean different things and are handled differently (API_NOTES.md):

- 403: "rate limit reached" -> slow down: back off (honouring ``Retry-After``) and retry;
- 429 *with* ``Retry-After`` (the newer convention) -> also a rate limit, retried;
- 429 without it, or 402 -> the plan's searches are used up -> :class:`QuotaExhausted`, stop;
- 401 -> the key is wrong -> :class:`ProviderError` naming ``HUNTER_API_KEY``;
- 400 -> bad parameters -> :class:`ProviderError` with Hunter's own details.

The key travels in the ``X-API-KEY`` header, never in the URL, so it cannot leak into a log line.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
)

from hub.errors import ProviderError, QuotaExhausted
from hub.providers.ratelimit import MultiWindowLimiter, hunter_limits, wire_trace
from hub.providers.retry import retry_after_or_backoff

log = logging.getLogger(__name__)

PROVIDER = "Hunter"
# Documented limits (https://hunter.io/api/v2/docs#rate-limiting).
DOMAIN_SEARCH_PER_SECOND, DOMAIN_SEARCH_PER_MINUTE = 15, 500
VERIFIER_PER_SECOND, VERIFIER_PER_MINUTE = 10, 300
CONNECTIONS_PER_POOL = 4


class HunterSlowDown(ProviderError):
    """Hunter asked us to slow down (403, or 429 with Retry-After): retried with backoff."""

    def __init__(self, message: str, *, status: int, retry_after: float | None):
        super().__init__(PROVIDER, message, provider_status=status, provider_code="rate_limit")
        self.retry_after = retry_after


class HunterUnavailable(ProviderError):
    """A 5xx: retried a few times (after ``Retry-After`` when given), then reported."""

    def __init__(self, message: str, *, status: int, code: str, retry_after: float | None):
        super().__init__(PROVIDER, message, provider_status=status, provider_code=code)
        self.retry_after = retry_after


class HunterStillRunning(Exception):
    """The email-verifier answered 202: the check is still running; ask again shortly."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _first_error(response: httpx.Response) -> tuple[str, str]:
    """Hunter's ``{"errors":[{"id","code","details"}]}`` -> (id, details)."""
    try:
        errors = response.json().get("errors") or [{}]
        first = errors[0] if isinstance(errors, list) and errors else {}
        return str(first.get("id") or ""), str(first.get("details") or "")
    except (ValueError, AttributeError):
        return "", response.text[:200]


def raise_for_hunter(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    error_id, details = _first_error(response)
    retry_after = _retry_after(response)
    if status == 403 or (status == 429 and retry_after is not None):
        raise HunterSlowDown(
            details or "rate limit reached", status=status, retry_after=retry_after
        )
    if status in (402, 429):
        raise QuotaExhausted(
            PROVIDER,
            f"the plan's requests are used up ({status} {error_id}): {details}".strip(),
            provider_status=status,
            provider_code=error_id or "quota",
        )
    if status == 401:
        raise ProviderError(
            PROVIDER,
            "the API key was refused (401): check HUNTER_API_KEY",
            provider_status=401,
            provider_code=error_id or "authentication_failed",
        )
    if status >= 500:
        raise HunterUnavailable(
            f"server error {status}", status=status, code=error_id, retry_after=retry_after
        )
    raise ProviderError(
        PROVIDER,
        f"request refused ({status} {error_id}): {details}".strip(),
        provider_status=status,
        provider_code=error_id,
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, HunterSlowDown | HunterUnavailable | HunterStillRunning | httpx.TransportError
    )


_wait = retry_after_or_backoff(multiplier=0.5, max_wait=10)


class HunterClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.hunter.io/v2",
        *,
        rate_per_second: float = DOMAIN_SEARCH_PER_SECOND,
        timeout: float = 20.0,
        max_attempts: int = 6,
        transport: httpx.AsyncBaseTransport | None = None,
        max_in_flight: int = 16,
    ):
        if not api_key:
            raise ValueError("Hunter needs an API key (HUNTER_API_KEY)")
        # Several small connection pools instead of one big one: httpcore re-scans every
        # (request, connection) pair of a pool on each event, which costs more CPU than the
        # requests themselves once dozens are in flight (measured in bench/enrich_hunter.py).
        shards = max(1, math.ceil(max_in_flight / CONNECTIONS_PER_POOL))
        # One TLS context for all of them: each httpx client would otherwise load the CA bundle
        # again (~20 ms each, 0.18 s for 8 pools before the first request, in the job's time).
        tls = httpx.create_ssl_context()
        self._pools = [
            httpx.AsyncClient(
                base_url=base_url.rstrip("/"),
                headers={"X-API-KEY": api_key, "Accept": "application/json"},
                timeout=timeout,
                verify=tls,
                transport=transport,
                limits=httpx.Limits(
                    max_connections=CONNECTIONS_PER_POOL,
                    max_keepalive_connections=CONNECTIONS_PER_POOL,
                ),
            )
            for _ in range(shards)
        ]
        self._next_pool = itertools.cycle(self._pools)
        self._max_attempts = max_attempts
        self.search_limiter = MultiWindowLimiter(
            hunter_limits(rate_per_second, DOMAIN_SEARCH_PER_SECOND, DOMAIN_SEARCH_PER_MINUTE)
        )
        verifier_rate = rate_per_second * VERIFIER_PER_SECOND / DOMAIN_SEARCH_PER_SECOND
        self.verify_limiter = MultiWindowLimiter(
            hunter_limits(verifier_rate, VERIFIER_PER_SECOND, VERIFIER_PER_MINUTE)
        )

    @property
    def rate_per_second(self) -> float:
        return self.search_limiter.rate_per_second

    async def _get(
        self, path: str, params: dict[str, Any], limiter: MultiWindowLimiter
    ) -> httpx.Response:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=_wait,
            stop=stop_after_attempt(self._max_attempts),
            reraise=True,
        ):
            with attempt:
                async with limiter.call() as on_wire:
                    response = await next(self._next_pool).get(
                        path, params=params, extensions=wire_trace(on_wire)
                    )
                    raise_for_hunter(response)  # inside: an error answer is no usual answer
                if response.status_code == 202:
                    raise HunterStillRunning(path)
                return response
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def domain_search(self, domain: str, *, limit: int = 10) -> dict[str, Any]:
        """``data`` of ``GET /domain-search``: emails[], accept_all, pattern, webmail..."""
        response = await self._get(
            "/domain-search", {"domain": domain, "limit": limit}, self.search_limiter
        )
        return response.json().get("data") or {}

    async def verify_email(self, email: str) -> dict[str, Any]:
        """``data`` of ``GET /email-verifier``; ``{"status": "unknown"}`` if it never finished."""
        try:
            response = await self._get("/email-verifier", {"email": email}, self.verify_limiter)
        except HunterStillRunning:
            return {"email": email, "status": "unknown"}
        return response.json().get("data") or {}

    async def account(self) -> dict[str, Any]:
        response = await self._get("/account", {}, self.search_limiter)
        return response.json().get("data") or {}

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()
