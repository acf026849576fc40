"""DataForSEO v3 SERP client: task_post (with callbacks), task_get, tasks_ready, live.

DataForSEO answers HTTP 200 for most errors: the truth is in the envelope's ``status_code``
(20000 = ok) and in each ``tasks[].status_code`` (20100 = created). :func:`explain` turns the
codes users meet into plain words; the job shows them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from hub.errors import ProviderError, QuotaExhausted
from hub.providers.ratelimit import MultiWindowLimiter, Window
from hub.providers.retry import retry_after_or_backoff

log = logging.getLogger(__name__)

PROVIDER = "DataForSEO"
OK = 20000
TASK_CREATED = 20100
# task_get before the task is done: "Task Handed." / "Task In Queue." -> ask again later.
TASK_NOT_READY = frozenset({40601, 40602})
MAX_TASKS_PER_POST = 100  # documented cap of one task_post array
SERP = "/v3/serp/google/organic"

STATUS_WORDS = {
    40000: "the request was refused",
    40006: "too many tasks in one request (at most 100)",
    40100: "authentication failed: check DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD",
    40200: "the account balance is used up: top up DataForSEO",
    40201: "the account is blocked or not verified",
    40202: "too many requests per minute: slow down",
    40203: "the daily spend limit set in the DataForSEO dashboard was reached",
    40204: "this API is not included in the account's plan",
    40400: "not found",
    40401: "the task id is not known to DataForSEO",
    40403: "the task results have expired (kept 30 days)",
    40501: "a field of the task is invalid",
    40503: "the POST body must be a JSON array of tasks",
    40601: "the task is still being processed",
    40602: "the task is still in the queue",
    50000: "DataForSEO had an internal error",
}
_QUOTA_CODES = frozenset({40200, 40203})
_RETRY_CODES = frozenset({40202, 50000, 50301})

# A few common names -> DataForSEO location codes; anything else goes as location_name.
LOCATION_CODES = {
    "united states": 2840,
    "usa": 2840,
    "us": 2840,
    "united kingdom": 2826,
    "uk": 2826,
    "canada": 2124,
    "australia": 2036,
    "germany": 2276,
    "france": 2250,
    "spain": 2724,
    "italy": 2380,
}


def explain(code: Any, message: str = "") -> str:
    """``40501 invalid field: Invalid Field: 'keyword'.`` — code, our words, their words."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = 0
    words = STATUS_WORDS.get(number, "")
    parts = [str(code), words, message.strip()]
    return " ".join(p for p in parts[:2] if p) + (f" ({parts[2]})" if parts[2] else "")


def location_fields(location: str) -> dict[str, Any]:
    text = location.strip()
    if text.isdigit():
        return {"location_code": int(text)}
    code = LOCATION_CODES.get(text.lower())
    return {"location_code": code} if code else {"location_name": text}


class DataForSEOError(ProviderError):
    def __init__(self, code: Any, message: str, *, http_status: int | None = None):
        super().__init__(
            PROVIDER, explain(code, message), provider_status=http_status, provider_code=str(code)
        )
        self.status_code = code


class _Retry(DataForSEOError):
    """A transient refusal (rate limit, internal error): retried with backoff."""

    def __init__(self, code: Any, message: str, retry_after: float | None):
        super().__init__(code, message)
        self.retry_after = retry_after


def check_envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        if response.status_code >= 500:
            raise _Retry(response.status_code, "server error", None)
        raise DataForSEOError(response.status_code, "the answer was not JSON")
    code = body.get("status_code")
    message = str(body.get("status_message") or "")
    if code == OK:
        return body
    retry_after = response.headers.get("Retry-After")
    if code in _RETRY_CODES or response.status_code >= 500 or response.status_code == 429:
        raise _Retry(code, message, float(retry_after) if retry_after else None)
    if code in _QUOTA_CODES:
        raise QuotaExhausted(PROVIDER, explain(code, message), provider_code=str(code))
    raise DataForSEOError(code or response.status_code, message, http_status=response.status_code)


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _Retry | httpx.TransportError)


_wait = retry_after_or_backoff(multiplier=1, max_wait=20)


class DataForSEOClient:
    provider_name = PROVIDER

    def __init__(
        self,
        login: str,
        password: str,
        base_url: str = "https://api.dataforseo.com",
        *,
        timeout: float = 60.0,
        max_attempts: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._auth = httpx.BasicAuth(login, password)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._transport = transport
        self._clients: dict[int, tuple[httpx.AsyncClient, MultiWindowLimiter]] = {}

    def _client(self) -> tuple[httpx.AsyncClient, MultiWindowLimiter]:
        # One httpx client (and limiter) per event loop: the server and the CLI use their own.
        loop_id = id(asyncio.get_running_loop())
        if loop_id not in self._clients:
            client = httpx.AsyncClient(
                base_url=self._base_url,
                auth=self._auth,
                timeout=self._timeout,
                transport=self._transport,
            )
            # Documented: at most 2000 API calls per minute per account.
            self._clients = {loop_id: (client, MultiWindowLimiter([Window(2000, 60.0)]))}
        return self._clients[loop_id]

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        http, limiter = self._client()
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=_wait,
            stop=stop_after_attempt(self._max_attempts),
            reraise=True,
        ):
            with attempt:
                await limiter.acquire()
                response = await http.request(method, path, json=body)
                return check_envelope(response)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def task_post(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Post tasks in arrays of at most 100; returns every ``tasks[]`` entry, in order.

        Each entry keeps its own ``status_code`` (20100 created, or why it was refused).
        """
        answered: list[dict[str, Any]] = []
        for start in range(0, len(tasks), MAX_TASKS_PER_POST):
            batch = tasks[start : start + MAX_TASKS_PER_POST]
            body = await self._call("POST", f"{SERP}/task_post", batch)
            answered.extend(body.get("tasks") or [])
        return answered

    async def task_get(self, task_id: str, kind: str = "advanced") -> dict[str, Any]:
        """The whole ``task_get`` answer (the same shape a postback delivers)."""
        return await self._call("GET", f"{SERP}/task_get/{kind}/{task_id}")

    async def tasks_ready(self) -> list[dict[str, Any]]:
        """Finished tasks not collected yet: ``[{id, tag, date_posted, endpoint_advanced...}]``."""
        body = await self._call("GET", f"{SERP}/tasks_ready")
        ready: list[dict[str, Any]] = []
        for task in body.get("tasks") or []:
            ready.extend(task.get("result") or [])
        return ready

    async def live(self, task: dict[str, Any]) -> dict[str, Any]:
        """``live/advanced``: one task answered at once, in the ``task_get`` shape."""
        return await self._call("POST", f"{SERP}/live/advanced", [task])

    async def aclose(self) -> None:
        for client, _limiter in self._clients.values():
            await client.aclose()
        self._clients = {}

    def close(self) -> None:
        self._clients = {}


def build_serp(settings) -> DataForSEOClient | None:
    """The DataForSEO client when DATAFORSEO_LOGIN is set; None = discovery by import only."""
    if not settings.uses_dataforseo:
        return None
    return DataForSEOClient(
        settings.dataforseo_login,
        settings.dataforseo_password.get_secret_value(),
        settings.dataforseo_api_url,
    )
