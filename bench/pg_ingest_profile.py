"""Where PostgreSQL's CPU per delivery goes on the ingest path (a diagnostic, not a benchmark:
``bench/run`` does not run it; its shares matter, its absolute figures follow the machine).

    .venv/bin/python bench/pg_ingest_profile.py [--seconds 5] [--connections 64] [--edges 1]

One PostgreSQL (durable, as in production) with ``pg_stat_statements`` and WAL timing on, one
or more ``hub serve --no-worker`` edges, bench/webhook_ingest.py's load (every request a new
signed ``row_changed`` delivery). Around the load it reads, per delivery answered: PostgreSQL's
CPU (cgroup cpuacct of the postmaster and its backends, or /proc where cgroups are not
writable), each statement's calls, execution time, rows and WAL (pg_stat_statements),
transactions committed and WAL flushes (pg_stat_database, pg_stat_wal), and the indexes each
insert maintains. Execution time of statements against the CPU says how much goes to the
protocol, parsing and commits rather than to the statements themselves.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cgroups import CpuGroups
from common import machine_note, process_cpu_seconds, process_tree, require_wrk
from pg_ingest import edges_running, load

PROFILE_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.track_utility": "on",
    "track_wal_io_timing": "on",
    "track_io_timing": "on",
}
TABLES = ("inbox", "jobs", "deliveries")


def snapshot(conn) -> dict[str, float]:
    db = conn.execute(
        "SELECT xact_commit, xact_rollback, tup_inserted, tup_deleted, blks_hit, blks_read "
        "FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    wal = conn.execute(
        "SELECT wal_records, wal_fpi, wal_bytes, wal_write, wal_sync, wal_sync_time "
        "FROM pg_stat_wal"
    ).fetchone()
    names = ("commits", "rollbacks", "tuples inserted", "tuples deleted", "blocks hit",
             "blocks read", "WAL records", "WAL full-page images", "WAL bytes", "WAL writes",
             "WAL flushes (fsync)", "WAL flush ms")  # fmt: skip
    return dict(zip(names, (float(v) for v in (*db, *wal)), strict=True))


def statements(conn) -> list[tuple]:
    return conn.execute(
        "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, total_exec_time, rows, "
        "wal_records, wal_bytes, shared_blks_hit + shared_blks_read, shared_blks_dirtied "
        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) ORDER BY total_exec_time DESC"
    ).fetchall()


def sample_waits(dsn: str, stop: threading.Event, found: Counter) -> None:
    """What the hub's backends are doing, every 5 ms: executing (CPU), or waiting for what
    (``Lock:object`` = the NOTIFY queue's lock, which commits that NOTIFY hold until after their
    WAL flush; ``IO:WALSync`` = a commit's fsync; ``Client:ClientRead`` = idle between round
    trips)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        while not stop.wait(0.005):
            for kind, event in conn.execute(
                "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE datname = "
                "current_database() AND backend_type = 'client backend' AND state <> 'idle' "
                "AND pid <> pg_backend_pid() AND query NOT ILIKE 'LISTEN%%'"
            ):
                found[f"{kind}:{event}" if kind else "on CPU (or runnable)"] += 1


def listener_pids(conn) -> list[int]:
    return [
        pid
        for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query ILIKE 'LISTEN%%'"
        )
    ]


def indexes(conn) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2",
        (list(TABLES),),
    ).fetchall()


def main(argv: list[str] | None = None) -> None:
    import psycopg

    from tests.postgres_cluster import running_cluster, skip_reason

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64, help="per edge")
    parser.add_argument("--edges", type=int, default=1)
    parser.add_argument("--waits", action="store_true", help="sample wait events (costs CPU)")
    args = parser.parse_args(argv)
    require_wrk()
    if skip_reason():
        raise SystemExit(skip_reason())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"machine: {machine_note()}")
    with (
        CpuGroups.open() as groups,
        tempfile.TemporaryDirectory(prefix="bench-pg-profile-") as tmp,
        running_cluster(durable=True, settings=PROFILE_SETTINGS) as cluster,
    ):
        work = Path(tmp)
        dsn = cluster.create_database()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        pg, wrk = groups.group("postgres"), groups.group("wrk")
        with (
            edges_running(args.edges, dsn, work, "profile") as edges,
            psycopg.connect(dsn, autocommit=True) as conn,
        ):
            pg.adopt(process_tree(cluster.postmaster_pid()))
            conn.execute("SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')")
            before = snapshot(conn)
            cpu_before = pg.usage_seconds() or process_cpu_seconds(
                process_tree(cluster.postmaster_pid())
            )
            results: list = [None] * len(edges)

            def drive(e: int) -> None:
                results[e] = load(
                    edges[e][0], work, f"prof{e}", args.connections, args.seconds, wrk
                )

            threads = [threading.Thread(target=drive, args=(e,)) for e in range(len(edges))]
            waits: Counter = Counter()
            stop = threading.Event()
            sampler = threading.Thread(target=sample_waits, args=(dsn, stop, waits))
            listening = listener_pids(conn)
            listen_before = process_cpu_seconds(listening)
            if args.waits:
                sampler.start()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            if args.waits:
                sampler.join()
            listen_cpu = process_cpu_seconds(listening) - listen_before
            cpu = (
                pg.usage_seconds() or process_cpu_seconds(process_tree(cluster.postmaster_pid()))
            ) - cpu_before
            after = snapshot(conn)
            found = statements(conn)
            index_list = indexes(conn)
        requests = sum(r.requests for r in results)
        per = 1 / max(requests, 1)
        print(f"{requests} deliveries answered by {len(edges)} edge(s), "
              f"{sum(r.per_second for r in results):.0f} req/s")  # fmt: skip
        print(f"PostgreSQL CPU per delivery: {cpu * 1000 * per:.3f} ms")
        print(f"  of which the {len(listening)} LISTEN backends (woken by every NOTIFY): "
              f"{listen_cpu * 1000 * per:.3f} ms")  # fmt: skip
        executed = sum(row[2] for row in found)
        print(f"  of which statements executing: {executed * per:.3f} ms "
              f"({executed / max(cpu * 1000, 1e-9):.0%}; the rest: protocol, parse/bind, "
              "commit, WAL writer, autovacuum, ...)")  # fmt: skip
        for name, value in after.items():
            delta = value - before[name]
            print(f"  {name:22} {delta * per:10.3f} per delivery  ({delta:.0f} in all)")
        print(
            "statements, per delivery: calls, execution ms, rows, WAL records, WAL bytes, "
            "buffers touched, buffers dirtied:"
        )
        for query, calls, total, rows, wal_records, wal_bytes, blocks, dirtied in found:
            if calls * per < 0.0005:
                continue
            print(
                f"  {calls * per:7.3f} {total * per:7.4f} ms {rows * per:7.2f} "
                f"{wal_records * per:6.2f} {float(wal_bytes) * per:7.0f} B "
                f"{blocks * per:6.2f} {dirtied * per:6.3f}  {query[:140]}"
            )
        samples = sum(waits.values())
        if args.waits:
            print(f"active hub backends, sampled every 5 ms ({samples} samples; the sampling "
                  "itself costs PostgreSQL CPU, counted above):")  # fmt: skip
        for event, count in waits.most_common(8):
            print(f"  {count / max(samples, 1):6.1%}  {event}")
        print("indexes on the tables each delivery inserts into:")
        for table, definition in index_list:
            print(f"  {table:10} {definition}")


if __name__ == "__main__":
    main()
