"""Serve an ASGI app on a free loopback port in a background thread, for tests and benches.

    with serve_in_thread(app) as server:
        httpx.get(server.url + "/healthz")

The server is ready when the context is entered (we poll ``started`` with a deadline, never
sleep a fixed time) and fully stopped when it is left.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread


def wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.01, what: str = "it"):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def serve_in_thread(app, *, port: int | None = None, **uvicorn_options) -> Iterator[RunningServer]:
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level=uvicorn_options.pop("log_level", "warning"),
        lifespan=uvicorn_options.pop("lifespan", "on"),
        **uvicorn_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what=f"server on {port}")
        if not server.started:
            raise RuntimeError(f"server on port {port} failed to start")
        yield RunningServer(url=f"http://127.0.0.1:{port}", port=port, server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def async_wait_until(
    predicate, *, timeout: float = 10.0, interval: float = 0.01, what: str = "it"
):
    """:func:`wait_until` for code on an event loop: polls without blocking the loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def next_loop_turn() -> None:
    """Let the event loop run once: callbacks already scheduled (a ``call_soon_threadsafe``
    wake-up, a coroutine at its next step) get their turn. Not a wait for time; for that,
    poll with :func:`async_wait_until`."""
    import asyncio

    await asyncio.sleep(0)
