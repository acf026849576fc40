"""One contract for the hub's state, run against both backends: SQLite (the embedded default)
and PostgreSQL (``HUB_DATABASE_URL``, a throwaway cluster from tests/postgres_cluster.py).

Two state objects opened on one database stand for two hub processes: what one writes, the
other reads; a job one claims, the other cannot.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from hub.state.postgres import PostgresState
from hub.state.sqlite import State

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def never_dead(owner: str) -> bool:
    return False


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def open_state(backend, request, tmp_path, clock):
    """``open_state(**kwargs)``: another process's view of the same database."""
    opened = []
    if backend == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")

        def make(**kwargs):
            opened.append(PostgresState(dsn, now=kwargs.pop("now", clock), **kwargs))
            return opened[-1]
    else:

        def make(**kwargs):
            opened.append(State(tmp_path / "state.sqlite3", now=kwargs.pop("now", clock), **kwargs))
            return opened[-1]

    yield make
    for state in opened:
        state.close()


@pytest.fixture
def state(open_state):
    return open_state()


def persist(state, key, *, window=600.0, action="enrich", payload=None):
    return state.persist_inbound(
        source="make",
        action=action,
        payload=payload or {"k": key},
        dedupe_key=key,
        window_seconds=window,
        received_at=state.now(),
        job=(action, payload or {}),
    )


def item(key, *, window=600.0, action="enrich", received_at=T0):
    return {
        "source": "make",
        "action": action,
        "payload": {"k": key},
        "dedupe_key": key,
        "window_seconds": window,
        "received_at": received_at,
        "job": (action, {"from": key}),
    }


# --- jobs ------------------------------------------------------------------------------------
def test_a_queued_job_is_read_listed_and_counted(state):
    job_id = state.insert_job("enrich", {"prospect_ids": ["a"]}, source="api")
    job = state.get_job(job_id)
    assert (job["status"], job["params"], job["source"]) == (
        "pending",
        {"prospect_ids": ["a"]},
        "api",
    )
    assert not job["waiting"] and not job["cancel_requested"]
    state.insert_job("score", {})
    assert [j["job_type"] for j in state.list_jobs()] == ["score", "enrich"]  # newest first
    assert [j["id"] for j in state.list_jobs("enrich", "pending")] == [job_id]
    assert state.count_jobs() == {"enrich": {"pending": 1}, "score": {"pending": 1}}
    assert state.get_job("nope") is None


def test_one_job_per_type_runs_across_processes(open_state):
    first, second = open_state(), open_state()
    a = first.insert_job("send", {})
    b = first.insert_job("send", {})
    c = first.insert_job("enrich", {})
    mine = first.claim_runnable("host:1:a", 30, never_dead, limit=1)
    assert [j["id"] for j in mine] == [a]
    theirs = second.claim_runnable("host:2:b", 30, never_dead, limit=4)
    assert [j["id"] for j in theirs] == [c]  # not b: a send job already runs elsewhere
    assert second.claim_job(b, "host:2:b", 30, never_dead) is None
    assert (
        first.get_job(a)["status"] == "running" and second.get_job(a)["lease_owner"] == "host:1:a"
    )


def test_concurrent_claims_take_each_job_once(open_state):
    states = [open_state() for _ in range(4)]
    ids = [states[0].insert_job(f"type{i}", {}) for i in range(12)]
    taken: list[str] = []
    lock = threading.Lock()

    def claim(index):
        got = states[index % 4].claim_runnable(f"host:{index}:x", 30, never_dead, limit=12)
        with lock:
            taken.extend(j["id"] for j in got)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(claim, range(8)))
    assert sorted(taken) == sorted(ids)  # every job once, none twice


def test_an_expired_lease_is_taken_over_and_counted_as_an_attempt(open_state, clock):
    first, second = open_state(), open_state()
    job_id = first.insert_job("send", {})
    assert first.claim_job(job_id, "host:1:a", 30, never_dead)["attempts"] == 1
    assert second.claim_job(job_id, "host:2:b", 30, never_dead) is None  # lease still live
    clock.t += 31
    taken = second.claim_job(job_id, "host:2:b", 30, never_dead)
    assert (taken["lease_owner"], taken["attempts"]) == ("host:2:b", 2)
    # the old holder can no longer finish it
    assert first.finish(job_id, "completed", owner="host:1:a") == (False, None)
    assert second.finish(job_id, "completed", owner="host:2:b")[0]


def test_a_dead_owner_frees_its_job_before_the_lease_ends(state):
    job_id = state.insert_job("send", {})
    state.claim_job(job_id, "host:1:gone", 30, never_dead)
    assert [j["id"] for j in state.runnable_jobs(lambda owner: owner == "host:1:gone")] == [job_id]
    assert state.claim_job(job_id, "host:2:b", 30, lambda owner: owner == "host:1:gone")


