"""An emulated Make.com custom webhook (the receiver of the hub's outbound events).

Like Make's own: answers ``200`` with the text ``Accepted`` once a bundle is queued, caps
payloads at 5 MB (413), and allows 300 requests per 10 s (429 beyond). For tests it records
every request (raw body + headers) and can be told to fail the next N requests::

    hook = MakeWebhook()
    hook.fail_next(2, status=500)
    with serve_in_thread(hook.app) as server:
        url = server.url + "/hook/abc"
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

MAX_PAYLOAD_BYTES = 5 * 1024 * 1024
RATE_LIMIT = (300, 10.0)  # requests per seconds


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int
    at: float = field(default_factory=time.time)


class MakeWebhook:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._recent: deque[float] = deque()
        self.app = Starlette(routes=[Route("/hook/{hook_id}", self._receive, methods=["POST"])])

    def fail_next(self, times: int, *, status: int = 500, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self._lock:
            self._failures.extend([(status, headers)] * times)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]

    async def _receive(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] > RATE_LIMIT[1]:
                self._recent.popleft()
            self._recent.append(now)
            if len(body) > MAX_PAYLOAD_BYTES:
                status, text, headers = 413, "Payload too large.", {}
            elif len(self._recent) > RATE_LIMIT[0]:
                status, text, headers = 429, "Too many requests.", {}
            elif self._failures:
                status, headers = self._failures.popleft()
                text = "Scenario failed to complete."
            else:
                status, text, headers = 200, "Accepted", {}
            self.received.append(Received(request.url.path, dict(request.headers), body, status))
        return PlainTextResponse(text, status_code=status, headers=headers)
