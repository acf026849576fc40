"""Durable state: inbox de-duplication, the delivery log, the embedded secret key, sharing."""

from __future__ import annotations

import os
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.state.keys import secret_key_path, secret_keys_for
from hub.state.sqlite import State, connect


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def state(settings, clock):
    state = State(settings.state_db_path, now=clock)
    yield state
    state.close()


def persist(state, key, *, window=600, action="enrich", payload=None):
    return state.persist_inbound(
        source="make",
        action=action,
        payload=payload or {},
        dedupe_key=key,
        window_seconds=window,
        received_at=state.now(),
        job=(action, payload or {}),
    )


def test_inbound_event_and_its_job_are_stored_together(state):
    saved = persist(state, "make:wh:msg_1", payload={"max_prospects": 5})
    assert saved.duplicate is False and saved.inbox_seq
    job = state.get_job(saved.job_id)
    assert (job["job_type"], job["status"], job["source"]) == ("enrich", "pending", "make")
    assert job["params"] == {"max_prospects": 5}


def test_duplicate_within_window_returns_first_job_and_queues_nothing(state, clock):
    first = persist(state, "make:wh:msg_1")
    clock.t += 599
    again = persist(state, "make:wh:msg_1")
    assert again.duplicate is True and again.job_id == first.job_id
    assert len(state.list_jobs()) == 1


def test_same_key_after_its_window_is_a_new_request(state, clock):
    first = persist(state, "make:body:tick:abc", window=600, action="tick")
    clock.t += 601
    later = persist(state, "make:body:tick:abc", window=600, action="tick")
    assert later.duplicate is False and later.job_id != first.job_id
    assert len(state.list_jobs("tick")) == 2


def test_failed_transaction_stores_neither_inbox_row_nor_job(state):
    with pytest.raises(sqlite3.Error):
        state.persist_inbound(
            source="make",
            action="enrich",
            payload={},
            dedupe_key="k",
            window_seconds=60,
            received_at=0.0,
            job=("enrich", {}),
            task_id=["not bindable"],  # fails at the inbox insert, after the job insert
        )
    assert state.list_jobs() == []
    assert state.query("SELECT COUNT(*) FROM inbox")[0][0] == 0


def test_concurrent_identical_deliveries_from_many_connections_make_one_job(settings):
    # Each thread has its own connection, as separate processes would: the UNIQUE key and
    # BEGIN IMMEDIATE serialise them.
    states = [State(settings.state_db_path) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: persist(states[i % 8], "make:wh:same"), range(50)))
        assert len({r.job_id for r in results}) == 1
        assert sum(not r.duplicate for r in results) == 1
        assert len(states[0].list_jobs()) == 1
    finally:
        for s in states:
            s.close()


def test_delivery_log_keeps_the_last_n(settings):
    state = State(settings.state_db_path, max_deliveries=5)
    try:
        for i in range(12):
            state.record_delivery(
                at=f"t{i}",
                route="make",
                action="enrich",
                verdict="refused",
                status=401,
                reason=f"r{i}",
            )
        kept = state.list_deliveries(limit=50)
        assert [d["reason"] for d in kept] == ["r11", "r10", "r9", "r8", "r7"]
    finally:
        state.close()


def test_unprocessed_dataforseo_callbacks_are_found_until_marked(state):
    saved = state.persist_inbound(
        source="dataforseo_postback",
        action="dataforseo_result",
        payload={"tasks": []},
        dedupe_key="dfs:t1",
        window_seconds=60,
        received_at=1.0,
        job_id="j1",
        task_id="t1",
    )
    assert saved.job_id == "j1" and state.list_jobs() == []
    pending = state.unprocessed_inbound("dataforseo")
    assert [(p["task_id"], p["payload"]) for p in pending] == [("t1", {"tasks": []})]
    state.mark_inbound_processed(saved.inbox_seq)
    assert state.unprocessed_inbound("dataforseo") == []


def test_purge_drops_expired_processed_rows_only(state, clock):
    persist(state, "make:wh:a", window=10)
    state.persist_inbound(
        source="dataforseo_postback",
        action="x",
        payload={},
        dedupe_key="dfs:b",
        window_seconds=10,
        received_at=0,
        job_id="j",
        task_id="b",
    )
    clock.t += 11
    assert state.purge_inbox() == 1  # the unprocessed callback is kept for reprocessing
    assert [r["task_id"] for r in state.unprocessed_inbound("dataforseo")] == ["b"]


def test_other_modules_share_the_file_through_connect(settings, state):
    db = connect(settings.state_db_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("CREATE TABLE IF NOT EXISTS send_ledger (id TEXT PRIMARY KEY)")
        job_id = state.insert_job("score", {})
        assert db.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0] == (
            "pending"
        )
    finally:
        db.close()


def test_embedded_secret_key_is_random_private_and_stable(settings):
    keys = secret_keys_for(settings)
    path = secret_key_path(settings)
    assert len(keys) == 1 and len(keys[0]) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_keys_for(settings) == keys  # read back, not re-created
    settings.secret_keys = ["configured-old", "configured-new"]
    assert secret_keys_for(settings) == ["configured-old", "configured-new"]


def test_two_data_dirs_get_different_embedded_keys(settings, tmp_path):
    other = settings.model_copy(update={"data_dir": tmp_path / "other"})
    assert secret_keys_for(settings) != secret_keys_for(other)


def test_a_state_file_from_a_newer_hub_is_refused(settings):
    from hub.state.migrations import CODE_VERSION, SchemaTooNew

    State(settings.state_db_path).close()
    with sqlite3.connect(settings.state_db_path) as db:
        # Hubs from before Alembic read user_version (and refuse a file above 1).
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        db.execute("UPDATE hub_alembic_version SET version_num=?", (f"{CODE_VERSION + 1:04d}",))
    newer = f"{settings.state_db_path}: the state schema is at version {CODE_VERSION + 1}, "
    with pytest.raises(SchemaTooNew, match=f"{newer}newer than this hub"):
        State(settings.state_db_path)
