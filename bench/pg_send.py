"""Bench: a dry-run send on PostgreSQL by 1 and by 2 ``hub worker`` processes, each in its own
cgroup with an equal CPU quota, gap 0, in paired alternating rounds.

    .venv/bin/python bench/pg_send.py                    # 5 rounds of 1,000 rows
    .venv/bin/python bench/pg_send.py --quick            # a smoke run: 2 rounds of 200 rows
    .venv/bin/python bench/pg_send.py --rows 2000 --quota 0.5 --rounds 7
    .venv/bin/python bench/pg_send.py --no-cgroups       # uncapped (what the machine does)

Each run gets a fresh database on one PostgreSQL started for the bench (durable: fsync on),
``--rows`` approved, drafted rows in the prospect store (PostgreSQL too), and N ``hub worker``
processes with the dry-run outbox mailer (``HUB_SEND_GAP_SECONDS=0``), each started, then moved
into its group (quota ``--quota`` CPUs) before the send. The send job is queued straight into
the database once every worker listens for wake-ups (``LISTEN``, seen in
``pg_stat_activity``); the clock stops when the job is ``completed``. A dry-run send on
PostgreSQL splits into slices any worker runs (hub.stages.slices). Then every recipient must
have exactly one ``.eml`` across the workers' data dirs.

Each round runs 1 worker and 2 workers back to back (the order reverses every other round);
printed: rows/s, the ratio 2 / 1 per round as the median and range (goal >= 1.8), the rows each
worker wrote, CPU per row in the workers and in PostgreSQL (cgroup cpuacct), and how often the
quota stopped a worker. Why it is fair, and what it cannot show: BENCHMARKS.md §9.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cgroups import CpuGroup, CpuGroups
from common import (
    Row,
    base_env,
    hub_executable,
    machine_note,
    process_tree,
    run_as_script,
    spread,
    wait_until,
)

BENCH = "send on PostgreSQL"
API_KEY = "bench-api-key"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789abcdef"
GOAL = 1.8


@dataclass
class Run:
    workers: int
    seconds: float
    shares: list[int]  # messages each worker wrote
    worker_cpu: float
    pg_cpu: float
    throttled: int
    exactly_once: bool

    def per_row_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(sum(self.shares), 1)


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


def one_run(cluster, groups: CpuGroups, pg: CpuGroup, work: Path, args, count: int, n: int) -> Run:
    """The send of ``args.rows`` rows by ``count`` workers: seconds from queueing the job to
    its completion, and what each worker wrote."""
    from hub.state.postgres import PostgresState
    from sheets.postgres import PostgresStore
    from tests.helpers_send_crash import add_rows

    dsn = cluster.create_database()
    tag = f"r{n}w{count}"
    try:
        state = PostgresState(dsn, listen=False)  # applies the hub's schema; queues the job
        store = PostgresStore(dsn)
        try:
            store.ensure_schema()
            add_rows(store, args.rows)
        finally:
            store.close()
        try:
            with workers(count, dsn, work, tag) as (procs, dirs):
                wait_until(
                    lambda: listeners(dsn) >= count or any(p.poll() is not None for p in procs),
                    timeout=90,
                    interval=0.05,
                    what="every worker to listen",
                )
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a worker exited: see {work}/{tag}-worker*.log")
                cpu_groups = []
                for w, proc in enumerate(procs):
                    group = groups.group(f"{tag}-worker{w}", args.quota)
                    group.adopt(process_tree(proc.pid))
                    cpu_groups.append(group)
                pg.adopt(process_tree(cluster.postmaster_pid()))
                before = sum(g.usage_seconds() for g in cpu_groups), pg.usage_seconds()
                started = time.perf_counter()
                job_id = state.insert_job("send", {})
                final = wait_until(
                    lambda: (
                        (j := state.get_job(job_id))["status"]
                        in ("completed", "failed", "cancelled")
                        and j
                    ),
                    timeout=900,
                    interval=0.05,
                    what="the send to finish",
                )
                seconds = time.perf_counter() - started
                worker_cpu = sum(g.usage_seconds() for g in cpu_groups) - before[0]
                pg_cpu = pg.usage_seconds() - before[1]
                throttled = sum(g.throttled()[0] for g in cpu_groups)
                sent = recipients(dirs)
                shares = [sum(recipients([d]).values()) for d in dirs]
            for group in cpu_groups:  # the workers have stopped: their groups go now
                groups.drop(group)
        finally:
            state.close()
    finally:
        cluster.drop_database(dsn.rsplit("/", 1)[1])
    once = final["status"] == "completed" and len(sent) == args.rows and set(sent.values()) == {1}
    return Run(count, seconds, shares, worker_cpu, pg_cpu, throttled, once)


def describe(run: Run, rows: int) -> str:
    return (
        f"{run.seconds:6.2f} s, {rows / run.seconds:7.1f} rows/s; per worker {run.shares}; "
        f"CPU per row: workers {run.per_row_ms(run.worker_cpu):.2f} ms, PostgreSQL "
        f"{run.per_row_ms(run.pg_cpu):.2f} ms; quota stopped the workers in {run.throttled} "
        f"periods; every recipient exactly once: {'yes' if run.exactly_once else 'NO'}"
    )


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (>= 5 to report)")
    parser.add_argument("--quota", type=float, default=0.4, help="CPUs per worker")
    parser.add_argument("--no-cgroups", action="store_true", help="run uncapped")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 200 rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.rounds = 200, 2
    from tests.postgres_cluster import running_cluster, skip_reason

    if skip_reason():
        raise SystemExit(f"{BENCH}: {skip_reason()}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the cgroups go
    runs: dict[int, list[Run]] = {1: [], 2: []}
    ratios: list[float] = []
    with (
        CpuGroups.open(enabled=not args.no_cgroups) as groups,
        tempfile.TemporaryDirectory(prefix="bench-pg-send-") as tmp,
        running_cluster(durable=True) as cluster,
    ):
        print(f"machine: {machine_note()}")
        print(f"quotas: {groups.note}")
        print(f"{args.rounds} paired rounds of {args.rows} rows; {args.quota:g} CPUs per worker")
        if args.rounds < 5:
            print(f"NOTE: {args.rounds} rounds: a smoke run; report figures from >= 5")
        pg = groups.group("postgres")  # accounting only
        for n in range(args.rounds):
            this_round = {}
            for count in (1, 2) if n % 2 == 0 else (2, 1):
                run = one_run(cluster, groups, pg, Path(tmp), args, count, n)
                this_round[count] = run
                runs[count].append(run)
                print(f"  round {n + 1}, {count} worker(s): {describe(run, args.rows)}", flush=True)
            ratios.append(this_round[1].seconds / this_round[2].seconds)
    return report(args, groups, runs, ratios)


def report(args, groups: CpuGroups, runs: dict[int, list[Run]], ratios: list[float]) -> list[Row]:
    rows = []
    for count, found in runs.items():
        rate = spread([args.rows / r.seconds for r in found], "{:.1f}")
        worker = spread([r.per_row_ms(r.worker_cpu) for r in found], "{:.2f}")
        db = spread([r.per_row_ms(r.pg_cpu) for r in found], "{:.2f}")
        label = f"{args.rows} dry-run rows, {count} worker{'s' if count > 1 else ''}"
        print(f"{label}: rows/s {rate}; CPU per row: workers {worker} ms, PostgreSQL {db} ms")
        rows.append(Row(BENCH, f"{label}, rows/s, median (range)", rate))
        rows.append(Row(BENCH, f"{label}, CPU per row: workers / PostgreSQL, ms",
                        f"{worker} / {db}"))  # fmt: skip
    split = ", ".join("+".join(str(s) for s in r.shares) for r in runs[2])
    rows.append(Row(BENCH, "2 workers: messages written by each", split))
    median = statistics.median(ratios)
    print(f"send rows/s, 2 workers / 1 worker, paired rounds: {spread(ratios)}   (goal >= {GOAL})")
    rows.append(Row(BENCH, "2 workers / 1 worker (gap 0), paired rounds, median (range)",
                    spread(ratios), f">= {GOAL}", median >= GOAL if groups.capped else None))  # fmt: skip
    failed = sum(not r.exactly_once for found in runs.values() for r in found)
    rows.append(Row(BENCH, "runs where a recipient did not get exactly one message",
                    str(failed), "0", failed == 0))  # fmt: skip
    rows.append(Row(BENCH, "CPU quotas", groups.note))
    return rows


if __name__ == "__main__":
    run_as_script(main)
