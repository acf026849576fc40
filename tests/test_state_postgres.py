"""What only the PostgreSQL state has: numbered migrations (and ``hub db``), settings that
refuse per-machine keys, wake-ups and cancels across processes, one tick per period.

Two ``PostgresState`` objects on one database stand for two hub processes (each has its own
pool and its own LISTEN connection, as a process has).
"""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import Settings
from hub.errors import ConfigError
from hub.jobs.runner import JobRunner
from hub.services import Services
from hub.stages.tick import periodic_tick
from hub.state.migrate import database_version
from hub.state.migrations import CODE_VERSION, SchemaBehind, SchemaTooNew
from hub.state.postgres import DatabaseUnavailable, PostgresState
from tests.core_plugin import marking_stage, registered
from tests.emulators.serve import async_wait_until, wait_until
from tests.legacy_schema import PG_MIGRATIONS

cli = CliRunner()


@pytest.fixture
def states(postgres_dsn):
    opened: list[PostgresState] = []

    def make(**kwargs):
        opened.append(PostgresState(postgres_dsn, **kwargs))
        return opened[-1]

    yield make
    for state in opened:
        state.close()


def db_env(dsn):
    return {"HUB_DATABASE_URL": dsn, "HUB_SECRET_KEYS": "s" * 40, "HUB_API_KEYS": "a" * 40}


# --- migrations ---------------------------------------------------------------------------------
def test_a_fresh_database_is_migrated_once_in_order(postgres_dsn, states):
    first = states()
    states()  # a second hub starting on the same database applies nothing again
    assert first.schema_version == CODE_VERSION
    rows = first.query("SELECT version, name FROM hub_schema_migrations ORDER BY version")
    # The history reads as it did before Alembic (names included): older hubs look there.
    assert [(r[0], r[1]) for r in rows] == [(v, name) for v, name, _ in PG_MIGRATIONS]


