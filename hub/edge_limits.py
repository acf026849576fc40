"""The bounded edge: request heads, query strings and slow bodies are refused before any route.

uvicorn's h11 parser buffers at most ``h11_max_incomplete_event_size`` (16 KiB) of a request
head that has not arrived yet, but a head that arrives in one read is taken whole, whatever its
size (10,000 headers pass), and nothing bounds how long a body takes to arrive. So:

- :class:`EdgeLimits`, an ASGI middleware around the whole app, refuses (JSON, ``Connection:
  close``) more than :data:`MAX_HEADERS` headers or :data:`MAX_HEADER_BYTES` of them (431), a
  path and query longer than :data:`MAX_TARGET_BYTES` (414), more than
  :data:`MAX_QUERY_PARAMS` query parameters (400), ``Content-Length`` together with
  ``Transfer-Encoding`` (400: the two framings disagree, a request-smuggling shape, RFC 9112
  §6.1), and a body that has not arrived ``HUB_BODY_TIMEOUT`` after the head (408). It reads
  the body (up to ``HUB_MAX_BODY_BYTES`` + 1 bytes, so the route still refuses a larger one
  with its own message) and hands it to the app as it came.
- :class:`BoundedH11Protocol`, uvicorn's h11 protocol, answers a head that outgrows h11's
  buffer with 414 (the request line alone is too long) or 431 (the headers are) instead of
  "400 Invalid HTTP request", and reads and drops what the client still sends for a moment
  before closing: closing with unread data makes the kernel reset the connection, and the
  client never sees the answer (a 1,000,000-character query string got a reset).

Cost on the webhook path: about 2 us a request (one pass over the headers, the body read
registered with one shared timer: :class:`_BodyWatch`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024  # names and values together; h11's own buffer is 16 KiB too
MAX_TARGET_BYTES = 8 * 1024  # path and query string; most proxies stop at 8 KiB as well
MAX_QUERY_PARAMS = 100
# After answering an oversized head: read and drop at most this much, for at most this long.
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024

_CLOSE = (b"connection", b"close")
_JSON = (b"content-type", b"application/json")


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def refusal_for_head(scope: Scope) -> tuple[int, str, str] | None:
    """Why the request head is refused: ``(status, code, message)``, or None."""
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS:
        return (
            431,
            "too_many_headers",
            f"the request has {len(headers)} headers; at most {MAX_HEADERS} are accepted",
        )
    size = 0
    for name, value in headers:
        size += len(name) + len(value)
    if size > MAX_HEADER_BYTES:
        return (
            431,
            "headers_too_large",
            f"the request headers hold {size} bytes; at most {MAX_HEADER_BYTES} are accepted",
        )
    query = scope["query_string"]
    target = len(scope.get("raw_path") or b"") + len(query)
    if target > MAX_TARGET_BYTES:
        return (
            414,
            "uri_too_long",
            f"the path and query string are {target} bytes long; at most {MAX_TARGET_BYTES} "
            "are accepted (send long lists in a JSON body)",
        )
    if query and query.count(b"&") >= MAX_QUERY_PARAMS:
        return (
            400,
            "too_many_query_parameters",
            f"the query string has {query.count(b'&') + 1} parameters; at most "
            f"{MAX_QUERY_PARAMS} are accepted (send long lists in a JSON body)",
        )
    return None


def framing(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bool]:
    """``(Content-Length, has Transfer-Encoding)`` of a request."""
    length: bytes | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


async def refuse(send: Send, status: int, code: str, message: str) -> None:
    body = _error_body(code, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(body)).encode()), _CLOSE],
        }
    )
    await send({"type": "http.response.body", "body": body})


class EdgeLimits:
    """ASGI middleware: the limits above, then the app with the body already read."""

    def __init__(self, app: ASGIApp, *, body_timeout: float = 10.0, max_body_bytes: int = 1 << 20):
        self.app = app
        self.body_timeout = body_timeout
        self.max_body_bytes = max_body_bytes
        self._watch: _BodyWatch | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = refusal_for_head(scope)
        if refused is not None:
            await refuse(send, *refused)
            return
        length, chunked = framing(scope["headers"])
        if length is not None and chunked:
            await refuse(
                send,
                400,
                "ambiguous_framing",
                "the request has both Content-Length and Transfer-Encoding; send only one",
            )
            return
        if not chunked and (length is None or length == b"0" or not length.isdigit()):
            # No body announced (or a bad Content-Length, which the route refuses by name).
            await self.app(scope, receive, send)
            return
        if length is not None and int(length) > self.max_body_bytes:
            await self.app(scope, receive, send)  # the route refuses it by its header
            return
        messages = await self._read_body(receive)
        if messages is None:
            await refuse(
                send,
                408,
                "body_timeout",
                f"the request body did not arrive within {self.body_timeout:g} s "
                "(HUB_BODY_TIMEOUT); send the whole request at once",
            )
            return
        await self.app(scope, _replay(messages, receive), send)

    def _watcher(self) -> _BodyWatch:
        loop = asyncio.get_running_loop()
        watch = self._watch
        if watch is None or watch.loop is not loop:  # a test client may bring another loop
            watch = self._watch = _BodyWatch(loop, tick=min(0.25, self.body_timeout / 4))
        return watch

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The body's messages (up to one past the size cap, or a disconnect), or None when
        it did not arrive in time."""
        messages: list[Message] = []
        size = 0
        watch = self._watcher()
        task = asyncio.current_task()
        assert task is not None
        watch.add(task, watch.loop.time() + self.body_timeout)
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    return messages
                size += len(message.get("body", b""))
                if size > self.max_body_bytes:
                    return messages  # the route refuses it with its own 413
        except asyncio.CancelledError:
            if not watch.expired(task):
                raise
            task.uncancel()  # the cancel was ours: the request is answered, not abandoned
            return None
        finally:
            watch.discard(task)


