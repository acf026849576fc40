"""The webhook ingest's shortcuts give the answers of the long ways they replace.

- a group of deliveries written with a few statements (hub.state.group) = the same deliveries
  persisted one by one (rows, jobs, duplicates, inbox seqs), with a fallback for what it cannot
  decide the same way;
- row_changed/tick bodies validated without pydantic = the models' result;
- the pre-rendered 202 = JSONResponse's bytes and headers;
- delivery-log lines ride along with group commits and are written on their own when none
  comes;
- time-ordered ids; the runner ignores wake-ups it can do nothing with; GC tuned once.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time

import pytest
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from hub.app import GC_YOUNG_THRESHOLD, create_app
from hub.inbox_writer import LINES_DELAY, InboundWriter
from hub.jobs.runner import JobRunner
from hub.services import Services
from hub.state.codec import new_id
from hub.state.sqlite import State
from tests.emulators.serve import next_loop_turn, wait_until
from webhooks.base import accepted_response, job_body
from webhooks.make_payloads import (
    PayloadError,
    RowChangedPayload,
    TickPayload,
    validate_payload,
)

T0 = 1_800_000_000.0


def _item(key: str | None, *, window: float = 600, job: bool = True, n: int = 0) -> dict:
    return {
        "source": "make",
        "action": "row_changed",
        "payload": {"hub_id": f"row-{n}"},
        "dedupe_key": key,
        "window_seconds": window,
        "received_at": T0,
        "job": ("row_changed", {"hub_id": f"row-{n}"}) if job else None,
        "job_id": None if job else f"given-{n}",
    }


def _states(tmp_path):
    clock = [T0]
    grouped = State(tmp_path / "grouped.sqlite3", now=lambda: clock[0])
    single = State(tmp_path / "single.sqlite3", now=lambda: clock[0])
    return clock, grouped, single


def _shape(results, state):
    """What a caller and the DB can see, with the random job ids replaced by their order."""
    names: dict[str, str] = {}

    def name(job_id):
        return names.setdefault(job_id, f"job{len(names)}") if job_id else None

    seen = [(name(r.job_id), r.duplicate, r.inbox_seq) for r in results]
    inbox = [
        (r["seq"], r["dedupe_key"], r["action"], r["payload"], name(r["job_id"]), r["expires_at"])
        for r in state.query("SELECT * FROM inbox ORDER BY seq")
    ]
    jobs = [
        (name(r["id"]), r["job_type"], r["status"], r["params"], r["source"], r["created_at"])
        for r in state.query("SELECT * FROM jobs ORDER BY seq")
    ]
    return seen, inbox, jobs


def test_a_group_is_stored_exactly_as_the_same_deliveries_one_by_one(tmp_path):
    clock, grouped, single = _states(tmp_path)
    earlier = [_item("live", n=1), _item("stale", window=10, n=2)]
    for state in (grouped, single):
        for item in earlier:
            state.persist_inbound(**item)
    clock[0] += 60  # "stale" is past its window now, "live" is not
    group = [
        _item("k1", n=3),
        _item("live", n=4),  # duplicate of a stored delivery
        _item("k1", n=5),  # duplicate of one earlier in the same group
        _item("stale", n=6),  # its key expired: a new delivery, the old row replaced
        _item(None, n=7),  # no key: never a duplicate
        _item(None, n=7),
        _item("no-job", job=False, n=8),  # a delivery for a job that already exists
        _item("k2", window=0, n=9),  # kept for no time
    ]
    results = grouped.persist_inbound_many(group)
    one_by_one = [single.persist_inbound(**item) for item in group]

    assert _shape(results, grouped) == _shape(one_by_one, single)
    assert [r.duplicate for r in results] == [False, True, True, False, False, False, False, False]
    assert results[2].job_id == results[0].job_id
    grouped.close()
    single.close()


def test_what_the_group_path_cannot_decide_goes_one_by_one(tmp_path):
    _clock, grouped, single = _states(tmp_path)
    # the same key twice with no window: the second replaces the first one by one
    group = [_item("zero", window=0, n=1), _item("zero", window=0, n=2), _item("k", n=3)]
    bad = _item("bad", n=4)
    bad["window_seconds"] = "not a number"  # fails alone, after its job row was written
    group.append(bad)
    results = grouped.persist_inbound_many(group)
    one_by_one = []
    for item in group:
        try:
            one_by_one.append(single.persist_inbound(**item))
        except TypeError as exc:
            one_by_one.append(exc)

    assert isinstance(results[3], TypeError) and isinstance(one_by_one[3], TypeError)
    assert _shape(results[:3], grouped) == _shape(one_by_one[:3], single)
    assert grouped.query("SELECT COUNT(*) FROM jobs")[0][0] == 3  # nothing left of "bad"
    grouped.close()
    single.close()


def test_a_big_group_with_many_stored_keys_is_looked_up_in_chunks(tmp_path):
    state = State(tmp_path / "state.sqlite3", now=lambda: T0)
    first = state.persist_inbound_many([_item(f"k{i}", n=i) for i in range(1200)])
    again = state.persist_inbound_many([_item(f"k{i}", n=i) for i in range(1300)])

    assert [r.duplicate for r in again] == [True] * 1200 + [False] * 100
    assert [r.job_id for r in again[:1200]] == [r.job_id for r in first]
    seqs = {r[0]: r[1] for r in state.query("SELECT job_id, seq FROM inbox")}
    assert all(seqs[r.job_id] == r.inbox_seq for r in first + again[1200:])
    state.close()


ROW_CHANGED_BODIES = [
    {"hub_id": "abc"},
    {"hub_id": "abc", "outreach_status": "enriched", "note": None, "x": ""},
    {"hub_id": " padded "},
    {"hub_id": "x" * 64},
    {"hub_id": "x" * 65},
    {"hub_id": ""},
    {"hub_id": None},
    {"hub_id": 7},
    {"hub_id": "é"},
    {"hub_id": "tab\there"},
    {"hub_id": "nbsp\u00a0"},
    {},
    {"other": "field"},
]


def _by_model(model, body):
    try:
        return model.model_validate(body).model_dump()
    except Exception:
        return "refused"


def _by_hub(action, body):
    try:
        return validate_payload(action, body)
    except PayloadError:
        return "refused"


@pytest.mark.parametrize("body", ROW_CHANGED_BODIES)
def test_row_changed_bodies_get_the_models_answer(body):
    assert _by_hub("row_changed", dict(body)) == _by_model(RowChangedPayload, dict(body))


@pytest.mark.parametrize("body", [{}, {"unmapped": ""}, {"typo": 1}, None])
def test_tick_bodies_get_the_models_answer(body):
    expected = _by_model(TickPayload, {} if body is None else dict(body))
    assert _by_hub("tick", body) == expected


def test_the_prerendered_202_is_what_jsonresponse_sends():
    job_id = new_id()
    ours = accepted_response(job_id)
    reference = JSONResponse(job_body(job_id), status_code=202)
    assert (ours.status_code, ours.body, ours.raw_headers) == (
        reference.status_code,
        reference.body,
        reference.raw_headers,
    )
    odd = accepted_response('needs "escaping"')  # not a hub id: JSONResponse renders it
    assert odd.body == JSONResponse(job_body('needs "escaping"'), status_code=202).body


def _line(state: State, n: int) -> None:
    state.queue_delivery(
        at="2026-01-01T00:00:00+00:00",
        route="make",
        action="row_changed",
        verdict="accepted",
        status=202,
        reason=f"queued {n}",
    )


def _written(state: State) -> int:
    return state.query("SELECT COUNT(*) FROM deliveries")[0][0]


async def test_log_lines_ride_with_group_commits_and_are_written_alone_when_none_comes(tmp_path):
    state = State(tmp_path / "state.sqlite3")
    writer = InboundWriter(state)
    for round_ in range(5):  # each round: deliveries, then their log lines (as the route does)
        await asyncio.gather(*(writer.persist(**_item(f"r{round_}-{i}")) for i in range(10)))
        for i in range(10):
            _line(state, i)
            writer.lines_queued()
    groups_with_deliveries = writer.groups
    # lines never started a transaction of their own while deliveries kept coming
    assert _written(state) >= 40
    started = time.monotonic()
    await asyncio.to_thread(wait_until, lambda: _written(state) == 50, timeout=5)
    assert time.monotonic() - started < LINES_DELAY + 2  # the last lines did not wait long
    assert writer.groups == groups_with_deliveries + 1
    state.close()


async def test_drain_writes_the_lines_still_waiting(tmp_path):
    state = State(tmp_path / "state.sqlite3")
    writer = InboundWriter(state)
    _line(state, 1)
    writer.lines_queued()
    await writer.drain()
    assert _written(state) == 1 and not state.has_queued_deliveries()
    state.close()


def test_ids_are_32_hex_digits_in_time_order_and_unique():
    first = new_id()
    ids = [new_id() for _ in range(20_000)]
    later = new_id()
    while later[:12] == ids[-1][:12]:  # the next millisecond
        later = new_id()
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in [first, later, *ids])
    assert len(set(ids)) == len(ids)
    assert first[:12] <= ids[0][:12] <= ids[-1][:12] < later[:12]
    assert new_id("msg_").startswith("msg_") and len(new_id("msg_")) == 36


async def test_runner_is_not_woken_for_jobs_it_could_not_start(settings):
    state = State(settings.state_db_path)
    runner = JobRunner(Services(settings=settings, store=None, state=state))
    runner._bind_loop()
    runner._set_running("row_changed", True)

    state.insert_job("row_changed", {"hub_id": "a"})
    await next_loop_turn()  # let a call_soon_threadsafe wake-up land, if one was sent
    assert not runner._wake.is_set()  # only its own job's end can let this one start

    state.insert_job("score", {})
    await asyncio.to_thread(wait_until, runner._wake.is_set, timeout=5)
    runner._wake.clear()
    state.persist_inbound_many([_item("k", n=1)])  # row_changed again: still nothing to do
    await next_loop_turn()
    assert not runner._wake.is_set()
    state.close()


def test_serving_freezes_the_start_up_heap_and_collects_young_objects_less_often(settings):
    settings.tick_minutes = 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] >= GC_YOUNG_THRESHOLD
