"""Edges trimming the delivery log at once on PostgreSQL never deadlock (issue 23).

Every group commit inserts its delivery-log lines and trims the log to its newest
``max_deliveries`` lines. With three edges under load PostgreSQL reported deadlocks between two
backends both in that trim, and the groups of both failed (503s, a stalled second). The cause:
the planner picks the DELETE's plan per backend from the table's statistics, which move under
load; a backend scanning the old rows in heap order (seq scan, bitmap scan) and one scanning
them in key order (index scan) lock the same rows in opposite orders. Here four ``PostgresState``
objects (four processes' pools) run the real group-commit path at once, two pinned to each plan
so the hazard is certain rather than occasional, with ``VACUUM`` meanwhile so freed slots are
reused and heap order departs from key order.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

import psycopg
import pytest

from hub.state.postgres import PostgresState

EDGES, GROUPS, PER_GROUP, KEEP = 4, 60, 8, 20
# Heap order (sequential scan) and key order (index scan): the two orders of the old deadlock.
PLANS = (
    "-c enable_seqscan=off -c enable_bitmapscan=off",
    "-c enable_indexscan=off -c enable_bitmapscan=off",
)


def log_line(edge: int) -> dict:
    return dict(
        at="2026-12-07T10:00:00+00:00", route="/webhooks/make/row_changed", action="row_changed",
        verdict="accepted", status=202, reason=f"edge {edge}", job_id=None,
    )  # fmt: skip


def delivery(key: str) -> dict:
    return dict(
        source="make", action="row_changed", payload={"hub_id": key}, dedupe_key=key,
        window_seconds=600, received_at=time.time(), job=("row_changed", {"hub_id": key}),
    )  # fmt: skip


@pytest.fixture
def edges(postgres_dsn):
    # A deadlock is found after deadlock_timeout (1 s by default): 100 ms keeps a failure quick.
    opened = [
        PostgresState(
            postgres_dsn + "?options=" + quote(f"{PLANS[e % 2]} -c deadlock_timeout=100ms"),
            listen=False,
            max_deliveries=KEEP,
        )
        for e in range(EDGES)
    ]
    yield opened
    for state in opened:
        state.close()


def test_four_edges_trimming_the_delivery_log_at_once_never_deadlock(edges, postgres_dsn):
    failures: list[BaseException] = []
    stop = threading.Event()

    def vacuum() -> None:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            while not stop.wait(0.02):
                conn.execute("VACUUM deliveries")

    def edge(number: int, state: PostgresState) -> None:
        for group in range(GROUPS):
            items = []
            for i in range(PER_GROUP):
                state.queue_delivery(**log_line(number))
                items.append(delivery(f"edge{number}-{group}-{i}"))
            try:
                results = state.persist_inbound_many(items)
            except Exception as exc:  # the whole group failed: what a 503 came from
                failures.append(exc)
                continue
            failures.extend(r for r in results if isinstance(r, Exception))

    threads = [threading.Thread(target=edge, args=(n, s)) for n, s in enumerate(edges)]
    vacuuming = threading.Thread(target=vacuum)
    vacuuming.start()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        stop.set()
        vacuuming.join(30)

    assert failures == []
    with psycopg.connect(postgres_dsn) as conn:
        inbox, jobs, lines = conn.execute(
            "SELECT (SELECT count(*) FROM inbox), (SELECT count(*) FROM jobs),"
            " (SELECT count(*) FROM deliveries)"
        ).fetchone()
    assert inbox == jobs == EDGES * GROUPS * PER_GROUP
    assert lines == KEEP  # trimmed to its newest lines, as before


def test_a_trim_skips_lines_another_edge_is_deleting_instead_of_waiting(edges, postgres_dsn):
    """The trim never waits for a row: one edge's trim holds its rows (uncommitted) while a
    second edge's group commits at once, leaving the trim to the next group."""
    first, second = edges[0], edges[1]
    for _ in range(KEEP + 10):
        first.queue_delivery(**log_line(0))
    first.flush_deliveries()
    second.queue_delivery(**log_line(1))
    committed = threading.Thread(
        target=second.persist_inbound_many, args=([delivery("while-the-other-trims")],)
    )
    with first.tx() as db:
        first._write_deliveries_in(db, [log_line(0)])  # holds the oldest lines' row locks
        committed.start()
        committed.join(10)  # it used to wait for the first trim's COMMIT
        assert not committed.is_alive()
    assert second.get_job(second.query("SELECT job_id FROM inbox")[0][0]) is not None
    second.queue_delivery(**log_line(1))
    second.flush_deliveries()  # the next group trims again
    with psycopg.connect(postgres_dsn) as conn:
        (lines,) = conn.execute("SELECT count(*) FROM deliveries").fetchone()
    assert lines == KEEP
