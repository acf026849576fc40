"""Two ``hub serve`` processes with separate data dirs and one ``HUB_DATABASE_URL`` act as one
hub (issue 12's "Done when"). Real subprocesses, real HTTP, a real throwaway PostgreSQL.

- one delivery sent to both makes one job; 50 identical ones spread over both make one job;
- 100 distinct deliveries over both make 100 jobs, visible from either;
- rows imported through one are listed by the other;
- a send job whose process is SIGKILLed is finished by the other, and every recipient gets
  exactly one message (the dry-run outbox: one ``.eml`` per recipient across both data dirs);
- no job is kept in a SQLite file.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

import httpx
import psycopg
import pytest

from sheets.postgres import PostgresStore
from tests.emulators.serve import wait_until
from tests.helpers_send_crash import add_rows
from tests.hub_processes import SECRET_KEY, HubProcess, pg_env
from webhooks.make import make_webhook_url

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def two_hubs(postgres_dsn, tmp_path):
    """``hub serve`` twice: what two machines behind one load balancer run."""
    first = HubProcess(["serve"], pg_env(postgres_dsn, tmp_path / "a" / "hub-data"), name="a")
    second = HubProcess(["serve"], pg_env(postgres_dsn, tmp_path / "b" / "hub-data"), name="b")
    with first, second:
        yield first, second


def webhook(hub: HubProcess, action: str) -> str:
    return make_webhook_url(hub.url, action, [SECRET_KEY])


def job_ids(hub: HubProcess, job_type: str | None = None) -> set[str]:
    params = {"limit": 1000, **({"job_type": job_type} if job_type else {})}
    response = hub.api("GET", "/api/jobs", params=params)
    assert response.status_code == 200, response.text
    return {job["job_id"] for job in response.json()["jobs"]}


def job_status(hub: HubProcess, job_id: str) -> dict:
    response = hub.api("GET", f"/api/jobs/{job_id}/status")
    assert response.status_code == 200, response.text
    return response.json()


def assert_no_sqlite_state(*hubs: HubProcess) -> None:
    """Every durable thing is in PostgreSQL: no SQLite file in any data dir."""
    for hub in hubs:
        files = sorted(p.name for p in hub.data_dir.rglob("*.sqlite3*"))
        assert files == [], f"{hub.name} keeps SQLite files: {files}"


def db_count(dsn: str, sql: str, *params: object) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchone()[0]


async def post_all(requests: list[tuple[str, bytes, dict[str, str]]]) -> list[httpx.Response]:
    """All at once, released together: the races the database has to settle."""
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        start = asyncio.Event()

        async def one(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            await start.wait()
            return await client.post(url, content=body, headers=headers)

        tasks = [asyncio.create_task(one(*r)) for r in requests]
        start.set()
        return await asyncio.gather(*tasks)


JSON = {"content-type": "application/json"}
LISTENING = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND query ILIKE 'LISTEN%%'"
)


def test_one_delivery_sent_to_both_makes_one_job(two_hubs, postgres_dsn):
    a, b = two_hubs
    body = json.dumps({"max_prospects": 3}).encode()
    headers = {**JSON, "webhook-id": "msg_sent_to_both"}

    first = httpx.post(webhook(a, "score"), content=body, headers=headers, timeout=30)
    again = httpx.post(webhook(b, "score"), content=body, headers=headers, timeout=30)

    assert (first.status_code, again.status_code) == (202, 200), (first.text, again.text)
    assert again.json()["duplicate"] is True
    assert first.json()["job_id"] == again.json()["job_id"]
    assert db_count(postgres_dsn, "SELECT count(*) FROM inbox") == 1
    made = {first.json()["job_id"]}
    assert job_ids(a, "score") == job_ids(b, "score") == made


def test_fifty_identical_deliveries_over_two_serve_processes_make_one_job(two_hubs, postgres_dsn):
    a, b = two_hubs
    body = json.dumps({"max_prospects": 5}).encode()
    requests = [(webhook((a, b)[i % 2], "score"), body, JSON) for i in range(50)]

    results = asyncio.run(post_all(requests))

    assert sorted(r.status_code for r in results) == [200] * 49 + [202]
    assert len({r.json()["job_id"] for r in results}) == 1
    assert {r.json()["job_id"] for r in results} == job_ids(a, "score") == job_ids(b, "score")
    assert db_count(postgres_dsn, "SELECT count(*) FROM inbox") == 1
    # The delivery log is written behind the answers (batched): wait for all 50 lines.
    wait_until(
        lambda: db_count(postgres_dsn, "SELECT count(*) FROM deliveries") >= 50,
        what="the 50 deliveries to be logged",
    )
    with psycopg.connect(postgres_dsn) as conn:
        verdicts = Counter(v for (v,) in conn.execute("SELECT verdict FROM deliveries"))
    assert verdicts == {"accepted": 1, "duplicate": 49}


def test_hundred_distinct_deliveries_over_both_make_hundred_jobs_visible_from_either(
    two_hubs, postgres_dsn
):
    a, b = two_hubs
    requests = [
        (webhook((a, b)[i % 2], "score"), json.dumps({"max_prospects": i + 1}).encode(), JSON)
        for i in range(100)
    ]

    results = asyncio.run(post_all(requests))

    assert [r.status_code for r in results] == [202] * 100
    made = {r.json()["job_id"] for r in results}
    assert len(made) == 100
    assert job_ids(a, "score") == job_ids(b, "score") == made
    wait_until(
        lambda: (
            db_count(
                postgres_dsn,
                "SELECT count(*) FROM jobs WHERE job_type = 'score' AND status = 'completed'",
            )
            >= 100
        ),
        timeout=120,
        interval=0.2,
        what="the 100 score jobs to complete",
    )
    # Either process tells the same status of a job, whichever accepted or ran it.
    for job_id in sorted(made):
        seen_by_a, seen_by_b = job_status(a, job_id), job_status(b, job_id)
        assert seen_by_a == seen_by_b and seen_by_a["status"] == "completed"
    assert_no_sqlite_state(a, b)


def test_rows_imported_through_one_are_listed_by_the_other(two_hubs):
    a, b = two_hubs
    rows = [{"domain": f"gallery{i}.example", "page_title": f"Gallery {i}"} for i in range(12)]

    accepted = httpx.post(
        webhook(a, "import_rows"), content=json.dumps({"rows": rows}), headers=JSON, timeout=30
    )
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]
    wait_until(
        lambda: job_status(b, job_id)["status"] == "completed",
        timeout=60,
        what="the import to complete (seen from the other process)",
    )

    listed = b.api("GET", "/api/prospects", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    domains = sorted(p["domain"] for p in listed.json()["prospects"])
    assert domains == sorted(r["domain"] for r in rows)
    assert_no_sqlite_state(a, b)


# --- a send job whose process is SIGKILLed ------------------------------------------------------
SEND_ROWS = 60
SEND_ENV = {
    "HUB_SENDER_NAME": "Ada Artist",
    "HUB_SENDER_ADDRESS": "Studio 4, 1 Canal Street, Manchester M1 3HE, UK",
    "HUB_PUBLIC_URL": "https://hub.artist.example",
    "HUB_SEND_GAP_SECONDS": "0.1",  # a job that lasts a few seconds: time to kill it midway
    "HUB_DAILY_CAP": "1000",
    "HUB_PER_DOMAIN_DAILY_CAP": "1000",
}


def outbox_recipients(hub: HubProcess) -> list[str]:
    folder = hub.data_dir / "outbox"
    if not folder.exists():
        return []
    return [
        parseaddr(str(message_from_bytes(path.read_bytes())["To"]))[1].lower()
        for path in sorted(folder.glob("*.eml"))
        if not path.name.startswith(".")  # a write in progress (or cut short by the kill)
    ]


def writer_of_running_slice(dsn: str, job_id: str, hubs) -> HubProcess | None:
    """The process holding the lease (``host:pid:nonce``) of the send's running slice."""
    with psycopg.connect(dsn) as conn:
        owners = conn.execute(
            "SELECT lease_owner FROM jobs WHERE parent_id = %s AND status = 'running'",
            (job_id,),
        ).fetchall()
    pids = {int(owner.split(":")[1]) for (owner,) in owners if owner}
    held = [hub for hub in hubs if hub.proc.pid in pids]
    return held[0] if len(held) == 1 else None


