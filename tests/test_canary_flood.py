"""No secret in any output under load and a crash: 2,000 signed deliveries into `hub serve`,
SIGKILLed mid-flood and restarted, with a canary in every secret setting (tests/canaries.py).

Afterwards everything the two processes printed (uvicorn's access log included) and every file
under the data dir (state, store, outbox) are searched for the canaries and for the webhook
capability tokens, which the access log must mask. Jobs run meanwhile against providers that
refuse every connection (their errors quote URLs: Hunter's carries ``api_key=``), so the logs
have errors to leak through if redaction misses one.
"""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from sheets.local import LocalStore
from tests.canaries import Canaries
from tests.emulators.hunter import HunterEmulator
from tests.emulators.serve import serve_in_thread, wait_until
from tests.helpers_send_crash import add_rows
from tests.hub_processes import HubProcess
from webhooks.make import make_webhook_url
from webhooks.signing import sign_standard
from webhooks.tokens import body_signing_key

DELIVERIES = 2_000
KILL_AFTER = 600  # acknowledged deliveries before the SIGKILL
CONNECTIONS = 32
IDENTITIES = """
[[identity]]
name = "ada"
mailer = "smtp"
from = "Ada <ada@artist.example>"
daily_cap = 5
smtp_host = "127.0.0.1"
imap_host = "127.0.0.1"
smtp_password_env = "ADA_SMTP_PASSWORD"
imap_password_env = "ADA_IMAP_PASSWORD"
"""
pytestmark = pytest.mark.timeout(180)


def _deliveries(url: str, key: str) -> list[tuple[str, dict[str, str], bytes]]:
    signing_key = body_signing_key(key)
    now = int(time.time())
    found = []
    for i in range(DELIVERIES):
        msg_id = f"msg_canary_{i:05d}"
        body = f'{{"hub_id":"h_canary_{i:05d}","outreach_status":"enriched"}}'.encode()
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(now),
            "webhook-signature": sign_standard(signing_key, msg_id, now, body),
        }
        found.append((url, headers, body))
    return found


async def _flood(hub: HubProcess, deliveries, *, kill_after: int | None) -> list[int]:
    """Deliver all, ``CONNECTIONS`` at a time; SIGKILL the hub once ``kill_after`` are
    acknowledged. Returns the indexes not acknowledged (to deliver again, as Make retries)."""
    acknowledged: set[int] = set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(deliveries)):
        queue.put_nowait(index)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            url, headers, body = deliveries[index]
            try:
                response = await client.post(url, headers=headers, content=body)
            except httpx.HTTPError:
                continue  # the hub is gone: delivered again after the restart
            if response.status_code in (200, 202):
                acknowledged.add(index)
                if kill_after is not None and len(acknowledged) >= kill_after and hub.alive():
                    hub.proc.send_signal(signal.SIGKILL)

    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONNECTIONS)))
    if kill_after is not None:
        hub.proc.wait(10)
    return sorted(set(range(len(deliveries))) - acknowledged)


def test_no_canary_anywhere_after_a_flood_and_a_sigkill(tmp_path):
    canaries = Canaries.planted()
    data_dir = tmp_path / "hub-data"
    data_dir.mkdir()
    identities = tmp_path / "identities.toml"
    identities.write_text(IDENTITIES)
    hunter = serve_in_thread(HunterEmulator().app)  # refuses the canary key: 401
    running_hunter = hunter.__enter__()
    env = canaries.env(
        data_dir,
        HUB_HUNTER_API_URL=running_hunter.url + "/v2",
        HUB_IDENTITIES_FILE=str(identities),
        HUB_LOG_LEVEL="info",  # the access log is on: every token it would print
        HUB_DISCOVERY_SWEEP_MINUTES="0",
    )
    key = canaries.values["HUB_SECRET_KEYS"]
    tokens = {
        action: make_webhook_url("", action, [key]).rsplit("/", 1)[1]
        for action in ("row_changed", "enrich")
    }

    store = LocalStore(data_dir / "prospects.sqlite3")
    store.ensure_schema()
    add_rows(store, 3, outreach_status="pending", contact_email="")  # for Hunter to look up
    store.close()

    first = HubProcess(["serve"], env, name="flood-1").start()
    try:
        deliveries = _deliveries(first.url + make_webhook_url("", "row_changed", [key]), key)
        # An enrich job against a Hunter that refuses the key: a failed job, a traceback.
        httpx.post(first.url + make_webhook_url("", "enrich", [key]), json={}, timeout=10)
        missed = asyncio.run(_flood(first, deliveries, kill_after=KILL_AFTER))
    finally:
        if first.alive():
            first.kill()
    assert missed, "the SIGKILL came after every delivery"

    second = HubProcess(["serve"], env, name="flood-2")
    second.port, second.url = first.port, first.url  # the same address, as after a restart
    second.start()
    try:
        again = [deliveries[i] for i in missed]
        auth = {"authorization": f"Bearer {canaries.values['HUB_API_KEYS']}"}

        def enrich_ended() -> bool:
            found = httpx.get(second.url + "/api/jobs?job_type=enrich", headers=auth, timeout=30)
            return all(j["status"] in ("failed", "completed") for j in found.json()["jobs"])

        assert asyncio.run(_flood(second, again, kill_after=None)) == []
        wait_until(enrich_ended, timeout=60, interval=0.2, what="the enrich job to end")
        jobs = httpx.get(second.url + "/api/jobs?job_type=enrich", headers=auth, timeout=30)
        assert jobs.status_code == 200  # what the status page and Make read back
        output_api = jobs.text
    finally:
        second.stop()
        hunter.__exit__(None, None, None)

    output = first.log() + second.log() + output_api
    assert '"status":"failed"' in output_api and "HUNTER_API_KEY" in output_api
    assert "POST /webhooks/make/**********" in output  # the access log was on, and masked
    assert canaries.found_in(output) == []
    for action, token in tokens.items():
        assert token not in output and token.rsplit(".", 1)[-1] not in output, action
    assert canaries.found_in_files(data_dir) == {}