def test_hub_db_upgrade_applies_then_has_nothing_to_do(postgres_dsn, monkeypatch):
    for name, value in db_env(postgres_dsn).items():
        monkeypatch.setenv(name, value)
    done = cli.invoke(app, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    assert f"applied migrations {', '.join(map(str, range(1, CODE_VERSION + 1)))}" in done.output
    assert "prospect store schema at version 1" in done.output  # the store's tables too
    again = cli.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0 and "nothing to do" in again.output
    status = cli.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and f"database schema: {CODE_VERSION}" in status.output


def test_a_database_newer_than_the_code_is_refused(postgres_dsn, states, monkeypatch):
    states().close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("UPDATE hub_alembic_version SET version_num=%s", (f"{CODE_VERSION + 1:04d}",))
    with pytest.raises(SchemaTooNew, match=f"version {CODE_VERSION + 1}, newer than this hub"):
        PostgresState(postgres_dsn)
    for name, value in db_env(postgres_dsn).items():
        monkeypatch.setenv(name, value)
    refused = cli.invoke(app, ["db", "upgrade"])
    assert refused.exit_code == 1 and "refused" in refused.output
    for command in (["serve"], ["worker"]):  # start-up says so, before serving anything
        refused = cli.invoke(app, command)
        assert refused.exit_code == 2, refused.output
        assert "refusing to start" in refused.output and "newer than this hub" in refused.output


def test_without_auto_upgrade_a_behind_schema_names_the_command(postgres_dsn):
    with pytest.raises(SchemaBehind, match="hub db upgrade"):
        PostgresState(postgres_dsn, auto_upgrade=False)
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        assert database_version(conn) == 0  # nothing was created


def test_an_unreachable_database_is_named_without_its_password():
    url = "postgresql://hub:s3cret-pw@127.0.0.1:1/hub"
    with pytest.raises(DatabaseUnavailable) as caught:
        PostgresState(url)
    assert "127.0.0.1:1" in str(caught.value) and "s3cret-pw" not in str(caught.value)


# --- settings ----------------------------------------------------------------------------------
def test_a_shared_database_needs_explicit_keys(tmp_path):
    settings = Settings(data_dir=tmp_path, database_url="postgresql://hub:pw-123@db/hub")
    with pytest.raises(ConfigError) as caught:
        settings.check()
    message = str(caught.value)
    assert "HUB_SECRET_KEYS" in message and "HUB_API_KEYS" in message
    assert "pw-123" not in message and "pw-123" not in repr(settings)
    Settings(
        data_dir=tmp_path,
        database_url="postgresql://hub:pw-123@db/hub",
        secret_keys=["k" * 40],
        api_keys=["a" * 40],
    ).check()


def test_serve_refuses_no_worker_without_a_database(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    for command in (["serve", "--no-worker"], ["worker"]):
        refused = cli.invoke(app, command)
        assert refused.exit_code == 2 and "HUB_DATABASE_URL" in refused.output


# --- across processes ----------------------------------------------------------------------------
def test_other_processes_hear_queued_jobs_and_cancels(states):
    edge, worker = states(), states()
    heard, cancels = [], []
    worker.on_change_typed(lambda kind, types: heard.append((kind, types)))
    worker.on_cancel(cancels.append)
    assert worker._listener.wait_listening(10)
    job_id = edge.insert_job("enrich", {})
    wait_until(lambda: ("job", frozenset({"enrich"})) in heard, what="the NOTIFY of a queued job")
    edge.persist_inbound_many([{
        "source": "make", "action": "score", "payload": {}, "dedupe_key": "k1",
        "window_seconds": 60, "received_at": 0.0, "job": ("score", {}),
    }])  # fmt: skip
    wait_until(lambda: ("job", frozenset({"score"})) in heard, what="a group commit's NOTIFY")
    worker.claim_job(job_id, "other-host:1:a", 30, lambda owner: False)
    edge.request_cancel(job_id)
    wait_until(lambda: cancels == [job_id], what="the NOTIFY of a cancel")


async def test_a_worker_wakes_on_a_job_queued_elsewhere_and_obeys_its_cancel(
    states, settings, local_store
):
    edge, shared = states(), states()
    for i in range(30):
        local_store.append([{"domain": f"site{i}.example"}])
    services = Services(settings=settings, store=local_store, state=shared)
    gate = asyncio.Event()
    # No poll nor heartbeat to speak of: only a NOTIFY can wake this runner or bring the
    # cancel in time.
    runner = JobRunner(services, poll_interval=600, lease_seconds=600)
    services.runner = runner
    with registered({"score": marking_stage("score", chunk=5, gate=gate)}):
        await runner.start()
        try:
            assert await asyncio.to_thread(shared._listener.wait_listening, 10)
            job_id = await asyncio.to_thread(edge.insert_job, "score", {})
            await async_wait_until(
                lambda: edge.get_job(job_id)["total"] == 30, what="progress seen by the edge"
            )
            # the stage waits at its first chunk; the cancel comes from the other process
            await asyncio.to_thread(edge.request_cancel, job_id)
            await async_wait_until(
                lambda: job_id in runner._cancel_flags, what="the cancel reached the worker"
            )
            gate.set()
            job = await async_wait_until(
                lambda: (j := edge.get_job(job_id))["status"] in ("cancelled", "completed") and j,
                what="the job ended",
            )
        finally:
            await runner.stop()
    marked = [r for r in local_store.rows() if r.get("score")]
    assert job["status"] == "cancelled" and len(marked) == 5  # one chunk, then it stopped


async def test_the_tick_runs_once_per_period_across_processes(states, settings, local_store):
    ran = []
    per_process = []
    for state in (states(), states()):
        services = Services(settings=settings, store=local_store, state=state)
        runner = JobRunner(services)
        services.runner = runner
        per_process.append((services, runner))
    for services, runner in per_process:
        summary = await periodic_tick(services, runner, 900)
        ran.append(summary is not None)
    assert ran == [True, False]
    queued = per_process[1][0].state.list_jobs(limit=10)
    assert sorted(j["job_type"] for j in queued) == ["check_replies", "followup"]


def test_a_due_event_goes_to_one_worker_at_a_time(states):
    first, second = states(deliver_events=True), states(deliver_events=True)
    event_id = first.add_event("job.completed", {"job_id": "j"})
    assert [e["id"] for e in first.due_events()] == [event_id]
    assert second.due_events() == []  # claimed by the first worker's delivery loop
    first.record_attempt(
        event_id, status_code=503, error="busy", duration_ms=3, outcome="retry",
        next_attempt_at=first.now() - 1,
    )  # fmt: skip
    assert [e["id"] for e in second.due_events()] == [event_id]  # due again: anyone's


async def test_the_status_page_of_one_process_follows_and_cancels_a_job_of_another(
    states, settings, local_store
):
    """The live view (``GET /events/jobs``' stream) on an edge shows the progress of a job a
    worker runs, and the edge's cancel (its runner, not running jobs) stops it there."""
    from hub.web.jobs_view import job_stream

    edge_state, worker_state = states(), states()
    for i in range(30):
        local_store.append([{"domain": f"site{i}.example"}])
    gate = asyncio.Event()
    worker = Services(settings=settings, store=local_store, state=worker_state)
    worker.runner = JobRunner(worker, lease_seconds=600)
    edge = Services(settings=settings, store=local_store, state=edge_state)
    edge.runner = JobRunner(edge)  # never started: an edge queues and cancels, runs nothing
    with registered({"score": marking_stage("score", chunk=5, gate=gate)}):
        await worker.runner.start()
        try:
            assert await asyncio.to_thread(worker_state._listener.wait_listening, 10)
            job_id = await edge.runner.submit("score", {})
            seen = None
            async for chunk in job_stream(edge_state, poll=0.02, lifetime=30):
                if chunk.startswith("event: jobs"):
                    snapshot = json.loads(chunk.split("data: ", 1)[1])
                    seen = next((j for j in snapshot["active"] if j["id"] == job_id), None)
                    if seen and seen["status"] == "running" and seen["total"] == 30:
                        break
            assert seen is not None, "the live view never showed the running job"
            assert seen["processed"] == 0 and seen["cancellable"]
            await edge.runner.cancel(job_id)
            await async_wait_until(
                lambda: job_id in worker.runner._cancel_flags, what="the cancel at the worker"
            )
            gate.set()
            job = await async_wait_until(
                lambda: (
                    (j := edge_state.get_job(job_id))["status"] not in ("pending", "running") and j
                ),
                what="the job ended",
            )
        finally:
            await worker.runner.stop()
    assert job["status"] == "cancelled"