def test_a_killed_send_job_is_finished_by_the_other_process_one_message_each(
    postgres_dsn, tmp_path
):
    store = PostgresStore(postgres_dsn)
    try:
        store.ensure_schema()
        hub_ids = add_rows(store, SEND_ROWS)
    finally:
        store.close()
    expected = sorted(f"editor{i}@gallery{i}.example" for i in range(SEND_ROWS))
    a = HubProcess(
        ["serve"], pg_env(postgres_dsn, tmp_path / "a" / "hub-data", **SEND_ENV), name="a"
    )
    b = HubProcess(
        ["serve"], pg_env(postgres_dsn, tmp_path / "b" / "hub-data", **SEND_ENV), name="b"
    )
    with a, b:
        submitted = a.api("POST", "/api/jobs/send")
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["job_id"]
        wait_until(
            lambda: len(outbox_recipients(a) + outbox_recipients(b)) >= 10,
            timeout=60,
            what="10 messages sent",
        )
        # Kill the process writing the messages: the holder of the running slice of the send
        # (a dry-run send runs in slices of 100 rows; here one). The other must finish it.
        holder = wait_until(
            lambda: writer_of_running_slice(postgres_dsn, job_id, (a, b)),
            what="the send's running slice",
        )
        other = b if holder is a else a
        holder.kill()
        sent_before = outbox_recipients(holder)
        assert 10 <= len(sent_before) < SEND_ROWS, "the job finished before the kill"

        final = wait_until(
            lambda: (s := job_status(other, job_id))["status"] in ("completed", "failed") and s,
            timeout=120,
            interval=0.1,
            what="the other process to finish the killed send job",
        )
        assert final["status"] == "completed", final
        sent_after = outbox_recipients(other)
        assert sent_after, f"{other.name} sent nothing: the job was not taken over"
        assert outbox_recipients(holder) == sent_before  # the dead process sent no more
        assert sorted(sent_before + sent_after) == expected  # each recipient exactly once
        # A dry run leaves the rows drafted, each holding the name of its one preview file.
        store = PostgresStore(postgres_dsn)
        try:
            rows = [store.get(h) for h in hub_ids]
        finally:
            store.close()
        assert Counter(r["outreach_status"] for r in rows) == {"drafted": SEND_ROWS}
        files = {f.name for hub in (a, b) for f in (hub.data_dir / "outbox").glob("h_*.eml")}
        held = [r.get("hold_reason", "") for r in rows]
        assert all(h.startswith("DRY_RUN ") for h in held), held
        assert {h.split()[-1].rsplit("/", 1)[-1] for h in held} == files
        assert_no_sqlite_state(a, b)


