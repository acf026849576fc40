"""50 concurrent deliveries of one webhook, over real HTTP, make exactly one job."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from hub.app import create_app
from tests.emulators.serve import serve_in_thread
from webhooks.make import make_webhook_url
from webhooks.signing import sign_standard
from webhooks.tokens import body_signing_key

KEYS = ["key-old", "key-new"]


@pytest.fixture
def served_hub(settings):
    settings.secret_keys = KEYS
    settings.tick_minutes = 0
    app = create_app(settings)
    with serve_in_thread(app) as running:
        running.app = app
        yield running


async def deliver_concurrently(url: str, body: bytes, headers: dict[str, str], n: int = 50):
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        start = asyncio.Event()

        async def one():
            await start.wait()
            began = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            return response, time.perf_counter() - began

        tasks = [asyncio.create_task(one()) for _ in range(n)]
        start.set()
        return await asyncio.gather(*tasks)


def assert_one_job(served_hub, results, action):
    statuses = sorted(r.status_code for r, _ in results)
    assert statuses == [200] * 49 + [202], statuses
    job_ids = {r.json()["job_id"] for r, _ in results}
    assert len(job_ids) == 1
    duplicates = [r.json() for r, _ in results if r.status_code == 200]
    assert all(d["duplicate"] is True for d in duplicates)
    state = served_hub.app.state.services.state
    jobs = [j for j in state.list_jobs(action) if j["source"] == "make"]
    assert [j["id"] for j in jobs] == list(job_ids)
    assert state.query("SELECT COUNT(*) FROM inbox")[0][0] == 1
    verdicts = [d["verdict"] for d in state.list_deliveries(limit=100)]
    assert sorted(verdicts) == ["accepted"] + ["duplicate"] * 49
    latencies = sorted(t for _, t in results)
    print(
        f"\n50 concurrent deliveries: p50 {latencies[24] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )


async def test_fifty_identical_unsigned_deliveries_create_one_job(served_hub):
    url = make_webhook_url(served_hub.url, "score", KEYS)
    body = json.dumps({"max_prospects": 5}).encode()
    results = await deliver_concurrently(url, body, {"content-type": "application/json"})
    assert_one_job(served_hub, results, "score")


async def test_fifty_retries_of_one_signed_webhook_id_create_one_job(served_hub):
    url = make_webhook_url(served_hub.url, "enrich", KEYS)
    body = json.dumps({"max_prospects": 2}).encode()
    ts = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": "msg_make_retry_1",
        "webhook-timestamp": str(ts),
        "webhook-signature": sign_standard(
            body_signing_key(KEYS[-1]), "msg_make_retry_1", ts, body
        ),
    }
    results = await deliver_concurrently(url, body, headers)
    assert_one_job(served_hub, results, "enrich")
