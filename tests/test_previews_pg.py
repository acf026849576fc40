"""Dry-run previews on several machines (``HUB_DATABASE_URL``): one ``.eml`` per recipient
across all their outbox folders, written again only on the machine that holds it."""

from __future__ import annotations

import asyncio
from email import message_from_bytes
from email.utils import parseaddr

import pytest

from hub.app import build_store
from hub.config import Settings
from hub.mail.outbox import OutboxMailer
from hub.sending.previews import PreviewClaims
from hub.services import Services
from hub.stages.send import run_send
from hub.state.pools import close_pools
from tests.helpers_send_crash import add_rows

ROWS = 12


@pytest.fixture
def machines(postgres_dsn, tmp_path):
    def settings_for(name):
        return Settings(
            _env_file=None, data_dir=tmp_path / name, database_url=postgres_dsn,
            sender_name="Ada", sender_address="1 Canal Street", public_url="https://hub.example",
            send_gap_seconds="0", secret_keys=["k" * 40], api_keys=["a" * 40],
        )  # fmt: skip

    found = [settings_for("a"), settings_for("b")]
    yield found
    close_pools()


def recipients(settings) -> list[str]:
    return [
        parseaddr(str(message_from_bytes(p.read_bytes())["To"]))[1]
        for p in settings.outbox_dir.glob("*.eml")
    ]


def send_on(settings) -> dict:
    store = build_store(settings)
    services = Services(settings, store, mailer=OutboxMailer(settings.outbox_dir))
    try:
        return asyncio.run(run_send(services, {}))
    finally:
        services.close()


def test_a_second_machine_does_not_write_previews_the_first_holds(machines):
    a, b = machines
    store = build_store(a)
    store.ensure_schema()
    add_rows(store, ROWS)
    send_on(a)
    assert len(recipients(a)) == ROWS
    send_on(b)  # the other machine's send job sees every step previewed in a's folder
    assert recipients(b) == []
    send_on(a)  # the holder previews again: the same files, overwritten
    assert sorted(recipients(a)) == sorted(f"editor{i}@gallery{i}.example" for i in range(ROWS))
    rows = store.rows()
    store.close()
    assert {r["outreach_status"] for r in rows} == {"drafted"}  # a dry run sends nothing
    assert all(r["hold_reason"].startswith("DRY_RUN h_") for r in rows)


def test_a_claim_left_unwritten_by_a_dead_process_is_taken_over(machines):
    a, b = machines
    gone = PreviewClaims(a, "999999999:dead")  # a process that claimed, then died
    assert gone.claim("h1", 0) == ("write", "")
    live_elsewhere = PreviewClaims(a, "4242:x@another-machine")
    mine = PreviewClaims(b, "1:me")
    assert mine.claim("h1", 0) == ("write", "")  # the dead claimant wrote nothing
    mine.written("h1", 0, "h1-0.eml")
    assert live_elsewhere.claim("h1", 0) == ("done", "h1-0.eml")
    other = PreviewClaims(a, "4242:y@another-machine")
    assert other.claim("h2", 0) == ("write", "")
    assert mine.claim("h2", 0) == ("busy", "")  # being written by a live process elsewhere


def test_a_file_renamed_by_a_process_that_died_before_its_mark_is_not_written_again(machines):
    # The kill fell between the outbox's rename and the claim's mark: the file is in the dead
    # holder's folder, the claim says unwritten. A process on this host looks there first.
    a, b = machines
    gone = PreviewClaims(a, "999999999:dead")
    assert gone.claim("h3", 0) == ("write", "")
    OutboxMailer(a.outbox_dir).send(built_for("h3"), preview_name="h3-0")
    mine = PreviewClaims(b, "1:me")
    assert mine.claim("h3", 0) == ("done", "h3-0.eml")
    assert mine.claim("h3", 0) == ("done", "h3-0.eml")  # now marked written for good
    assert not list(b.outbox_dir.glob("*.eml"))


def built_for(hub_id: str):
    from email.message import EmailMessage

    message = EmailMessage()
    message["To"], message["Subject"] = f"{hub_id}@gallery.example", "Hello"
    message["Message-ID"] = f"<{hub_id}@hub.example>"
    message.set_content("Hello")
    return message


async def test_a_dry_run_send_is_shared_by_two_workers(machines, postgres_dsn):
    """The send job splits its rows into slices; both workers run them, side by side."""
    from hub.jobs.runner import JobRunner
    from hub.state.postgres import PostgresState
    from tests.emulators.serve import async_wait_until

    rows = 600
    store = build_store(machines[0])
    store.ensure_schema()
    add_rows(store, rows)
    store.close()
    workers = []
    for settings, concurrency in zip(machines, (2, 4), strict=True):
        state = PostgresState(postgres_dsn)
        services = Services(
            settings, build_store(settings), state=state, mailer=OutboxMailer(settings.outbox_dir)
        )
        runner = JobRunner(services, concurrency=concurrency)
        services.runner = runner
        workers.append(services)
    for services in workers:
        await services.runner.start()
    try:
        job_id = await workers[0].runner.submit("send", {})
        job = await async_wait_until(
            lambda: (
                (j := workers[1].state.get_job(job_id))["status"] != "running"
                and j["status"] != "pending"
                and j
            ),
            timeout=120,
            what="the send job to end",
        )
    finally:
        for services in workers:
            await services.runner.stop()
            services.close()
    assert job["status"] == "completed", job["error"]
    assert job["result"]["dry_run"] == rows and job["result"]["slices"] == rows // 100
    a, b = (recipients(settings) for settings in machines)
    assert a and b  # both workers wrote previews
    assert sorted(a + b) == sorted(f"editor{i}@gallery{i}.example" for i in range(rows))


async def test_cancelling_a_sliced_send_cancels_its_slices(machines, postgres_dsn):
    from hub.jobs.runner import JobRunner
    from hub.state.postgres import PostgresState
    from tests.emulators.serve import async_wait_until

    settings = machines[0]
    store = build_store(settings)
    store.ensure_schema()
    add_rows(store, 600)
    state = PostgresState(postgres_dsn)
    services = Services(settings, store, state=state, mailer=OutboxMailer(settings.outbox_dir))
    runner = JobRunner(services, concurrency=2)  # the send job and one slice at a time
    services.runner = runner
    await runner.start()
    try:
        job_id = await runner.submit("send", {})
        await async_wait_until(
            lambda: any(j["status"] == "running" for j in state.list_jobs("send_slice")),
            what="a slice running",
        )
        await runner.cancel(job_id)
        job = await async_wait_until(
            lambda: (j := state.get_job(job_id))["status"] not in ("pending", "running") and j,
            timeout=60,
            what="the send job to end",
        )
        slices = state.list_jobs("send_slice", parent_id=job_id)
    finally:
        await runner.stop()
        services.close()
    assert job["status"] == "cancelled"
    statuses = [s["status"] for s in slices]
    assert "cancelled" in statuses and set(statuses) <= {"completed", "cancelled"}
    started = [s for s in slices if s["started_at"]]
    assert len(started) < len(slices) == 6  # the queued slices never ran
    assert len(recipients(settings)) <= 100 * len(started) < 600