def test_a_process_refuses_to_start_without_explicit_keys(postgres_dsn, tmp_path):
    env = pg_env(postgres_dsn, tmp_path / "hub-data")
    del env["HUB_SECRET_KEYS"], env["HUB_API_KEYS"]
    hub = HubProcess(["serve"], env, name="keyless")
    with pytest.raises(RuntimeError) as refused:
        hub.start(timeout=30)
    assert "HUB_SECRET_KEYS" in str(refused.value) and "HUB_API_KEYS" in str(refused.value)
    assert not Path(env["HUB_DATA_DIR"], "secret_key").exists()


def test_edges_without_workers_queue_and_a_worker_runs_what_both_accepted(postgres_dsn, tmp_path):
    """`hub serve --no-worker` x2 take the deliveries; `hub worker` runs the jobs."""
    edges = [
        HubProcess(
            ["serve", "--no-worker"], pg_env(postgres_dsn, tmp_path / n / "hub-data"), name=n
        )
        for n in ("edge1", "edge2")
    ]
    worker = HubProcess(["worker"], pg_env(postgres_dsn, tmp_path / "w" / "hub-data"), name="w")
    with edges[0], edges[1]:
        first = edges[0].api("POST", "/api/jobs/score")
        assert first.status_code == 202, first.text
        requests = [
            (webhook(edges[i % 2], "score"), json.dumps({"max_prospects": i + 1}).encode(), JSON)
            for i in range(40)
        ]
        results = asyncio.run(post_all(requests))
        assert [r.status_code for r in results] == [202] * 40
        made = {r.json()["job_id"] for r in results} | {first.json()["job_id"]}
        # The first job had the whole burst's time to be picked up: no edge runs jobs.
        assert job_status(edges[1], first.json()["job_id"])["status"] == "pending"
        # ... nor listens for wake-ups: each group commit's NOTIFY would wake every edge.
        assert db_count(postgres_dsn, LISTENING) == 0
        with worker:
            wait_until(lambda: db_count(postgres_dsn, LISTENING) == 1, what="the worker listening")
            wait_until(
                lambda: all(job_status(edges[0], j)["status"] == "completed" for j in sorted(made)),
                timeout=120,
                interval=0.2,
                what="the worker to run every job both edges accepted",
            )
            assert worker.alive()
        assert job_ids(edges[1], "score") == made
    assert_no_sqlite_state(*edges, worker)
