"""Bench: webhook ingest on PostgreSQL with 1 and 2 ``hub serve --no-worker`` processes, side by
side with today's SQLite ``hub serve``.

    .venv/bin/python bench/pg_ingest.py [--seconds 10] [--connections 64] [--rounds 2]

The load is bench/webhook_ingest.py's: every request a NEW signed ``row_changed`` delivery
(verified, persisted in the inbox with its job, answered 202), from wrk with 64 connections.

- **sqlite**: ``hub serve`` on its embedded SQLite state, as today (it runs the queued jobs
  while the load goes on);
- **pg x1**: one ``hub serve --no-worker`` on a PostgreSQL started for the bench (Debian's
  package, durable: fsync on, as in production); it runs no jobs, they queue for workers;
- **pg x2**: two ``hub serve --no-worker`` on one database, each loaded by its own wrk with half
  the connections (a load balancer's job); req/s is the sum, p99 the worse of the two (an upper
  bound of the p99 of all requests).

Nothing is pinned to a CPU (two servers, PostgreSQL and wrk share the machine's cores). Rounds
alternate sqlite / pg x1 / pg x2 and the best round of each is reported. After each round the
inbox and jobs are counted: every 202 must have its inbox row and its job. Also printed: how
busy the whole machine was during each round (when it is full with one process, a second one
cannot add throughput), and the CPU time spent per request by the hub processes and by
PostgreSQL's (which says what a machine with more free cores would carry).

Printed last: pg x2 / pg x1 (goal >= 1.6), with p99 <= 50 ms for each PostgreSQL set-up.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Row,
    WrkResult,
    base_env,
    busy_share,
    cpu_times,
    free_port,
    hub_executable,
    machine_note,
    process_cpu_seconds,
    process_tree,
    require_wrk,
    run_as_script,
    run_wrk,
    subprocess_server,
)
from webhook_ingest import LUA, POOL_PER_SECOND, SECRET_KEY, write_requests

BENCH = "webhook ingest on PostgreSQL"
API_KEY = "bench-api-key"


def load(url: str, work: Path, tag: str, connections: int, seconds: int) -> WrkResult:
    requests = work / f"requests-{tag}.tsv"
    write_requests(requests, POOL_PER_SECOND * seconds, tag)
    try:
        return run_wrk(
            url,
            script=LUA,
            connections=connections,
            seconds=seconds,
            threads=1,
            env={"BENCH_REQUESTS": str(requests), "BENCH_THREADS": "1"},
        )
    finally:
        requests.unlink()


def hub_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return base_env(
        HUB_DATA_DIR=str(data_dir),
        HUB_SECRET_KEYS=SECRET_KEY,
        HUB_REQUIRE_SIGNATURE="true",
        HUB_TICK_MINUTES="0",
        HUB_LOG_LEVEL="info",
        **extra,
    )


def sqlite_round(work: Path, args: argparse.Namespace, n: int) -> tuple[WrkResult, str, float, str]:
    port = free_port()
    data_dir = work / f"sqlite-{n}"
    url = f"http://127.0.0.1:{port}"
    tag = f"sq{n}"
    with subprocess_server(
        [*hub_executable(), "serve", "--port", str(port)],
        env=hub_env(data_dir),
        log_path=work / f"sqlite-{n}.log",
        health_url=url + "/healthz",
        cwd=work,
    ) as proc:
        before, spent = cpu_times(), process_cpu_seconds([proc.pid])
        result = load(url, work, tag, args.connections, args.seconds)
        busy = busy_share(before, cpu_times())
        spent = process_cpu_seconds([proc.pid]) - spent
    db = sqlite3.connect(data_dir / "state.sqlite3")
    try:
        inbox, jobs = db.execute(
            _COUNTS.replace("%s", "?"), (f"make:wh:msg_{tag}_%",) * 2
        ).fetchone()
    finally:
        db.close()
    per_request = f"hub {spent * 1000 / max(result.requests, 1):.2f} ms"
    check = _check(inbox, jobs, result.requests - result.non_2xx, busy, per_request)
    return result, check, busy, per_request


_COUNTS = (
    "SELECT (SELECT COUNT(*) FROM inbox WHERE dedupe_key LIKE %s),"
    " (SELECT COUNT(*) FROM jobs WHERE id IN (SELECT job_id FROM inbox WHERE dedupe_key LIKE %s))"
)


def _check(inbox: int, jobs: int, accepted: int, busy: float, per_request: str) -> str:
    verdict = "ok" if inbox >= accepted and jobs == inbox else "MISSING ROWS"
    return (
        f"{inbox} inbox rows, {jobs} jobs for {accepted} answered 2xx ({verdict}); "
        f"machine CPU busy {busy:.0%} during the load; CPU per request: {per_request}"
    )


def pg_round(
    cluster, work: Path, args: argparse.Namespace, n: int, edges: int
) -> tuple[WrkResult, str, float, str]:
    import contextlib

    import psycopg

    dsn = cluster.create_database()
    urls, pids = [], []
    with contextlib.ExitStack() as stack:
        for e in range(edges):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = hub_env(work / f"pg{edges}-{n}-{e}", HUB_DATABASE_URL=dsn, HUB_API_KEYS=API_KEY)
            proc = stack.enter_context(
                subprocess_server(
                    [*hub_executable(), "serve", "--no-worker", "--port", str(port)],
                    env=env,
                    log_path=work / f"pg{edges}-{n}-{e}.log",
                    health_url=url + "/healthz",
                    cwd=work,
                )
            )
            urls.append(url)
            pids.append(proc.pid)
        results: list[WrkResult | BaseException] = [RuntimeError("not run")] * edges
        share = args.connections // edges

        def one(e: int) -> None:
            try:
                results[e] = load(urls[e], work, f"pg{edges}x{n}e{e}", share, args.seconds)
            except BaseException as exc:  # shown below, in the main thread
                results[e] = exc

        threads = [threading.Thread(target=one, args=(e,)) for e in range(edges)]
        database = process_tree(cluster.postmaster_pid())
        before = cpu_times()
        hub_cpu, db_cpu = process_cpu_seconds(pids), process_cpu_seconds(database)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        busy = busy_share(before, cpu_times())
        hub_cpu = process_cpu_seconds(pids) - hub_cpu
        db_cpu = process_cpu_seconds(database) - db_cpu
    for r in results:
        if isinstance(r, BaseException):
            raise r
    combined = combine(results)  # type: ignore[arg-type]
    with psycopg.connect(dsn) as conn:
        inbox, jobs = conn.execute(_COUNTS, (f"make:wh:msg_pg{edges}x{n}%",) * 2).fetchone()
    cluster.drop_database(dsn.rsplit("/", 1)[1])
    n_req = max(combined.requests, 1)
    per_request = f"hub {hub_cpu * 1000 / n_req:.2f} ms + PostgreSQL {db_cpu * 1000 / n_req:.2f} ms"
    check = _check(inbox, jobs, combined.requests - combined.non_2xx, busy, per_request)
    return combined, check, busy, per_request


def combine(results: list[WrkResult]) -> WrkResult:
    """Concurrent wrk runs as one load: counts and rates add up; p50 is the mean, p99 the worst
    (an upper bound: no more than 1% of either run, so of both, is slower than it)."""
    return WrkResult(
        requests=sum(r.requests for r in results),
        seconds=max(r.seconds for r in results),
        per_second=sum(r.per_second for r in results),
        p50_ms=sum(r.p50_ms for r in results) / len(results),
        p99_ms=max(r.p99_ms for r in results),
        non_2xx=sum(r.non_2xx for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    require_wrk()
    from tests.postgres_cluster import running_cluster, skip_reason

    if skip_reason():
        raise SystemExit(f"{BENCH}: {skip_reason()}")
    print(f"machine: {machine_note()}")
    print(f"wrk: {args.connections} connections in all, {args.seconds} s a round; not pinned")
    runs: dict[str, list[WrkResult]] = {"sqlite": [], "pg x1": [], "pg x2": []}
    busy: dict[str, list[float]] = {name: [] for name in runs}
    cost: dict[str, list[str]] = {name: [] for name in runs}
    with (
        tempfile.TemporaryDirectory(prefix="bench-pg-ingest-") as tmp,
        running_cluster(durable=True) as cluster,
    ):
        work = Path(tmp)
        for n in range(args.rounds):
            for name, run in (
                ("sqlite", lambda n=n: sqlite_round(work, args, n)),
                ("pg x1", lambda n=n: pg_round(cluster, work, args, n, 1)),
                ("pg x2", lambda n=n: pg_round(cluster, work, args, n, 2)),
            ):
                result, check, cpu, per_request = run()
                runs[name].append(result)
                busy[name].append(cpu)
                cost[name].append(per_request)
                print(f"  {name:6} round {n + 1}: {result.summary()}", flush=True)
                print(f"    after the round: {check}", flush=True)
    best = {name: max(results, key=lambda r: r.per_second) for name, results in runs.items()}
    for name, result in best.items():
        print(f"{name:6} (best): {result.summary()}")
    scale = best["pg x2"].per_second / best["pg x1"].per_second
    vs_sqlite = best["pg x1"].per_second / best["sqlite"].per_second
    print(f"pg x1 / sqlite: {vs_sqlite:.2f}")
    print(f"throughput pg x2 / pg x1: {scale:.2f}   (goal >= 1.6)")
    c = args.connections
    rows = [Row(BENCH, f"sqlite hub serve, req/s ({c} conns)", f"{best['sqlite'].per_second:.0f}")]
    rows.append(Row(BENCH, f"sqlite p99 at {c} conns", f"{best['sqlite'].p99_ms:.1f} ms"))
    for name in ("pg x1", "pg x2"):
        result = best[name]
        label = "1 serve --no-worker" if name == "pg x1" else "2 serve --no-worker"
        rows.append(Row(BENCH, f"{label}, req/s", f"{result.per_second:.0f}"))
        rows.append(
            Row(
                BENCH,
                f"{label}, p99 at {c} conns",
                f"{result.p99_ms:.1f} ms",
                "<= 50 ms",
                result.p99_ms <= 50,
            )
        )
    rows.append(Row(BENCH, "pg x1 / sqlite", f"{vs_sqlite:.2f}"))
    shares = " / ".join(f"{min(busy[n]):.0%}-{max(busy[n]):.0%}" for n in runs)
    rows.append(Row(BENCH, "machine CPU busy: sqlite / pg x1 / pg x2", shares))
    for name, results in runs.items():  # CPU per request in each set-up's best round
        best_round = results.index(best[name])
        rows.append(Row(BENCH, f"{name}: CPU per request", cost[name][best_round]))
    rows.append(Row(BENCH, "pg x2 / pg x1", f"{scale:.2f}", ">= 1.6", scale >= 1.6))
    return rows


if __name__ == "__main__":
    run_as_script(main)