class _BodyWatch:
    """One timer for every body being read, instead of one per request: a timer costs more
    than the rest of the guard (a call_later each, ~5 us), and nearly every webhook's body is
    already there when it is asked for. Every ``tick`` seconds, while any body is being read,
    the reads past their deadline are cancelled (so a deadline is kept within one tick)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, tick: float):
        self.loop = loop
        self.tick = tick
        self._reading: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, task: asyncio.Task[Any], deadline: float) -> None:
        self._reading[task] = deadline
        if self._timer is None:
            self._timer = self.loop.call_later(self.tick, self._sweep)

    def discard(self, task: asyncio.Task[Any]) -> None:
        self._reading.pop(task, None)
        self._expired.discard(task)

    def expired(self, task: asyncio.Task[Any]) -> bool:
        return task in self._expired

    def _sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        for task, deadline in list(self._reading.items()):
            if deadline <= now:
                del self._reading[task]
                self._expired.add(task)
                task.cancel()
        if self._reading:
            self._timer = self.loop.call_later(self.tick, self._sweep)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replay


# --- uvicorn -------------------------------------------------------------------------------------
def _raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = _error_body(code, message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; a request head that outgrows h11's buffer gets 414 or 431, and
    the connection lingers (reading and dropping) so the client reads that answer."""

    _lingering = False
    _dropped = 0

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        buffered, _ = self.conn.trailing_data
        limit: int = getattr(self.conn, "_max_incomplete_event_size", 16 * 1024)
        if len(buffered) <= limit:
            super().send_400_response(msg)  # a malformed request, not an oversized one
            return
        if b"\n" not in buffered:
            answer = _raw_response(
                414,
                "URI Too Long",
                "uri_too_long",
                f"the request line is longer than {limit} bytes; at most {MAX_TARGET_BYTES} "
                "bytes of path and query string are accepted",
            )
        else:
            answer = _raw_response(
                431,
                "Request Header Fields Too Large",
                "headers_too_large",
                f"the request headers are larger than {limit} bytes",
            )
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._lingering = True
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def uvicorn_limits() -> dict[str, Any]:
    """What ``hub serve`` passes to uvicorn for the edge (besides :class:`EdgeLimits`)."""
    return {
        "http": BoundedH11Protocol,
        # h11's buffer for a head not yet complete (its default, made explicit).
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        # Connections plus requests in flight; beyond, uvicorn answers 503 at once.
        "limit_concurrency": 2048,
        "timeout_keep_alive": 5,
    }
