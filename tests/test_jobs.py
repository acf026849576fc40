"""The job runner over real stage-shaped work (tests/core_plugin.py) on the local store."""

from __future__ import annotations

import asyncio
import json

import pytest

from hub.jobs.runner import JobRunner
from hub.services import Services
from hub.state.leases import owner_dead
from hub.state.sqlite import State
from tests.core_plugin import MARKERS, Tracker, marking_stage, registered
from tests.emulators.serve import async_wait_until


async def until(predicate, *, timeout: float = 10.0, what: str = "it"):
    """Poll ``predicate`` (sync) on the event loop with a deadline."""
    return await async_wait_until(predicate, timeout=timeout, what=what)


@pytest.fixture
def services(settings, local_store):
    state = State(settings.state_db_path)
    services = Services(settings=settings, store=local_store, state=state)
    yield services
    state.close()


def add_rows(store, n: int) -> list[str]:
    return store.append([{"domain": f"site{i}.example"} for i in range(n)]).added


def finished(runner, job_id):
    job = runner.get(job_id)
    return job if job and job["status"] in ("completed", "failed", "cancelled") else None


@pytest.fixture
async def runner(services):
    runner = JobRunner(services, poll_interval=0.05, lease_seconds=3)
    services.runner = runner
    await runner.start()
    yield runner
    await runner.stop()


async def test_job_runs_in_chunks_and_records_progress_and_result(services, runner):
    add_rows(services.store, 35)
    with registered({"score": marking_stage("score", chunk=10, chain=False)}):
        job_id = await runner.submit("score", {})
        job = await until(lambda: finished(runner, job_id), what="score job")
    assert job["status"] == "completed", job["error"]
    assert (job["processed"], job["total"]) == (35, 35)
    assert job["result"] == {"marked": 35, "column": "score"}
    assert job["started_at"] and job["finished_at"]
    assert {row["score"] for row in services.store.rows()} == {"1"}
    event = json.loads(services.state.list_events(1)[0]["body"])
    assert event["type"] == "job.completed" and event["data"]["job_id"] == job_id


async def test_stages_chain_enrich_score_draft_and_send_only_with_auto_send(services, runner):
    ids = add_rows(services.store, 3)
    stages = {
        t: marking_stage(MARKERS[t], chain=True) for t in ("enrich", "score", "draft", "send")
    }
    with registered(stages):
        first = await runner.submit("enrich", {"prospect_ids": ids[:2]})
        await until(lambda: [j for j in runner.list("draft") if finished(runner, j["id"])])
        assert runner.list("send") == []  # no auto-send: the chain stops after draft
        auto = await runner.submit("enrich", {"auto_send": True})
        await until(lambda: [j for j in runner.list("send") if finished(runner, j["id"])])
    score = runner.list("score")[-1]
    assert score["parent_id"] == first and score["params"] == {"prospect_ids": ids[:2]}
    draft = runner.list("draft")[-1]
    assert draft["parent_id"] == score["id"] and draft["source"] == "chain"
    send = runner.list("send")[0]
    chain = [send]
    while chain[-1]["parent_id"]:
        chain.append(runner.get(chain[-1]["parent_id"]))
    assert [j["job_type"] for j in chain] == ["send", "draft", "score", "enrich"]
    assert chain[-1]["id"] == auto
    # the first chain touched only its two rows
    assert services.store.get(ids[2])["score"] == "1"  # marked by the second (unscoped) chain


async def test_at_most_one_job_of_a_type_runs_at_once(services, runner):
    add_rows(services.store, 40)
    tracker = Tracker()
    stages = {
        "enrich": marking_stage("email_status", chunk=5, delay=0.01, tracker=tracker),
        "score": marking_stage("score", chunk=5, delay=0.01, tracker=tracker),
    }
    with registered(stages):
        jobs = [await runner.submit(t, {}) for t in ("enrich", "enrich", "score", "enrich")]
        await until(lambda: all(finished(runner, j) for j in jobs), what="all jobs")
    assert tracker.peak["enrich"] == 1 and tracker.peak["score"] == 1
    assert all(runner.get(j)["status"] == "completed" for j in jobs)
    # the second and third enrich found nothing left: idempotent by row state
    assert [runner.get(j)["result"]["marked"] for j in jobs] == [40, 0, 40, 0]


async def test_a_second_process_waits_for_the_lease_of_the_type(services, settings, runner):
    add_rows(services.store, 20)
    gate = asyncio.Event()
    # "another process": its own State connection and its own runner
    other_state = State(settings.state_db_path)
    other = JobRunner(
        Services(settings=settings, store=services.store, state=other_state), poll_interval=0.02
    )
    try:
        with registered({"score": marking_stage("score", chunk=5, gate=gate)}):
            held = await runner.submit("score", {})
            await until(lambda: runner.get(held)["status"] == "running", what="first job")
            inline = asyncio.create_task(other.run_inline("score", {}))
            waiting = await until(lambda: other_state.list_jobs("score", "pending"))
            assert len(waiting) == 1  # the CLI's job is queued, not running beside the first
            gate.set()
            job = await asyncio.wait_for(inline, 10)
        first = runner.get(held)
        assert first["status"] == job["status"] == "completed"
        assert job["started_at"] >= first["finished_at"]
        assert job["result"]["marked"] == 0  # nothing left: never two writers on one row
    finally:
        other_state.close()


