"""Group commit of inbound webhooks (hub.inbox_writer): many deliveries in one transaction, each
in its own savepoint, and nothing acknowledged before its COMMIT: SIGKILL `hub serve` while
webhooks pour in, and every 202 it answered is in the state DB with its job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.inbox_writer import InboundWriter
from hub.state.sqlite import State
from tests.emulators.serve import async_wait_until, free_port, wait_until
from webhooks.make import make_webhook_url
from webhooks.signing import sign_standard
from webhooks.tokens import body_signing_key

ROOT = Path(__file__).resolve().parents[1]
KEY = "group-commit-key-0123456789abcdef"


def _item(key: str, *, job: bool = True) -> dict:
    return {
        "source": "make",
        "action": "score",
        "payload": {"n": key},
        "dedupe_key": key,
        "window_seconds": 600,
        "received_at": time.time(),
        "job": ("score", {"n": key}) if job else None,
    }


def test_one_group_keeps_good_items_when_one_fails_and_dedupes_within_the_group(tmp_path):
    state = State(tmp_path / "state.sqlite3")
    bad = _item("k-bad")
    # fails after its job row was inserted: the savepoint must take that job back too
    bad["window_seconds"] = "not a number"
    results = state.persist_inbound_many([_item("k1"), bad, _item("k2"), _item("k1")])

    assert isinstance(results[1], TypeError)
    first, _, second, again = results
    assert not first.duplicate and not second.duplicate
    assert again.duplicate and again.job_id == first.job_id
    assert state.query("SELECT COUNT(*) FROM inbox")[0][0] == 2
    assert {j["id"] for j in state.list_jobs()} == {first.job_id, second.job_id}


async def test_concurrent_deliveries_share_transactions_and_log_lines_follow(tmp_path):
    state = State(tmp_path / "state.sqlite3")
    writer = InboundWriter(state)
    saved = await asyncio.gather(*(writer.persist(**_item(f"k{i}")) for i in range(100)))
    state.queue_delivery(
        at="2026-01-01T00:00:00+00:00",
        route="make",
        action="score",
        verdict="accepted",
        status=202,
        reason="queued",
        job_id=saved[0].job_id,
    )
    writer.kick()
    await writer.drain()

    assert len({s.job_id for s in saved}) == 100
    assert writer.groups < 100  # grouped: fewer transactions than deliveries
    assert state.query("SELECT COUNT(*) FROM deliveries")[0][0] == 1  # written, not only queued
    assert not state.has_queued_deliveries()


def _start_hub(data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "PYTHONPATH": str(ROOT),
        "HUB_DATA_DIR": str(data_dir),
        "HUB_SECRET_KEYS": KEY,
        "HUB_REQUIRE_SIGNATURE": "true",
        "HUB_TICK_MINUTES": "0",
        "HUB_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from hub.cli import main; main()", "serve", "--port", str(port)],
        cwd=data_dir.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        assert proc.poll() is None, "hub serve exited"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=30, interval=0.05, what="hub serve")
    return proc


@pytest.mark.timeout(120)
async def test_every_acknowledged_webhook_survives_sigkill(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    proc = _start_hub(data_dir, port)
    url = make_webhook_url(f"http://127.0.0.1:{port}", "row_changed", [KEY])
    signing_key = body_signing_key(KEY)
    acked: list[str] = []
    counter = iter(range(1_000_000))

    async def sender(client: httpx.AsyncClient) -> None:
        while True:
            n = next(counter)
            body = f'{{"hub_id":"row-{n}"}}'.encode()
            msg_id, ts = f"msg_kill_{n}", int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign_standard(signing_key, msg_id, ts, body),
            }
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                return  # the server is gone
            if response.status_code == 202:
                acked.append(response.json()["job_id"])

    try:
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=32)) as client:
            senders = [asyncio.create_task(sender(client)) for _ in range(32)]
            # Kill mid-stream, once the senders have had plenty acknowledged.
            await async_wait_until(lambda: len(acked) >= 300, timeout=60, what="300 acks")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            await asyncio.wait_for(asyncio.gather(*senders), 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    assert len(acked) >= 300
    state = State(data_dir / "state.sqlite3")
    stored_jobs = {r[0] for r in state.query("SELECT id FROM jobs")}
    inbox_jobs = {r[0] for r in state.query("SELECT job_id FROM inbox")}
    state.close()
    missing = [j for j in acked if j not in stored_jobs or j not in inbox_jobs]
    assert missing == [], f"{len(missing)} acknowledged webhooks were lost"
