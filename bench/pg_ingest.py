"""Bench: webhook ingest on PostgreSQL by 1, 2 and 3 ``hub serve --no-worker`` edges, each in its
own cgroup with an equal CPU quota, in paired alternating rounds.

    .venv/bin/python bench/pg_ingest.py                  # 5 rounds of 10 s runs (~10 min)
    .venv/bin/python bench/pg_ingest.py --quick          # a smoke run: 2 rounds of 2 s runs
    .venv/bin/python bench/pg_ingest.py --rounds 7 --seconds 15 --connections 32
    .venv/bin/python bench/pg_ingest.py --no-cgroups     # uncapped (what the machine does)

The load is bench/webhook_ingest.py's: every request a NEW signed ``row_changed`` delivery
(verified, persisted in the inbox with its job, answered 202), from one wrk per edge. Every run
gets a fresh database on one PostgreSQL started for the bench (Debian's package, durable: fsync
on, as in production) and its own edges.

Set-ups, per round (the order reverses every other round, so drift over time hits both sides
of each ratio alike):

- **1 edge uncapped**, 64 connections: the p99 goal (<= 50 ms) and the database's CPU per
  delivery (goal <= 0.08 ms) of one edge as it runs in production;
- **1 edge at quota q2** (0.4 CPU), C connections, then **2 edges at q2 each**: with C
  connections each ("equal"), and with the same C split between them ("split", one pool
  behind one load balancer);
- **1 edge at quota q3** (0.25 CPU), then **3 edges at q3 each**, equal and split.

Each ratio is N edges / the 1 edge of the same quota in the same round; printed as the median
over rounds with its range. Also per set-up: req/s, p99 (with several edges the worst of their
wrk runs: an upper bound of the p99 of all requests), CPU per request at the edges and at
PostgreSQL (cgroup cpuacct: the edges' groups, and a group holding the postmaster and every
backend it forks, so backends that come and go are counted), how often the quota stopped an
edge (it was the limit), and how many full-core edges one database core carries (edge CPU per
request / PostgreSQL CPU per request). After every run: every 2xx has its inbox row and its job.

Why it is fair, and what it cannot show: BENCHMARKS.md §9.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cgroups import CpuGroup, CpuGroups
from common import (
    Row,
    WrkResult,
    base_env,
    free_port,
    hub_executable,
    machine_note,
    process_tree,
    require_wrk,
    run_as_script,
    run_wrk,
    spread,
    wait_until,
)
from webhook_ingest import LUA, POOL_PER_SECOND, SECRET_KEY, write_requests

BENCH = "webhook ingest on PostgreSQL"
API_KEY = "bench-api-key"
GOALS = {  # issue 23, "Done when": medians over rounds with equal quotas
    "2 edges, equal": 1.9,
    "3 edges, equal": 2.8,
    "2 edges, split": 1.8,
}
P99_GOAL_MS, PG_CPU_GOAL_MS = 50.0, 0.08


@dataclass(frozen=True)
class Setup:
    name: str
    edges: int
    connections: int  # per edge
    quota: float | None  # CPUs per edge; None: uncapped
    base: str | None = None  # the set-up this one is a ratio of

    @property
    def tag(self) -> str:
        return "".join(c for c in self.name if c.isalnum())[:12]


@dataclass
class Run:
    result: WrkResult
    edge_cpu: float  # seconds, all edges
    pg_cpu: float
    wrk_cpu: float
    throttled: int  # quota periods in which an edge was stopped
    inbox: int
    jobs: int

    @property
    def accepted(self) -> int:
        return self.result.requests - self.result.non_2xx

    @property
    def complete(self) -> bool:
        """Every 2xx has its inbox row and its job (requests in flight at wrk's end may be
        stored without being counted: more rows than 2xx is fine, fewer is not)."""
        return self.inbox >= self.accepted and self.jobs == self.inbox

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(self.result.requests, 1)


@dataclass
class Results:
    runs: dict[str, list[Run]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)


def setups(connections: int, q2: float, q3: float) -> list[Setup]:
    split2, split3 = max(connections // 2, 1), max(connections // 3, 1)
    return [
        Setup("1 edge uncapped", 1, 64, None),
        Setup(f"1 edge at {q2:g}", 1, connections, q2),
        Setup("2 edges, equal", 2, connections, q2, base=f"1 edge at {q2:g}"),
        Setup("2 edges, split", 2, split2, q2, base=f"1 edge at {q2:g}"),
        Setup(f"1 edge at {q3:g}", 1, connections, q3),
        Setup("3 edges, equal", 3, connections, q3, base=f"1 edge at {q3:g}"),
        Setup("3 edges, split", 3, split3, q3, base=f"1 edge at {q3:g}"),
    ]


def hub_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return base_env(
        HUB_DATA_DIR=str(data_dir),
        HUB_SECRET_KEYS=SECRET_KEY,
        HUB_REQUIRE_SIGNATURE="true",
        HUB_TICK_MINUTES="0",
        HUB_LOG_LEVEL="info",
        **extra,
    )


@contextlib.contextmanager
def edges_running(count: int, dsn: str, work: Path, tag: str) -> Iterator[list[tuple[str, int]]]:
    """``count`` edges started at once, uncapped (start-up is not measured; the caller moves
    them into their groups before the load); yields (url, pid) of each once all answer."""
    procs: list[tuple[subprocess.Popen, str, Path]] = []
    try:
        for e in range(count):
            port = free_port()
            log = work / f"{tag}-edge{e}.log"
            env = hub_env(work / f"{tag}-edge{e}", HUB_DATABASE_URL=dsn, HUB_API_KEYS=API_KEY)
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [*hub_executable(), "serve", "--no-worker", "--port", str(port)],
                    env=env,
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, f"http://127.0.0.1:{port}", log))
        for proc, url, log in procs:
            wait_until(
                lambda proc=proc, url=url, log=log: _answers(proc, url, log),
                timeout=90,
                interval=0.05,
                what=f"{url}/healthz",
            )
        yield [(url, proc.pid) for proc, url, _ in procs]
    finally:
        for proc, _, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _, _ in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _answers(proc: subprocess.Popen, url: str, log: Path) -> bool:
    import httpx

    if proc.poll() is not None:
        raise RuntimeError(f"an edge exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def load(url: str, work: Path, tag: str, connections: int, seconds: int, wrk: CpuGroup):
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
            prefix=wrk.wrap([]),
        )
    finally:
        requests.unlink()


_COUNTS = (
    "SELECT (SELECT COUNT(*) FROM inbox WHERE dedupe_key LIKE %s),"
    " (SELECT COUNT(*) FROM jobs WHERE id IN (SELECT job_id FROM inbox WHERE dedupe_key LIKE %s))"
)


def one_run(
    cluster, groups: CpuGroups, pg: CpuGroup, work: Path, setup: Setup, n: int, seconds: int
) -> Run:
    import psycopg

    dsn = cluster.create_database()
    tag = f"{setup.tag}r{n}"
    try:
        with edges_running(setup.edges, dsn, work, tag) as edges:
            edge_groups = []
            for e, (_, pid) in enumerate(edges):
                group = groups.group(f"{tag}-edge{e}", setup.quota)
                group.adopt(process_tree(pid))
                edge_groups.append(group)
            wrk = groups.group(f"{tag}-wrk")
            results: list[WrkResult | BaseException] = [RuntimeError("not run")] * setup.edges

            def drive(e: int) -> None:
                try:
                    results[e] = load(
                        edges[e][0], work, f"{tag}e{e}", setup.connections, seconds, wrk
                    )
                except BaseException as exc:  # raised below, in the main thread
                    results[e] = exc

            pg.adopt(process_tree(cluster.postmaster_pid()))  # backends forked since the last run
            before = [g.usage_seconds() for g in edge_groups], pg.usage_seconds()
            threads = [threading.Thread(target=drive, args=(e,)) for e in range(setup.edges)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            edge_cpu = sum(g.usage_seconds() for g in edge_groups) - sum(before[0])
            pg_cpu = pg.usage_seconds() - before[1]
            throttled = sum(g.throttled()[0] for g in edge_groups)
            wrk_cpu = wrk.usage_seconds()
        for group in [*edge_groups, wrk]:  # the edges have stopped: their groups go now
            groups.drop(group)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        with psycopg.connect(dsn) as conn:
            inbox, jobs = conn.execute(_COUNTS, (f"make:wh:msg_{tag}e%",) * 2).fetchone()
    finally:
        cluster.drop_database(dsn.rsplit("/", 1)[1])
    return Run(combine(results), edge_cpu, pg_cpu, wrk_cpu, throttled, inbox, jobs)  # type: ignore[arg-type]


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


def describe(setup: Setup, run: Run) -> str:
    verdict = "ok" if run.complete else "MISSING ROWS"
    return (
        f"{run.result.summary()}\n      CPU per request: edges {run.per_request_ms(run.edge_cpu):.3f} ms,"
        f" PostgreSQL {run.per_request_ms(run.pg_cpu):.3f} ms, wrk "
        f"{run.per_request_ms(run.wrk_cpu):.3f} ms; quota stopped the edges in "
        f"{run.throttled} periods; {run.inbox} inbox rows, {run.jobs} jobs for "
        f"{run.accepted} answered 2xx ({verdict})"
    )


def measure(args: argparse.Namespace, groups: CpuGroups) -> Results:
    from tests.postgres_cluster import running_cluster

    plan = setups(args.connections, args.quota2, args.quota3)
    found = Results({s.name: [] for s in plan}, {s.name: [] for s in plan if s.base})
    with (
        tempfile.TemporaryDirectory(prefix="bench-pg-ingest-") as tmp,
        running_cluster(durable=True) as cluster,
    ):
        pg = groups.group("postgres")  # accounting only: PostgreSQL runs outside the quotas
        for n in range(args.rounds):
            order = plan if n % 2 == 0 else list(reversed(plan))
            this_round: dict[str, Run] = {}
            for setup in order:
                run = one_run(cluster, groups, pg, Path(tmp), setup, n, args.seconds)
                this_round[setup.name] = run
                found.runs[setup.name].append(run)
                print(f"  round {n + 1} {setup.name:17} {describe(setup, run)}", flush=True)
            for setup in plan:
                if setup.base:
                    base = this_round[setup.base].result.per_second
                    found.ratios[setup.name].append(
                        this_round[setup.name].result.per_second / max(base, 1e-9)
                    )
    return found


def report(args: argparse.Namespace, groups: CpuGroups, found: Results) -> list[Row]:
    rows: list[Row] = []
    capped = groups.capped
    for name, runs in found.runs.items():
        rate = spread([r.result.per_second for r in runs], "{:.0f}")
        p99 = spread([r.result.p99_ms for r in runs], "{:.1f}")
        edge = spread([r.per_request_ms(r.edge_cpu) for r in runs], "{:.3f}")
        db = spread([r.per_request_ms(r.pg_cpu) for r in runs], "{:.3f}")
        per_core = statistics.median(r.edge_cpu / max(r.pg_cpu, 1e-9) for r in runs)
        print(
            f"{name:17} req/s {rate}; p99 {p99} ms; CPU per request: edges {edge} ms, "
            f"PostgreSQL {db} ms; one database core carries {per_core:.1f} full-core edges"
        )
        rows.append(Row(BENCH, f"{name}: req/s, median (range)", rate))
        if name == "1 edge uncapped":
            p99_median = statistics.median(r.result.p99_ms for r in runs)
            pg_median = statistics.median(r.per_request_ms(r.pg_cpu) for r in runs)
            rows.append(Row(BENCH, f"{name}: p99 at 64 conns, ms", p99, f"<= {P99_GOAL_MS:g} ms",
                            p99_median <= P99_GOAL_MS))  # fmt: skip
            rows.append(Row(BENCH, f"{name}: PostgreSQL CPU per delivery, ms", db,
                            f"<= {PG_CPU_GOAL_MS:g} ms", pg_median <= PG_CPU_GOAL_MS))  # fmt: skip
        else:
            rows.append(Row(BENCH, f"{name}: p99, ms", p99))
            rows.append(Row(BENCH, f"{name}: PostgreSQL CPU per delivery, ms", db))
        rows.append(Row(BENCH, f"{name}: edge CPU per delivery, ms", edge))
        rows.append(Row(BENCH, f"{name}: full-core edges one database core carries",
                        f"{per_core:.1f}"))  # fmt: skip
    for name, ratios in found.ratios.items():
        goal = GOALS.get(name)
        median = statistics.median(ratios)
        label = f"{name} / 1 edge, paired rounds, median (range)"
        met = (median >= goal) if goal is not None and capped else None
        print(f"{label}: {spread(ratios)}" + (f"   (goal >= {goal})" if goal else ""))
        rows.append(Row(BENCH, label, spread(ratios), f">= {goal}" if goal else "", met))
    incomplete = sum(not r.complete for runs in found.runs.values() for r in runs)
    errors = sum(
        r.result.non_2xx + r.result.socket_errors for rs in found.runs.values() for r in rs
    )
    rows.append(Row(BENCH, "runs with a 2xx missing its inbox row or job", str(incomplete), "0",
                    incomplete == 0))  # fmt: skip
    rows.append(Row(BENCH, "non-2xx answers and socket errors, all runs", str(errors)))
    rows.append(Row(BENCH, "CPU quotas", groups.note))
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="load per run")
    parser.add_argument("--connections", type=int, default=64, help="C: wrk connections")
    parser.add_argument("--rounds", type=int, default=5, help="paired rounds (>= 5 to report)")
    parser.add_argument("--quota2", type=float, default=0.4, help="CPUs per edge, 1 vs 2 edges")
    parser.add_argument("--quota3", type=float, default=0.25, help="CPUs per edge, 1 vs 3 edges")
    parser.add_argument("--no-cgroups", action="store_true", help="run uncapped")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds of 2 s, C=16")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.connections = 2, 2, 16
    require_wrk()
    from tests.postgres_cluster import skip_reason

    if skip_reason():
        raise SystemExit(f"{BENCH}: {skip_reason()}")
    # bench/run stops a script with SIGTERM: unwind, so the cgroups are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with CpuGroups.open(enabled=not args.no_cgroups) as groups:
        print(f"machine: {machine_note()}")
        print(f"quotas: {groups.note}")
        print(
            f"{args.rounds} paired rounds; {args.seconds} s of load per run; C = "
            f"{args.connections} connections; quotas {args.quota2:g} (1 vs 2 edges) and "
            f"{args.quota3:g} (1 vs 3 edges)"
        )
        if args.rounds < 5:
            print(f"NOTE: {args.rounds} rounds: a smoke run; report figures from >= 5")
        found = measure(args, groups)
        return report(args, groups, found)


if __name__ == "__main__":
    run_as_script(main)
