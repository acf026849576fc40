"""A dry-run send split into slices on PostgreSQL (issue 23): the parent job never holds the
slot its slices need, and two workers share the rows evenly, within one slice."""

from __future__ import annotations

import os
from collections import Counter
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

import psycopg
import pytest

from hub.app import build_store
from hub.config import Settings
from hub.jobs.runner import JobRunner
from hub.mail.outbox import OutboxMailer
from hub.services import Services
from hub.stages.slices import MIN_SLICE_ROWS, SLICE_ROWS, slice_sizes
from hub.state.pools import close_pools
from hub.state.postgres import PostgresState
from tests.emulators.serve import async_wait_until, wait_until
from tests.helpers_send_crash import add_rows
from tests.hub_processes import HubProcess, pg_env


def settings_for(dsn: str, data_dir: Path, **extra) -> Settings:
    return Settings(
        _env_file=None, data_dir=data_dir, database_url=dsn, sender_name="Ada",
        sender_address="1 Canal Street", public_url="https://hub.example", send_gap_seconds="0",
        secret_keys=["k" * 40], api_keys=["a" * 40], **extra,
    )  # fmt: skip


def recipients(outbox: Path) -> Counter:
    return Counter(
        parseaddr(str(message_from_bytes(p.read_bytes())["To"]))[1]
        for p in outbox.glob("*.eml")
        if not p.name.startswith(".")
    )


@pytest.mark.parametrize("rows", [1, 19, 20, 50, 100, 333, 1000, 5000])
def test_slices_cover_every_row_once_largest_first_and_the_tail_shrinks(rows):
    sizes = slice_sizes(rows)
    assert sum(sizes) == rows
    assert sizes == sorted(sizes, reverse=True)
    assert max(sizes) <= SLICE_ROWS and min(sizes[:-1] or [MIN_SLICE_ROWS]) >= MIN_SLICE_ROWS
    if rows >= 1000:  # the last rows come in small slices, so workers end close together
        assert sizes[0] == SLICE_ROWS and sum(sizes[-4:]) <= SLICE_ROWS


@pytest.fixture
def one_slot_worker(postgres_dsn, tmp_path):
    """One worker with ``HUB_JOB_CONCURRENCY=1``, on a shared database (so a dry run fans out)."""
    settings = settings_for(postgres_dsn, tmp_path / "worker", job_concurrency=1)
    store = build_store(settings)
    store.ensure_schema()
    services = Services(
        settings, store, state=PostgresState(postgres_dsn), mailer=OutboxMailer(settings.outbox_dir)
    )
    services.runner = JobRunner(services)
    yield services
    services.close()
    close_pools()


async def test_a_sliced_send_completes_with_one_slot_and_one_worker(one_slot_worker):
    services = one_slot_worker
    rows = 2 * SLICE_ROWS
    add_rows(services.store, rows)
    assert services.runner.concurrency == 1
    await services.runner.start()
    try:
        job_id = await services.runner.submit("send", {})
        job = await async_wait_until(
            lambda: (
                (j := services.state.get_job(job_id))["status"] not in ("pending", "running") and j
            ),
            timeout=60,
            what="the send job to end (its slices wait for the slot it holds?)",
        )
    finally:
        await services.runner.stop()
    assert job["status"] == "completed", job["error"]
    assert job["result"]["slices"] >= 2 and job["result"]["dry_run"] == rows
    sent = recipients(services.settings.outbox_dir)
    assert len(sent) == rows and set(sent.values()) == {1}


def listening(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query ILIKE 'LISTEN%%'"
        ).fetchone()[0]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_two_worker_processes_share_a_sliced_send_within_one_slice(postgres_dsn, tmp_path):
    """Two ``hub worker`` processes run the slices of one 1,000-row dry-run send. A worker
    that lost its candidates to the other's claim used to leave its slots idle, and the last
    full-size slices went to whichever worker freed a slot first."""
    rows = 1000
    store = build_store(settings_for(postgres_dsn, tmp_path / "seed"))
    store.ensure_schema()
    add_rows(store, rows)
    store.close()
    close_pools()
    send_env = {
        "HUB_SENDER_NAME": "Ada", "HUB_SENDER_ADDRESS": "1 Canal Street",
        "HUB_PUBLIC_URL": "https://hub.example", "HUB_SEND_GAP_SECONDS": "0",
        "HUB_DAILY_CAP": "100000", "HUB_PER_DOMAIN_DAILY_CAP": "100000",
    }  # fmt: skip
    workers = [
        HubProcess(["worker"], pg_env(postgres_dsn, tmp_path / n / "hub-data", **send_env), name=n)
        for n in ("w1", "w2")
    ]
    # Both on one CPU, so the machine gives them the same speed: the split then shows the
    # scheduling alone (a worker the OS gives twice the CPU rightly sends twice the rows).
    cpus = os.sched_getaffinity(0)
    state = PostgresState(postgres_dsn, listen=False)
    try:
        os.sched_setaffinity(0, {min(cpus)})  # inherited by the processes started now
        try:
            for worker in workers:
                worker.start()
        finally:
            os.sched_setaffinity(0, cpus)
        wait_until(lambda: listening(postgres_dsn) >= 2, timeout=60, what="both workers listening")
        job_id = state.insert_job("send", {})
        job = wait_until(
            lambda: (j := state.get_job(job_id))["status"] not in ("pending", "running") and j,
            timeout=180,
            interval=0.1,
            what="the send job to end",
        )
    finally:
        state.close()
        for worker in workers:
            worker.stop()
    assert job["status"] == "completed", job["error"]
    counts = [recipients(w.data_dir / "outbox") for w in workers]
    assert sum(counts, Counter()) == Counter(
        {f"editor{i}@gallery{i}.example": 1 for i in range(rows)}
    )  # every recipient exactly once, across both
    # Each within one slice of an even share (today's 400/600 and 300/700 are not).
    shares = [sum(c.values()) for c in counts]
    assert all(abs(share - rows / 2) < SLICE_ROWS for share in shares), shares
