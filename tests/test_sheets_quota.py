"""Economy and pacing of the Google Sheet store: requests per result, the per-minute quota.

The emulator counts every request; the store's limiter and the emulator's quota window share a
fake clock, so minutes of pacing pass in no real time and the limiter's decisions are exact.
"""

from __future__ import annotations

import pytest

from sheets.google_ranges import a1_ranges
from sheets.ratelimit import SlidingWindowLimiter
from tests.emulators.fake_clock import FakeClock
from tests.store_contract import (
    emulator_servers,  # noqa: F401 - a fixture shared by this module's tests
    google_sheet_env,
)

ENRICHMENT = {
    "contact_email": "editor@{d}",
    "contact_name": "Ada Editor",
    "contact_position": "Editor",
    "email_confidence": "91",
    "email_status": "valid",
    "email_source": "hunter",
}


def _fill(env, count: int) -> None:
    store = env.store()
    store.ensure_schema()
    store.append([{"domain": f"gallery{i:04d}.example"} for i in range(count)])
    store.close()
    env.sheets.reset_log()


def _results(rows):
    return {
        row["hub_id"]: {k: v.format(d=row["domain"]) for k, v in ENRICHMENT.items()} for row in rows
    }


def _max_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("chunk", [1000, 100], ids=["one-call", "stage-chunks-of-100"])
def test_enrichment_results_for_1000_rows_cost_at_most_25_requests(
    data_dir,
    emulator_servers,  # noqa: F811
    chunk,
):
    with google_sheet_env(data_dir, servers=emulator_servers) as env:
        _fill(env, 1000)
        store = env.store()  # a fresh process: nothing cached
        rows = store.rows()
        results = _results(rows)
        ids = list(results)
        for start in range(0, len(ids), chunk):
            store.update({i: results[i] for i in ids[start : start + chunk]})

        requests = env.sheets.count()
        after = store.rows()

    assert requests <= 25, [r.method for r in env.sheets.log]
    assert len(after) == 1000
    assert all(r["contact_email"] == "editor@" + r["domain"] for r in after)
    assert all(r["email_status"] == "valid" and r["updated_at"] for r in after)


def test_a_long_run_never_exceeds_the_per_minute_quota(data_dir, emulator_servers):  # noqa: F811
    with google_sheet_env(data_dir, read_quota=10, write_quota=10, servers=emulator_servers) as env:
        _fill(env, 120)
        env.clock.advance(120)  # the set-up's requests are out of the window
        store = env.store(sheets_rate=10)
        started = env.clock()
        rows = store.rows()
        results = _results(rows)
        ids = list(results)
        for start in range(0, len(ids), 4):  # 30 small writes, each re-reads first
            store.update({i: results[i] for i in ids[start : start + 4]})
        elapsed = env.clock() - started
        log = list(env.sheets.log)

    assert env.sheets.served(429) == 0
    assert len(log) == 61
    for kind in ("read", "write"):
        assert _max_in_any_window([r.at for r in log if r.kind == kind], 60.0) <= 10
    assert elapsed >= 3 * 60  # 31 reads at 10/min: the 31st waits three windows


def test_without_pacing_the_emulator_throttles_and_retries_still_lose_nothing(
    data_dir,
    emulator_servers,  # noqa: F811
):
    """The control for the test above: the quota is real, and 429s are survived."""
    with google_sheet_env(data_dir, read_quota=10, write_quota=10, servers=emulator_servers) as env:
        _fill(env, 60)
        env.clock.advance(120)
        store = env.store(sheets_rate=1000)
        rows = store.rows()
        results = _results(rows)
        ids = list(results)
        for start in range(0, len(ids), 4):
            store.update({i: results[i] for i in ids[start : start + 4]})
        after = store.rows()

    assert env.sheets.served(429) > 0
    assert all(r["contact_email"] == "editor@" + r["domain"] for r in after)


def test_limiter_keeps_any_window_at_the_limit():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 60.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(10):
        limiter.acquire()
        stamps.append(clock())
    assert _max_in_any_window(stamps, 60.0) == 3
    assert stamps[3] - stamps[0] == pytest.approx(60.0)
    assert limiter.waited == pytest.approx(180.0)


def test_batch_ranges_are_contiguous_and_never_cover_unwritten_cells():
    cells = [(r, c, f"{r}/{c}") for r in (2, 3, 4, 7) for c in (10, 11, 12)]
    cells += [(r, 30, "t") for r in (2, 3, 4, 7)]
    cells += [(5, 11, "alone")]
    data = a1_ranges("'Prospects'", cells)
    assert {d["range"] for d in data} == {
        "'Prospects'!K2:M4",
        "'Prospects'!K7:M7",
        "'Prospects'!AE2:AE4",
        "'Prospects'!AE7:AE7",
        "'Prospects'!L5:L5",
    }
    block = next(d for d in data if d["range"] == "'Prospects'!K2:M4")
    assert block["values"][1] == ["3/10", "3/11", "3/12"]
    written = sum(len(line) for d in data for line in d["values"])
    assert written == len(cells)