async def test_cancel_stops_between_chunks_and_cancels_pending_at_once(services, runner):
    add_rows(services.store, 30)
    gate = asyncio.Event()
    with registered({"enrich": marking_stage("email_status", chunk=10, gate=gate)}):
        running = await runner.submit("enrich", {})
        await until(lambda: runner.get(running)["status"] == "running")
        queued = await runner.submit("enrich", {})
        assert (await runner.cancel(queued))["status"] == "cancelled"
        await runner.cancel(running)
        gate.set()
        job = await until(lambda: finished(runner, running))
    assert job["status"] == "cancelled"
    marked = sum(1 for row in services.store.rows() if row.get("email_status"))
    assert marked < 30  # it stopped before the end
    assert runner.get(queued)["status"] == "cancelled" and runner.get(queued)["started_at"] is None


async def test_failing_stage_marks_job_failed_with_message_and_event(services, runner):
    async def broken(ctx):
        raise RuntimeError("the provider said no")

    with registered({"score": broken}):
        job_id = await runner.submit("score", {})
        job = await until(lambda: finished(runner, job_id))
    assert job["status"] == "failed"
    assert "the provider said no" in job["error"]
    assert runner.list("draft") == []  # a failed job does not chain
    event = json.loads(services.state.list_events(1)[0]["body"])
    assert event["type"] == "job.failed" and event["data"]["error"] == job["error"]


async def test_job_type_without_stage_fails_clearly(services, runner):
    with registered({"followup": None}):
        from hub.stages.registry import STAGES

        STAGES.pop("followup", None)
        job_id = await runner.submit("followup", {})
        job = await until(lambda: finished(runner, job_id))
    assert job["status"] == "failed" and "no stage is registered" in job["error"]


async def test_waiting_job_stays_running_until_finish_job(services, runner):
    from hub.stages.base import StageResult

    async def hands_over(ctx):
        return StageResult(summary={"tasks": 2}, waiting=True)

    stages = {"discover": hands_over, "enrich": marking_stage("email_status")}
    with registered(stages):
        job_id = await runner.submit("discover", {"keywords": ["art"]})
        await until(lambda: runner.get(job_id)["waiting"], what="waiting")
        # it holds no lease: another discover job can run meanwhile
        second = await runner.submit("discover", {"keywords": ["x"]})
        await until(lambda: runner.get(second)["waiting"], what="second waiting")
        assert runner.get(job_id)["status"] == "running"
        assert await runner.finish_job(job_id, {"tasks": 2, "rows_added": 7}) is True
        assert await runner.finish_job(job_id, {"again": 1}) is False  # only once
        await until(lambda: runner.list("enrich"), what="chained enrich")
    job = runner.get(job_id)
    assert job["status"] == "completed" and job["result"] == {"tasks": 2, "rows_added": 7}
    assert runner.list("enrich")[0]["parent_id"] == job_id


async def test_stopped_runner_hands_jobs_back_and_next_start_finishes_them(settings, services):
    add_rows(services.store, 30)
    gate = asyncio.Event()
    log = settings.data_dir / "marks.log"
    stage = marking_stage("score", chunk=10, gate=gate, log_path=log)
    with registered({"score": stage}):
        first = JobRunner(services, poll_interval=0.02)
        await first.start()
        job_id = await first.submit("score", {})
        await until(lambda: first.get(job_id)["status"] == "running")
        await first.stop()
        assert first.get(job_id)["status"] == "pending"
        gate.set()
        second = JobRunner(services, poll_interval=0.02)
        await second.start()
        try:
            job = await until(lambda: finished(second, job_id))
        finally:
            await second.stop()
    assert job["status"] == "completed" and job["attempts"] == 2
    lines = log.read_text().splitlines()
    assert len(lines) == len(set(lines)) == 30


def test_running_job_of_a_dead_owner_is_runnable_and_a_live_lease_is_not(settings):
    clock = [1_000_000.0]
    state = State(settings.state_db_path, now=lambda: clock[0])
    try:
        job_id = state.insert_job("score", {})
        # another host's runner holds it: trusted until its lease expires
        assert state.claim_job(job_id, "elsewhere:1:abc", 30, owner_dead)
        assert state.runnable_jobs(owner_dead) == []
        assert state.claim_job(job_id, "me:2:def", 30, owner_dead) is None
        clock[0] += 31
        assert [j["id"] for j in state.runnable_jobs(owner_dead)] == [job_id]
        assert state.claim_job(job_id, "me:2:def", 30, owner_dead)["attempts"] == 2
    finally:
        state.close()


def test_owner_on_this_host_with_a_dead_pid_is_dead():
    import os
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    assert owner_dead(f"{host}:{child.pid}:x") is True
    assert owner_dead(f"{host}:{os.getppid()}:x") is False
    assert owner_dead(f"{host}:{os.getpid()}:not-a-live-runner") is True
    assert owner_dead("another-host:1:x") is False
    assert owner_dead("garbage") is False
