"""Hunter.io v2 emulator: domain-search, email-verifier and account, in Hunter's wire shapes.

Answers follow the recorded payloads (``tests/fixtures/real/hunter_*.json``): a domain-search
for any domain is Hunter's own fixture with ``acme.com`` replaced by that domain, unless a test
set ``emulator.domains[domain]``. It enforces the documented limits with sliding windows
(domain-search 15/s and 500/min, verifier 10/s and 300/min; configurable for the bench) and
answers a request over the limit with **403** (Hunter's "slow down"), the used-up plan with
**429** (or 402) and the recorded body, a wrong key with **401**, a missing domain with 400.
Every request is counted; ``violations`` counts requests refused for going over a limit.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections import Counter, deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fixtures import load_real

API_KEY = "test-hunter-key"
_TEMPLATE_DOMAIN = "acme.com"


def hunter_error(status: int, error_id: str, details: str, headers=None) -> JSONResponse:
    body = {"errors": [{"id": error_id, "code": status, "details": details}]}
    return JSONResponse(body, status_code=status, headers=headers)


class SlidingWindow:
    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def full(self, now: float) -> bool:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        return len(self.times) >= self.limit


class HunterEmulator:
    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        per_second: int = 15,
        per_minute: int = 500,
        verifier_per_second: int = 10,
        verifier_per_minute: int = 300,
        searches_left: int | None = None,
        quota_status: int = 429,
        latency: float = 0.0,
    ):
        self.api_key = api_key
        self.limits = {
            "domain-search": [SlidingWindow(per_second, 1.0), SlidingWindow(per_minute, 60.0)],
            "email-verifier": [
                SlidingWindow(verifier_per_second, 1.0),
                SlidingWindow(verifier_per_minute, 60.0),
            ],
        }
        self.searches_left = searches_left
        self.quota_status = quota_status
        self.latency = latency
        self.domains: dict[str, dict[str, Any]] = {}  # domain -> the `data` to answer
        self.verifications: dict[str, str] = {}  # email -> verification status
        self.verifier_pending: dict[str, int] = {}  # email -> how many 202s to answer first
        self.injected: deque[tuple[int, dict[str, str]]] = deque()  # (status, headers) to answer
        self.requests: Counter[str] = Counter()
        self.searched: list[str] = []
        self.violations = 0
        self._lock = threading.Lock()
        self._template = load_real("hunter_domain_search.json")
        self._template_text = json.dumps(self._template)
        self._verifier_template = load_real("hunter_email_verifier.json")
        self.app = Starlette(
            routes=[
                Route("/v2/domain-search", self.domain_search),
                Route("/v2/email-verifier", self.email_verifier),
                Route("/v2/account", self.account),
                # Not Hunter's: lets a bench read the counters when the emulator runs elsewhere.
                Route("/_emulator/stats", self.stats),
            ]
        )

    # --- test controls -------------------------------------------------------------------
    def inject(self, status: int, retry_after: float | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``status`` (403 slow down, 429, 402, 503)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        for _ in range(times):
            self.injected.append((status, headers))

    def set_emails(self, domain: str, emails: list[dict[str, Any]], **data: Any) -> None:
        self.domains[domain] = {"domain": domain, "emails": emails, **data}

    # --- shared checks ---------------------------------------------------------------------
    def _gate(self, request: Request, endpoint: str) -> JSONResponse | None:
        self.requests[endpoint] += 1
        key = request.headers.get("X-API-KEY") or request.query_params.get("api_key")
        if key != self.api_key:
            return hunter_error(
                401, "authentication_failed", "No user found for the API key supplied"
            )
        with self._lock:
            if self.injected:
                status, headers = self.injected.popleft()
                return self._injected(status, headers)
            windows = self.limits.get(endpoint, [])
            now = time.monotonic()
            if any(w.full(now) for w in windows):
                self.violations += 1
                return hunter_error(
                    403,
                    "too_many_requests",
                    "You have reached the rate limit for this endpoint. Slow down.",
                )
            for window in windows:
                window.times.append(now)
            if endpoint == "domain-search" and self.searches_left is not None:
                if self.searches_left <= 0:
                    return self._quota()
                self.searches_left -= 1
        return None

    def _quota(self) -> JSONResponse:
        if self.quota_status == 402:
            return hunter_error(
                402, "payment_required", "Your plan does not include any more requests."
            )
        recorded = load_real("hunter_error_429_too_many_requests_recorded.json")
        return JSONResponse(recorded, status_code=429)

    def _injected(self, status: int, headers: dict[str, str]) -> JSONResponse:
        if status in (402, 429) and not headers:
            return self._quota()
        if status == 403:
            return hunter_error(403, "too_many_requests", "Slow down.", headers)
        if status == 429:
            return hunter_error(429, "too_many_requests", "Rate limit reached.", headers)
        return hunter_error(status, "server_error", "Something went wrong", headers)

    # --- endpoints -------------------------------------------------------------------------
    async def domain_search(self, request: Request) -> JSONResponse:
        refused = self._gate(request, "domain-search")
        if refused is not None:
            return refused
        domain = request.query_params.get("domain", "").strip().lower()
        if not domain and not request.query_params.get("company"):
            return JSONResponse(load_real("hunter_error_400_wrong_params_docs.json"), 400)
        if self.latency:
            await asyncio.sleep(self.latency)
        self.searched.append(domain)
        if domain not in self.domains:
            # The recorded answer with the domain swapped in: a string replace keeps the
            # emulator cheap enough for the 150 requests/s bench on a busy machine.
            text = self._template_text.replace(_TEMPLATE_DOMAIN, domain)
            return Response(text, media_type="application/json")
        body = copy.deepcopy(self._template)
        body["data"] = {**body["data"], **copy.deepcopy(self.domains[domain])}
        body["meta"]["results"] = len(body["data"].get("emails") or [])
        body["meta"]["params"]["domain"] = domain
        return JSONResponse(body)

    async def email_verifier(self, request: Request) -> JSONResponse:
        refused = self._gate(request, "email-verifier")
        if refused is not None:
            return refused
        email = request.query_params.get("email", "").strip().lower()
        if not email:
            return hunter_error(400, "wrong_params", "You are missing the email parameter")
        if self.verifier_pending.get(email, 0) > 0:
            self.verifier_pending[email] -= 1
            return JSONResponse({"data": {"status": "unknown", "email": email}}, 202)
        body = copy.deepcopy(self._verifier_template)
        body["data"]["email"] = email
        body["meta"]["params"]["email"] = email
        status = self.verifications.get(email, "valid")
        body["data"]["status"] = status
        body["data"]["result"] = "deliverable" if status == "valid" else "undeliverable"
        return JSONResponse(body)

    async def stats(self, request: Request) -> JSONResponse:
        return JSONResponse({"requests": dict(self.requests), "violations": self.violations})

    async def account(self, request: Request) -> JSONResponse:
        refused = self._gate(request, "account")
        if refused is not None:
            return refused
        left = self.searches_left if self.searches_left is not None else 25000
        return JSONResponse(
            {
                "data": {
                    "email": "test@hub.example",
                    "plan_name": "Emulated",
                    "requests": {"searches": {"used": self.requests["domain-search"],
                                              "available": left}},
                }
            }
        )  # fmt: skip
