"""Bench: a send of 1,000 dry-run rows on PostgreSQL by 1 and by 2 ``hub worker`` processes,
gap 0, side by side in one run.

    .venv/bin/python bench/pg_send.py [--rows 1000] [--rounds 2]

Each round gets a fresh database on a PostgreSQL started for the bench (durable: fsync on),
1,000 approved, drafted rows in the prospect store (PostgreSQL too), one ``hub serve
--no-worker`` edge to submit the job through the REST API, and N ``hub worker`` processes with
the dry-run outbox mailer (``HUB_SEND_GAP_SECONDS=0``). The clock starts when every process is
listening for wake-ups (``LISTEN``, seen in ``pg_stat_activity``) and the send is submitted, and
stops when the job reports ``completed``. Then every recipient must have exactly one ``.eml``
across the workers' data dirs.

Printed last: rows/s with 2 workers / 1 worker (goal >= 1.6).
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Row,
    base_env,
    busy_share,
    cpu_times,
    free_port,
    hub_executable,
    machine_note,
    run_as_script,
    subprocess_server,
    wait_until,
)

BENCH = "send on PostgreSQL"
API_KEY = "bench-api-key"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789abcdef"


def env_for(data_dir: Path, dsn: str) -> dict[str, str]:
    return base_env(
        HUB_DATA_DIR=str(data_dir),
        HUB_DATABASE_URL=dsn,
        HUB_API_KEYS=API_KEY,
        HUB_SECRET_KEYS=SECRET_KEY,
        HUB_TICK_MINUTES="0",
        HUB_LOG_LEVEL="warning",
        HUB_SENDER_NAME="Ada Artist",
        HUB_SENDER_ADDRESS="Studio 4, 1 Canal Street, Manchester M1 3HE, UK",
        HUB_PUBLIC_URL="https://hub.artist.example",
        HUB_SEND_GAP_SECONDS="0",
        HUB_DAILY_CAP="100000",
        HUB_PER_DOMAIN_DAILY_CAP="100000",
    )


def listeners(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND query ILIKE 'LISTEN%%'"
        ).fetchone()[0]


def recipients(data_dirs: list[Path]) -> Counter:
    found: Counter = Counter()
    for data_dir in data_dirs:
        for path in (data_dir / "outbox").glob("*.eml"):
            if not path.name.startswith("."):
                found[parseaddr(str(message_from_bytes(path.read_bytes())["To"]))[1]] += 1
    return found


@contextlib.contextmanager
def workers(count: int, dsn: str, work: Path, tag: str):
    procs, dirs = [], []
    try:
        for w in range(count):
            data_dir = work / f"{tag}-worker{w}"
            data_dir.mkdir(parents=True)
            with open(work / f"{tag}-worker{w}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [*hub_executable(), "worker"],
                        env=env_for(data_dir, dsn),
                        cwd=work,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            dirs.append(data_dir)
        yield procs, dirs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def one_round(cluster, work: Path, rows: int, count: int, n: int) -> tuple[float, list[int]]:
    """Seconds from submitting the send to its completion with ``count`` workers, and the
    messages each worker wrote."""
    import httpx

    from sheets.postgres import PostgresStore
    from tests.helpers_send_crash import add_rows

    dsn = cluster.create_database()
    tag = f"r{n}w{count}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    auth = {"authorization": f"Bearer {API_KEY}"}
    with subprocess_server(  # the edge first: it applies the schema migrations
        [*hub_executable(), "serve", "--no-worker", "--port", str(port)],
        env=env_for(work / f"{tag}-edge", dsn),
        log_path=work / f"{tag}-edge.log",
        health_url=url + "/healthz",
        cwd=work,
    ):
        store = PostgresStore(dsn)
        try:
            store.ensure_schema()
            add_rows(store, rows)
        finally:
            store.close()
        with workers(count, dsn, work, tag) as (procs, dirs):
            wait_until(
                lambda: listeners(dsn) >= count + 1 or any(p.poll() is not None for p in procs),
                timeout=60,
                interval=0.05,
                what="every process to listen",
            )
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited: see {work}/{tag}-worker*.log")
            started, cpu_before = time.perf_counter(), cpu_times()
            submitted = httpx.post(url + "/api/jobs/send", headers=auth, timeout=30)
            submitted.raise_for_status()
            job_id = submitted.json()["job_id"]

            def finished():
                status = httpx.get(f"{url}/api/jobs/{job_id}/status", headers=auth, timeout=30)
                body = status.json()
                return body["status"] in ("completed", "failed", "cancelled") and body

            final = wait_until(finished, timeout=600, interval=0.05, what="the send to finish")
            seconds = time.perf_counter() - started
            busy = busy_share(cpu_before, cpu_times())
            sent = recipients(dirs)
            shares = [sum(recipients([d]).values()) for d in dirs]
    cluster.drop_database(dsn.rsplit("/", 1)[1])
    once = sum(1 for c in sent.values() if c == 1)
    print(
        f"  {count} worker(s), round {n + 1}: {seconds:6.2f} s, {rows / seconds:7.1f} rows/s; "
        f"job {final['status']}, {len(sent)} recipients, {once} exactly once, "
        f"per worker {shares}; machine CPU busy {busy:.0%}",
        flush=True,
    )
    if final["status"] != "completed" or once != rows or len(sent) != rows:
        raise RuntimeError(f"the send did not deliver {rows} messages exactly once: {final}")
    return seconds, shares


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    from tests.postgres_cluster import running_cluster, skip_reason

    if skip_reason():
        raise SystemExit(f"{BENCH}: {skip_reason()}")
    print(f"machine: {machine_note()}")
    times: dict[int, list[float]] = {1: [], 2: []}
    split: list[list[int]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-pg-send-") as tmp,
        running_cluster(durable=True) as cluster,
    ):
        for n in range(args.rounds):
            for count in (1, 2):
                seconds, shares = one_round(cluster, Path(tmp), args.rows, count, n)
                times[count].append(seconds)
                if count == 2:
                    split.append(shares)
    best = {count: args.rows / min(seconds) for count, seconds in times.items()}
    ratio = best[2] / best[1]
    print(f"1 worker (best): {best[1]:.1f} rows/s; 2 workers (best): {best[2]:.1f} rows/s")
    print(f"send rows/s, 2 workers / 1 worker: {ratio:.2f}   (goal >= 1.6)")
    return [
        Row(BENCH, f"{args.rows} dry-run rows, 1 worker, rows/s", f"{best[1]:.1f}"),
        Row(BENCH, f"{args.rows} dry-run rows, 2 workers, rows/s", f"{best[2]:.1f}"),
        Row(BENCH, "2 workers: messages written by each", ", ".join(f"{a}+{b}" for a, b in split)),
        Row(BENCH, "2 workers / 1 worker (gap 0)", f"{ratio:.2f}", ">= 1.6", ratio >= 1.6),
    ]


if __name__ == "__main__":
    run_as_script(main)
