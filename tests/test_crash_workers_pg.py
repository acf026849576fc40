"""Two ``hub worker`` processes on PostgreSQL, a real send (the Gmail client against the Gmail
emulator): the worker running the send job is SIGKILLed at random moments and started again,
Gmail sometimes stores a message and answers 500, and the job — taken over each time by
whichever worker claims it — ends with every recipient having exactly one message.

The job is queued straight into the shared database (what an edge does); the workers wake on
its NOTIFY. Kill moments come from a seeded RNG and are chosen by polling the emulator.
"""

from __future__ import annotations

import random
from collections import Counter

import psycopg
import pytest

from hub.state.postgres import PostgresState
from sheets.postgres import PostgresStore
from tests.emulators.serve import wait_until
from tests.helpers_send_crash import add_rows, gmail_world, sent_recipients
from tests.hub_processes import HubProcess, pg_env

ROWS = 80
KILLS = 3
FAULTS = 2

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


def gmail_env(values: dict) -> dict[str, str]:
    return {
        "HUB_MAILER": "gmail",
        "HUB_GMAIL_API_URL": values["gmail_api_url"],
        "HUB_GOOGLE_TOKEN_URL": values["google_token_url"],
        "GMAIL_CLIENT_ID": values["gmail_client_id"],
        "GMAIL_CLIENT_SECRET": values["gmail_client_secret"],
        "GMAIL_REFRESH_TOKEN": values["gmail_refresh_token"],
        "GMAIL_SENDER": values["gmail_sender"],
        "HUB_SENDER_NAME": values["sender_name"],
        "HUB_SENDER_ADDRESS": values["sender_address"],
        "HUB_PUBLIC_URL": values["public_url"],
        "HUB_SEND_GAP_SECONDS": "0",
        "HUB_DAILY_CAP": "1000",
        "HUB_PER_DOMAIN_DAILY_CAP": "1000",
    }


def lease_holder_pid(dsn: str, job_id: str) -> int | None:
    with psycopg.connect(dsn) as conn:
        (owner, status) = conn.execute(
            "SELECT lease_owner, status FROM jobs WHERE id=%s", (job_id,)
        ).fetchone()
    return int(owner.split(":")[1]) if owner and status == "running" else None


def test_two_hub_workers_killed_at_random_send_each_message_once(postgres_dsn, tmp_path):
    store = PostgresStore(postgres_dsn)
    store.ensure_schema()
    add_rows(store, ROWS)
    rng = random.Random(20261204)
    with gmail_world() as world:
        env = gmail_env(world.settings)
        workers = [
            HubProcess(["worker"], pg_env(postgres_dsn, tmp_path / n / "hub-data", **env), name=n)
            for n in ("w1", "w2")
        ]
        try:
            for worker in workers:
                worker.start()
            state = PostgresState(postgres_dsn, listen=False)
            job_id = state.insert_job("send", {"chunk_size": 5})
            for number in range(KILLS):
                if number < FAULTS:  # Gmail stores the message, then answers 500
                    world.gmail.inject("500_after_store", api_method="users.messages.send")
                target = len(world.gmail.sent()) + rng.randint(2, 8)
                wait_until(
                    lambda t=target: len(world.gmail.sent()) >= t,
                    timeout=60,
                    what="a kill moment",
                )
                pid = wait_until(lambda: lease_holder_pid(postgres_dsn, job_id), what="holder")
                (holder,) = [w for w in workers if w.proc.pid == pid]
                holder.kill()
                holder.start()  # back, as a supervisor would restart it
            job = wait_until(
                lambda: (j := state.get_job(job_id))["status"] in ("completed", "failed") and j,
                timeout=120,
                what="the send job to end",
            )
            state.close()
        finally:
            for worker in workers:
                worker.stop()
        recipients = Counter(sent_recipients(world.gmail))

    assert job["status"] == "completed", job["error"]
    assert job["attempts"] == KILLS + 1  # claimed again after every kill
    assert set(recipients) == {f"editor{i}@gallery{i}.example" for i in range(ROWS)}
    assert max(recipients.values()) == 1  # none twice
    assert Counter(r["outreach_status"] for r in store.rows()) == {"sent": ROWS}
    store.close()
    with psycopg.connect(postgres_dsn) as conn:
        (found,) = conn.execute("SELECT COUNT(*) FROM sends WHERE how='reconciled'").fetchone()
    assert found >= FAULTS  # each "500 after store" was found in Sent mail, not sent again