def test_heartbeat_renews_and_reports_cancels_requested_elsewhere(open_state, clock):
    worker, edge = open_state(), open_state()
    job_id = worker.insert_job("send", {})
    worker.claim_job(job_id, "host:1:a", 30, never_dead)
    clock.t += 20
    assert worker.renew_leases("host:1:a", 30) == set()
    assert worker.get_job(job_id)["lease_expires"] == pytest.approx(clock.t + 30)
    assert edge.request_cancel(job_id)["cancel_requested"]
    assert worker.renew_leases("host:1:a", 30) == {job_id}


def test_cancel_ends_pending_and_waiting_jobs_at_once(state):
    pending = state.insert_job("enrich", {})
    assert state.request_cancel(pending)["status"] == "cancelled"
    waiting = state.open_waiting_job("discover", {"q": 1}, source="make", summary={"tasks": 2})
    job = state.get_job(waiting)
    assert (job["status"], job["waiting"], job["result"]) == ("running", True, {"tasks": 2})
    assert state.request_cancel(waiting)["status"] == "cancelled"
    assert state.request_cancel("missing") is None


def test_release_progress_waiting_and_finish_with_child_and_event(state):
    job_id = state.insert_job("draft", {"auto_send": True})
    state.claim_job(job_id, "host:1:a", 30, never_dead)
    state.set_progress(job_id, 3, 10)
    assert (state.get_job(job_id)["processed"], state.get_job(job_id)["total"]) == (3, 10)
    state.release_job(job_id, "host:1:a")
    assert state.get_job(job_id)["status"] == "pending"
    state.claim_job(job_id, "host:1:a", 30, never_dead)
    done, child = state.finish(
        job_id, "completed", result={"drafted": 10}, owner="host:1:a",
        child=("send", {"auto_send": True}), event=("job.completed", {"job_id": job_id}),
    )  # fmt: skip
    assert done
    assert state.get_job(child)["parent_id"] == job_id and state.get_job(child)["source"] == "chain"
    assert state.get_job(job_id)["result"] == {"drafted": 10}
    (event,) = state.list_events()
    assert event["event_type"] == "job.completed" and job_id in event["body"]
    assert state.finish(job_id, "failed") == (False, None)  # already ended
    with pytest.raises(ValueError):
        state.finish(job_id, "running")


def test_a_waiting_job_holds_no_lease_and_is_never_runnable(state):
    job_id = state.insert_job("discover", {})
    state.claim_job(job_id, "host:1:a", 30, never_dead)
    assert state.set_waiting(job_id, "host:1:a", {"tasks": 3})
    assert state.runnable_jobs(never_dead) == []
    assert state.claim_runnable("host:2:b", 30, never_dead, limit=4) == []
    assert state.finish(job_id, "completed", result={"added": 5})[0]


# --- the inbox -------------------------------------------------------------------------------
def test_a_duplicate_within_its_window_answers_with_the_first_job(state, clock):
    first = persist(state, "k1")
    again = persist(state, "k1")
    assert not first.duplicate and again.duplicate and again.job_id == first.job_id
    assert len(state.list_jobs()) == 1
    clock.t += 601
    later = persist(state, "k1")
    assert not later.duplicate and later.job_id != first.job_id


def test_a_group_dedupes_within_itself_and_keeps_bad_items_apart(state):
    results = state.persist_inbound_many(
        [item("a"), item("b"), item("a"), {**item("c"), "window_seconds": "soon"}, item(None)]
    )
    a, b, a_again, bad, keyless = results
    assert not a.duplicate and not b.duplicate and not keyless.duplicate
    assert a_again.duplicate and a_again.job_id == a.job_id
    assert isinstance(bad, TypeError)
    assert len(state.list_jobs()) == 3
    assert a.inbox_seq < b.inbox_seq  # inbox order is arrival order


def test_identical_deliveries_from_two_processes_at_once_make_one_job(open_state):
    states = [open_state(), open_state()]

    def deliver(index):
        return persist(states[index % 2], "same-key")

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(deliver, range(50)))
    assert sum(not o.duplicate for o in outcomes) == 1
    assert len({o.job_id for o in outcomes}) == 1
    assert len(states[1].list_jobs()) == 1


def test_groups_from_two_processes_with_shared_keys_never_duplicate(open_state):
    states = [open_state(), open_state()]

    def group(index):
        keys = [f"k{(index * 7 + n) % 20}" for n in range(10)]
        return states[index % 2].persist_inbound_many([item(k) for k in keys])

    with ThreadPoolExecutor(6) as pool:
        outcomes = [r for results in pool.map(group, range(12)) for r in results]
    new = [o for o in outcomes if not o.duplicate]
    assert len(new) == 20 == len(states[0].list_jobs(limit=1000))


