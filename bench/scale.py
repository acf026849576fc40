"""Bench: a big store — peak memory and time to load, select a stage's rows, write one chunk.

    .venv/bin/python bench/scale.py [--sizes 10000,50000,200000] [--backends local,sheet,postgres]

For each backend (the local SQLite store; the Google Sheet store through real gspread against
the Sheets emulator; the local store on PostgreSQL, a throwaway cluster started for the bench
from Debian's package) and each size, a fresh subprocess opens the store and makes the calls the
stages make: load (``rows()``: check_replies, the send runner, /api/stats), select (the enrich
stage's ``select(is_eligible)``: a quarter of the rows are pending), write one chunk (``update``
of HUB_SHEETS_CHUNK_ROWS = 500 rows, two columns each), ``get`` of the last row (a webhook or an
unsubscribe) and ``count_by_status``. It reports its own peak RSS: Linux's ``VmHWM``, the
high-water mark of the process (see ``common.peak_rss_mb``). The emulated sheet is served by
ANOTHER process, so its memory is not counted.

The rows carry what the hub writes: ``created_at`` from one discovery batch per 1,000 rows and,
on the sheet, ``updated_at`` from one written chunk per 500 rows (the local store stamps each
append call of 20,000 rows itself).

Goal: peak RSS <= 400 MB at 200,000 rows, and growth from 10k to 200k that is linear (the
printed "per 10k rows" columns should stay flat), not worse. The last line prints the worst
backend's peak RSS at the largest size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Row, machine_note, peak_rss_mb, run_as_script

BENCH = "scale"
CHUNK = 500
GOAL_MB = 400
STATUSES = ("pending", "enriched", "drafted", "sent")


def prospect(i: int) -> dict[str, str]:
    status = STATUSES[i % 4]
    row = {
        "hub_id": f"h{i:07d}",
        "domain": f"gallery{i:07d}.example",
        "page_url": f"https://gallery{i:07d}.example/about/contemporary-prints",
        "page_title": f"Gallery {i} - contemporary prints and paintings",
        "snippet": "Contemporary painting and print, new artists every month, open daily.",
        "keyword": "contemporary art gallery",
        "serp_rank": str(1 + i % 10),
        "outreach_status": status,
        "created_at": f"2026-03-02T{9 + i // 60_000:02d}:{i // 1000 % 60:02d}:00Z",
        "updated_at": f"2026-03-03T{9 + i // 30_000:02d}:{i // 500 % 60:02d}:00Z",
    }
    if status != "pending":
        row |= {
            "contact_email": f"editor@gallery{i:07d}.example",
            "contact_name": "Dana Reyes",
            "email_confidence": "91",
            "score": "72",
        }
    if status in ("drafted", "sent"):
        row |= {
            "draft_subject": f"Your spring show at gallery {i}",
            "draft_body": "Hello Dana,\n\nI loved the spring show and wanted to say so.\n\nAda",
        }
    return row


# --- the measured child ---------------------------------------------------------------------
def child(backend: str, path: str) -> None:
    baseline = peak_rss_mb()
    from hub.config import Settings
    from hub.stages.enrich import is_eligible

    if backend == "local":
        from sheets.local import LocalStore

        store = LocalStore(path)
    elif backend == "postgres":
        from sheets.postgres import PostgresStore

        store = PostgresStore(path)  # the path is the database's DSN
    else:
        from sheets.google import GoogleSheetStore

        store = GoogleSheetStore.from_settings(Settings(_env_file=None))
    after_import = peak_rss_mb()
    started = time.perf_counter()
    rows = store.rows()
    load = time.perf_counter() - started
    count = len(rows)
    del rows
    started = time.perf_counter()
    picked = store.select(is_eligible)
    select = time.perf_counter() - started
    eligible = len(picked)
    ids = [r["hub_id"] for r in picked[:CHUNK]]
    del picked
    started = time.perf_counter()
    report = store.update({i: {"score": "80", "score_reasons": "bench"} for i in ids})
    write = time.perf_counter() - started
    started = time.perf_counter()
    last = store.get(f"h{count - 1:07d}")
    get = time.perf_counter() - started
    started = time.perf_counter()
    counts = store.count_by_status()
    count_s = time.perf_counter() - started
    store.close()
    assert last is not None and sum(counts.values()) == count, (last, counts)
    print(
        json.dumps(
            {
                "rows": count,
                "eligible": eligible,
                "written": len(report.written),
                "load_s": load,
                "select_s": select,
                "write_s": write,
                "get_s": get,
                "count_s": count_s,
                "peak_mb": peak_rss_mb(),
                "start_mb": baseline,
                "imported_mb": after_import,
            }
        )
    )


def measure(backend: str, path: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", backend, path],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        cwd=tempfile.gettempdir(),  # no developer .env is read
    )
    if done.returncode != 0:
        raise RuntimeError(f"{backend} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the stores -------------------------------------------------------------------------------
def local_store(tmp: Path, n: int) -> tuple[str, dict[str, str]]:
    from sheets.local import LocalStore

    path = tmp / f"local-{n}.sqlite3"
    store = LocalStore(path)
    store.ensure_schema()
    for start in range(0, n, 20_000):
        store.append(
            [prospect(i) for i in range(start, min(n, start + 20_000))], dedupe_by_domain=False
        )
    store.close()
    return str(path), {}


def postgres_store(cluster, n: int) -> tuple[str, dict[str, str]]:
    from sheets.postgres import PostgresStore

    dsn = cluster.create_database(f"scale_{n}")
    store = PostgresStore(dsn)
    store.ensure_schema()
    for start in range(0, n, 20_000):
        store.append(
            [prospect(i) for i in range(start, min(n, start + 20_000))], dedupe_by_domain=False
        )
    store.close()
    return dsn, {}


def serve_sheet(n: int, data_dir: str, conn) -> None:
    """The OAuth + Sheets emulators with an n-row sheet, in this (spawned) process."""
    from sheets.columns import HUB_COLUMNS
    from tests.store_contract import google_sheet_env

    header = list(HUB_COLUMNS)
    grid = [header] + [[prospect(i).get(c, "") for c in header] for i in range(n)]
    with google_sheet_env(Path(data_dir), grid=grid, cols=len(header)) as env:
        del grid
        conn.send(env.env())
        conn.recv()  # wait until the parent is done


@contextlib.contextmanager
def sheet_store(tmp: Path, n: int):
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=serve_sheet, args=(n, str(tmp / f"sheet-{n}"), theirs), daemon=True
    )
    process.start()
    try:
        if not ours.poll(300):
            raise RuntimeError("the Sheets emulator process did not start")
        yield "", ours.recv()
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        process.join(30)
        if process.is_alive():
            process.terminate()


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--backends", default="local,sheet,postgres")
    parser.add_argument("--child", nargs=2, metavar=("BACKEND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return []
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {machine_note()}")
    print(
        f"{'backend':7} {'rows':>7} {'load s':>7} {'select s':>8} {'write s':>7} {'get s':>6} "
        f"{'count s':>7} {'peak MB':>7} {'MB/10k':>7} {'load s/10k':>10}  (RSS after imports)"
    )
    out: list[Row] = []
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, contextlib.ExitStack() as stack:
        for backend in args.backends.split(","):
            results = []
            cluster = None
            if backend == "postgres":
                from tests.postgres_cluster import running_cluster, skip_reason

                if skip_reason():
                    print(f"postgres: skipped, {skip_reason()}")
                    continue
                cluster = stack.enter_context(running_cluster(durable=True))
            for n in sizes:
                if backend == "sheet":
                    maker = sheet_store(Path(tmp), n)
                elif cluster is not None:
                    maker = contextlib.nullcontext(postgres_store(cluster, n))
                else:
                    maker = contextlib.nullcontext(local_store(Path(tmp), n))
                with maker as (path, env):
                    r = measure(backend, path, env)
                results.append(r)
                grown = (r["peak_mb"] - r["imported_mb"]) / (n / 10_000)
                print(
                    f"{backend:7} {n:7d} {r['load_s']:7.2f} {r['select_s']:8.2f} "
                    f"{r['write_s']:7.2f} {r['get_s']:6.2f} {r['count_s']:7.2f} "
                    f"{r['peak_mb']:7.0f} {grown:7.1f} "
                    f"{r['load_s'] / (n / 10_000):10.3f}  ({r['imported_mb']:.0f} MB)",
                    flush=True,
                )
                assert r["rows"] == n and r["written"] == min(CHUNK, r["eligible"]), r
            first, last = results[0], results[-1]
            factor = sizes[-1] / sizes[0]
            growth = (last["peak_mb"] - last["imported_mb"]) / max(
                first["peak_mb"] - first["imported_mb"], 1
            )
            time_growth = last["load_s"] / max(first["load_s"], 1e-6)
            out += [
                Row(
                    BENCH,
                    f"{backend}: peak RSS at {sizes[-1]:,} rows",
                    f"{last['peak_mb']:.0f} MB",
                    f"<= {GOAL_MB} MB",
                    last["peak_mb"] <= GOAL_MB,
                ),
                Row(
                    BENCH,
                    f"{backend}: load / select / write / get / count at {sizes[-1]:,}",
                    f"{last['load_s']:.2f} / {last['select_s']:.2f} / {last['write_s']:.2f}"
                    f" / {last['get_s']:.2f} / {last['count_s']:.2f} s",
                ),
                Row(
                    BENCH,
                    f"{backend}: growth {sizes[0] // 1000}k->{sizes[-1] // 1000}k (x{factor:.0f})",
                    f"memory x{growth:.1f}, load time x{time_growth:.1f}",
                    f"<= x{factor * 1.25:.0f} (linear)",
                    growth <= factor * 1.25 and time_growth <= factor * 1.25,
                ),
            ]
    worst = max((r for r in out if "peak RSS" in r.measure), key=lambda r: float(r.value[:-3]))
    print(f"worst peak RSS at {sizes[-1]:,} rows: {worst.value} ({worst.measure.split(':')[0]})")
    return out


if __name__ == "__main__":
    run_as_script(main)
