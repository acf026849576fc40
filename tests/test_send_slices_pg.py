"""A dry-run send split into slices on PostgreSQL (issue 23): the parent job never holds the
slot its slices need, and two workers share the rows evenly, within one slice."""

from __future__ import annotations

from collections import Counter
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

import pytest

from hub.config import Settings
from hub.jobs.runner import JobRunner
from hub.mail.outbox import OutboxMailer
from hub.sending.slices import SLICE_ROWS
from hub.services import Services, build_store
from hub.state.pools import close_pools
from hub.state.postgres import PostgresState
from tests.emulators.serve import async_wait_until
from tests.helpers_send_crash import add_rows


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