def test_unprocessed_callbacks_are_found_until_marked_then_purged(state, clock):
    saved = state.persist_inbound(
        source="dataforseo:postback", action="task", payload={"id": "t1"}, dedupe_key="t1",
        window_seconds=60, received_at=clock(), task_id="t1", tag="x",
    )  # fmt: skip
    (row,) = state.unprocessed_inbound("dataforseo")
    assert (row["seq"], row["payload"], row["task_id"]) == (saved.inbox_seq, {"id": "t1"}, "t1")
    clock.t += 120
    assert state.purge_inbox() == 0  # an unprocessed callback is kept past its window
    state.mark_inbound_processed(saved.inbox_seq)
    assert state.unprocessed_inbound("dataforseo") == []
    assert state.purge_inbox() == 1


# --- the delivery log and the events outbox ---------------------------------------------------
def test_the_delivery_log_keeps_the_last_n(open_state):
    state = open_state(max_deliveries=5)
    for n in range(4):
        state.record_delivery(
            at=f"t{n}", route="/w", action="a", verdict="accepted", status=202, reason="ok"
        )
    for n in range(4, 8):
        state.queue_delivery(
            at=f"t{n}", route="/w", action="a", verdict="accepted", status=202, reason="ok"
        )
    assert state.has_queued_deliveries()
    assert [d["at"] for d in state.list_deliveries()] == ["t7", "t6", "t5", "t4", "t3"]
    assert not state.has_queued_deliveries()


def test_queued_delivery_lines_ride_with_the_next_group(state):
    state.queue_delivery(at="t", route="/w", action="a", verdict="dup", status=200, reason="r")
    state.persist_inbound_many([item("x")])
    assert not state.has_queued_deliveries()
    assert [d["verdict"] for d in state.list_deliveries()] == ["dup"]


def test_events_are_delivered_retried_and_given_up(open_state, clock):
    state = open_state(deliver_events=True)
    first = state.add_event("prospect.replied", {"hub_id": "h1"})
    second = state.add_event("job.completed", {"job_id": "j"})
    assert [e["id"] for e in state.due_events()] == [first, second]
    assert state.next_event_due_at() == pytest.approx(T0)
    state.record_attempt(first, status_code=200, error=None, duration_ms=5, outcome="delivered")
    state.record_attempt(
        second, status_code=503, error="busy", duration_ms=7, outcome="retry",
        next_attempt_at=T0 + 60,
    )  # fmt: skip
    assert state.due_events() == []
    assert state.get_event(first)["status"] == "delivered"
    clock.t += 61
    assert [e["id"] for e in state.due_events()] == [second]
    state.record_attempt(second, status_code=None, error="timeout", duration_ms=1, outcome="dead")
    assert state.get_event(second)["status"] == "dead" and state.get_event(second)["attempts"] == 2
    assert [a["status_code"] for a in state.event_attempts(second)] == [503, None]
    assert [e["id"] for e in state.list_events(status="dead")] == [second]


def test_events_without_an_endpoint_stay_local(state):
    event_id = state.add_event("job.completed", {})
    assert state.get_event(event_id)["status"] == "local" and state.due_events() == []


# --- change listeners and periodic turns -------------------------------------------------------
def test_listeners_hear_queued_jobs_with_their_types_and_cancels(state):
    heard, cancels = [], []
    state.on_change_typed(lambda kind, types: heard.append((kind, types)))
    state.on_cancel(cancels.append)
    job_id = state.insert_job("enrich", {})
    assert ("job", frozenset({"enrich"})) in heard
    state.claim_job(job_id, "host:1:a", 30, never_dead)
    state.request_cancel(job_id)
    assert cancels == [job_id]


def test_a_periodic_turn_is_taken_once_per_period(open_state, clock, backend):
    first, second = open_state(), open_state()
    with first.periodic_turn("tick", 60) as mine:
        assert mine
        with second.periodic_turn("tick", 60) as theirs:
            # SQLite: one machine, one server runs the tick; PostgreSQL: one process of all
            assert theirs is (backend == "sqlite")
    if backend == "postgres":
        with second.periodic_turn("tick", 60) as again:
            assert not again  # the period has not passed
        clock.t += 60
        with second.periodic_turn("tick", 60) as later:
            assert later


def test_parallel_types_run_several_at_once_each_job_once(open_state):
    first, second = open_state(), open_state()
    ids = [first.insert_job("send_slice", {"n": n}) for n in range(6)]
    first.insert_job("send", {})
    parallel = frozenset({"send_slice"})
    mine = first.claim_runnable("host:1:a", 30, never_dead, limit=4, parallel_types=parallel)
    theirs = second.claim_runnable("host:2:b", 30, never_dead, limit=4, parallel_types=parallel)
    taken = [j["id"] for j in mine + theirs if j["job_type"] == "send_slice"]
    assert sorted(taken) == sorted(ids)  # all six running at once, none twice
    assert sum(j["job_type"] == "send" for j in mine + theirs) == 1  # still one at a time
